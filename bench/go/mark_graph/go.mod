// The Go twin of bench/mark_scaling.cpp's graph (standard library only), built by bench/CMakeLists.txt.
module tricolor/bench/mark_graph

go 1.19
