module tricolor/bench/memory_limit

go 1.19
