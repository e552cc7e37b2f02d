// Command memory_limit is the Go twin of bench/memory_limit.cpp: a ring of 100 MiB of 1016-byte
// blocks whose slots are replaced in turn until 4 GiB (--depth GiB) have been allocated, run with
// GOGC=off and GOMEMLIMIT=256MiB (bench_memory_limit sets them), so that the two runtimes' peak
// resident memory under the same limit can be compared. bench_memory_limit runs it as a child
// process and reads its output; it also runs on its own (go run .), honouring GOGC and GOMEMLIMIT.
//
// Output: "STATS num_gc=<n>", then the driver's
// "RESULT impl=go depth=<GiB> threads=1 seconds=<wall> peak_rss_kb=<ru_maxrss>".
// A block that does not hold what was written into it last exits 1.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

const ringBlocks = (100 << 20) / 1024 // 1016-byte blocks take 1024-byte slots

// block is noscan, in the 1024-byte size class, like the C++ twin's Block.
type block [1016]byte

func main() {
	depth := flag.Int("depth", 4, "GiB to allocate")
	flag.Int("threads", 1, "ignored: one goroutine")
	flag.Int("repeat", 1, "ignored: one run")
	flag.Parse()

	start := time.Now()
	allocations := (*depth << 30) / 1016
	ring := make([]*block, ringBlocks)
	for i := 0; i < allocations; i++ {
		b := new(block)
		b[0] = byte(i)
		b[1015] = byte(i / 256)
		ring[i%ringBlocks] = b
	}
	for j, b := range ring {
		last := (allocations-1-j)/ringBlocks*ringBlocks + j
		if b[0] != byte(last) || b[1015] != byte(last/256) {
			fmt.Fprintf(os.Stderr, "memory_limit: slot %d does not hold block %d\n", j, last)
			os.Exit(1)
		}
	}
	seconds := time.Since(start).Seconds()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "STATS num_gc=%d\n", ms.NumGC)
	fmt.Fprintf(out, "RESULT impl=go depth=%d threads=1 seconds=%.6f peak_rss_kb=%d\n", *depth,
		seconds, ru.Maxrss)
	out.Flush()
}
