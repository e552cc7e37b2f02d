module tricolor/bench/gc_latency

go 1.19
