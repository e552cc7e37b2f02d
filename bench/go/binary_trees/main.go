// Command binary_trees is the Go twin of bench/binary_trees.cpp: the same workload (the Benchmarks
// Game's binary-trees, top-down construction, every count checked), the same output lines and the
// same RESULT line, so that bench_binary_trees can run it as one more implementation ("go") and
// compare its output with the C++ children's. It is built by bench/CMakeLists.txt with the go tool
// (standard library only) and honours GOGC, GOMEMLIMIT and GODEBUG=gctrace=1 like any Go program.
//
// Usage: binary_trees [--depth=N] [--threads=T] [--repeat=R]
//
// --threads=T splits each depth's iterations between T goroutines exactly as the C++ program splits
// them between threads (worker t takes iterations [n*t/T, n*(t+1)/T)); with T > 1 every worker also
// walks the long-lived tree once per depth. GOMAXPROCS is left at its default (the number of CPUs),
// so Go may run the workers in parallel just as the C++ threads do.
//
// Output, per run: the program's lines, then
//
//	RESULT impl=go depth=<d> threads=<t> seconds=<wall time of the workload> peak_rss_kb=<ru_maxrss>
//
// A wrong node count is reported on stderr and the process exits 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

const minDepth = 4

type node struct {
	left, right *node
}

// build makes a complete tree of the given depth, each node before its children.
func build(depth int) *node {
	n := &node{}
	if depth > 0 {
		n.left = build(depth - 1)
		n.right = build(depth - 1)
	}
	return n
}

func (n *node) count() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.count() + n.right.count()
}

func treeNodes(depth int) int64 { return (int64(2) << depth) - 1 }

func expect(what string, depth int, got, want int64) bool {
	if got == want {
		return true
	}
	fmt.Fprintf(os.Stderr, "binary_trees: WRONG COUNT: %s of depth %d: got %d nodes, want %d\n",
		what, depth, got, want)
	return false
}

func run(depth, threads int) bool {
	maxDepth := depth
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	ok := true

	stretchDepth := maxDepth + 1
	c := build(stretchDepth).count()
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretchDepth, c)
	ok = expect("stretch tree", stretchDepth, c, treeNodes(stretchDepth)) && ok

	longLived := build(maxDepth)

	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := int64(1) << (maxDepth - d + minDepth)
		partial := make([]int64, threads)
		longLivedOK := make([]bool, threads)
		work := func(t int) {
			begin := iterations * int64(t) / int64(threads)
			end := iterations * int64(t+1) / int64(threads)
			var check int64
			for i := begin; i < end; i++ {
				check += build(d).count()
			}
			partial[t] = check
			longLivedOK[t] = threads == 1 || longLived.count() == treeNodes(maxDepth)
		}
		var wg sync.WaitGroup
		for t := 1; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				work(t)
			}(t)
		}
		work(0)
		wg.Wait()
		var check int64
		for _, p := range partial {
			check += p
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, check)
		ok = expect("trees (sum)", d, check, iterations*treeNodes(d)) && ok
		for t, good := range longLivedOK {
			if !good {
				fmt.Fprintf(os.Stderr, "binary_trees: WRONG COUNT: worker %d's walk of the "+
					"long-lived tree after depth %d\n", t, d)
				ok = false
			}
		}
	}

	c = longLived.count()
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, c)
	return expect("long lived tree", maxDepth, c, treeNodes(maxDepth)) && ok
}

func main() {
	depth := flag.Int("depth", 16, "maximum tree depth (values below 6 mean 6)")
	threads := flag.Int("threads", 1, "workers per depth (1..16)")
	repeat := flag.Int("repeat", 1, "runs in this process")
	flag.Parse()
	if *depth < 1 || *depth > 24 || *threads < 1 || *threads > 16 || *repeat < 1 {
		fmt.Fprintln(os.Stderr, "binary_trees: --depth must be 1..24, --threads 1..16, --repeat >= 1")
		os.Exit(2)
	}
	for r := 0; r < *repeat; r++ {
		start := time.Now()
		ok := run(*depth, *threads)
		seconds := time.Since(start).Seconds()
		if !ok {
			fmt.Fprintf(os.Stderr, "binary_trees: impl=go depth=%d threads=%d: CHECK FAILED\n",
				*depth, *threads)
			os.Exit(1)
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		fmt.Printf("RESULT impl=go depth=%d threads=%d seconds=%.6f peak_rss_kb=%d\n",
			*depth, *threads, seconds, ru.Maxrss)
	}
}
