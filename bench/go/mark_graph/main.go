// Command mark_graph is the Go twin of bench/mark_scaling.cpp: the same live graph, marked by the
// same number of forced collections, and the same RESULT line, so that bench_mark_scaling can run it
// as the implementation "go". It is built by bench/CMakeLists.txt with the go tool (standard library
// only); GOMAXPROCS is left at its default, the CPUs this process may use.
//
// The graph: a complete binary tree of depth --depth (2^(depth+1)-1 nodes), each node with three
// pointers (left, right, and a cross edge to a node drawn at random with a fixed seed) and one word.
//
// Usage: mark_graph [--depth=N] [--cycles=C]
//
// Output: RESULT impl=go cpus=<n> nodes=<n> collect_median_ms=<m> collect_min_ms=<m> ns_per_object=<x>
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

type node struct {
	left, right, cross *node
	word               uintptr
}

// build makes the tree, appending every node to all in the order it was made.
func build(depth int, all *[]*node) *node {
	n := &node{word: uintptr(len(*all))}
	*all = append(*all, n)
	if depth > 0 {
		n.left = build(depth-1, all)
		n.right = build(depth-1, all)
	}
	return n
}

func count(n *node) int {
	if n == nil {
		return 0
	}
	return 1 + count(n.left) + count(n.right)
}

func main() {
	depth := flag.Int("depth", 21, "tree depth")
	cycles := flag.Int("cycles", 5, "forced collections")
	flag.Parse()
	all := make([]*node, 0, (1<<(*depth+1))-1)
	root := build(*depth, &all)
	// The same generator as the C++ program (xorshift64), so the two graphs are the same shape.
	state := uint64(0x9E3779B97F4A7C15)
	for _, n := range all {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		n.cross = all[state%uint64(len(all))]
	}
	nodes := len(all)
	all = nil
	runtime.GC()
	ms := make([]float64, 0, *cycles)
	for i := 0; i < *cycles; i++ {
		start := time.Now()
		runtime.GC()
		ms = append(ms, float64(time.Since(start).Nanoseconds())/1e6)
	}
	if count(root) != nodes {
		fmt.Fprintln(os.Stderr, "the tree lost nodes")
		os.Exit(1)
	}
	sort.Float64s(ms)
	median := ms[len(ms)/2]
	fmt.Printf("RESULT impl=go cpus=%d nodes=%d collect_median_ms=%.2f collect_min_ms=%.2f ns_per_object=%.1f\n",
		runtime.GOMAXPROCS(0), nodes, median, ms[0], median*1e6/float64(nodes))
}
