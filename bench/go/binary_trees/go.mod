// The Go twin of bench/binary_trees.cpp (standard library only), built by bench/CMakeLists.txt.
module tricolor/bench/binary_trees

go 1.19
