module tricolor/bench/rss_timeline

go 1.19
