// Command gc_latency is the Go twin of bench/gc_latency.cpp, after the gc_latency benchmark of
// golang.org/x/benchmarks: a ring of 200,000 slots, and every iteration stores a freshly allocated,
// filled 1 KiB []byte into slot i % 200,000, so the live set stays at ~200 MiB while ~1 KiB of
// garbage is made per store. Each store (allocation, fill, store) is timed on its own with
// time.Now(); the distribution of those times shows how long the mutator is held up by the
// collector (stop-the-world pauses, mark assists, sweeping) at the worst moments.
//
// bench_gc_latency runs it as a child process (built by bench/CMakeLists.txt) and reads its one
// output line; it also runs on its own (go run . --iterations=N), honouring GOGC and GOMEMLIMIT.
//
// Output: "RESULT impl=go iterations=<n> seconds=<loop wall time> p50_us=.. p99_us=..
// p999_us=.. p9999_us=.. max_us=.. peak_rss_kb=<ru_maxrss> num_gc=.. pause_total_ns=..
// pause_max_ns=.. pause_p50_ns=.. pause_recent=<cycles in PauseNs>" (the collector's own
// stop-the-world figures from runtime.ReadMemStats; pause_max_ns and pause_p50_ns are over the
// last min(NumGC, 256) cycles), then "CDF impl=go ppm_us=<ppm>:<µs>,...": the latency at each of
// cdfPpm's quantiles (parts per million, nearest rank) and at 1000000, the slowest store, as the
// C++ children print it. A slot holding the wrong bytes at the end exits 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"syscall"
	"time"
	"unsafe"
)

const (
	slots   = 200_000
	bufSize = 1024
)

// cdfPpm are the quantiles of the CDF line, the same as kCdfPpm in bench/gc_latency.cpp.
var cdfPpm = []int{0, 100000, 250000, 500000, 750000, 900000, 950000, 980000, 990000, 995000,
	998000, 999000, 999500, 999800, 999900, 999950, 999980, 999990, 999995, 999998, 999999}

// fill writes every byte of b, by doubling copies (memmove) so that filling costs about what the
// C++ program's memset does; the original benchmark's byte loop would charge Go ~10x more for it.
func fill(b []byte, v byte) {
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// latencies returns n zeroed, touched uint32s outside the Go heap, so that the collector's live
// set (and so its heap goal) is only the ring and its buffers, as in the C++ program, whose
// latency array is in malloc memory.
func latencies(n int) []uint32 {
	mem, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gc_latency: mmap: %v\n", err)
		os.Exit(1)
	}
	lat := unsafe.Slice((*uint32)(unsafe.Pointer(&mem[0])), n)
	for i := range lat {
		lat[i] = 0
	}
	return lat
}

// percentile is the nearest-rank percentile of sorted values for q/10000 (5000 = median, 9999 =
// p99.99), in integers so that the C++ program picks the very same rank.
func percentile(sorted []uint32, q int) uint32 {
	rank := (q*len(sorted) + 9999) / 10000
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// quantilePpm is the nearest-rank quantile of sorted values for ppm/1000000, with the C++
// program's integer rule.
func quantilePpm(sorted []uint32, ppm int) uint32 {
	rank := (ppm*len(sorted) + 999_999) / 1_000_000
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func us(ns uint32) float64 { return float64(ns) / 1000 }

func main() {
	iterations := flag.Int("iterations", 2_000_000, "stores to time")
	flag.Parse()
	n := *iterations
	if n < slots {
		fmt.Fprintf(os.Stderr, "gc_latency: --iterations must be at least %d\n", slots)
		os.Exit(2)
	}
	lat := latencies(n)
	ring := make([][]byte, slots)
	var worst time.Duration

	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		b := make([]byte, bufSize)
		fill(b, byte(i))
		ring[i%slots] = b
		d := time.Since(t0)
		if d > worst {
			worst = d
		}
		if d > time.Duration(^uint32(0)) {
			d = time.Duration(^uint32(0))
		}
		lat[i] = uint32(d)
	}
	seconds := time.Since(start).Seconds()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)

	// Slot s was last written by the largest i < n with i % slots == s.
	for s, b := range ring {
		i := (n-1-s)/slots*slots + s
		for _, c := range b {
			if c != byte(i) {
				fmt.Fprintf(os.Stderr, "gc_latency: slot %d holds a wrong byte\n", s)
				os.Exit(1)
			}
		}
	}
	runtime.KeepAlive(ring)

	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	recent := int(ms.NumGC)
	if recent > len(ms.PauseNs) {
		recent = len(ms.PauseNs)
	}
	pauses := make([]uint64, 0, recent)
	for k := 0; k < recent; k++ {
		pauses = append(pauses, ms.PauseNs[(int(ms.NumGC)-1-k+len(ms.PauseNs))%len(ms.PauseNs)])
	}
	sort.Slice(pauses, func(a, b int) bool { return pauses[a] < pauses[b] })
	var pauseMax, pauseP50 uint64
	if recent > 0 {
		pauseMax = pauses[recent-1]
		pauseP50 = pauses[(recent+1)/2-1]
	}
	fmt.Printf("RESULT impl=go iterations=%d seconds=%.6f p50_us=%.3f p99_us=%.3f p999_us=%.3f "+
		"p9999_us=%.3f max_us=%.3f peak_rss_kb=%d num_gc=%d pause_total_ns=%d pause_max_ns=%d "+
		"pause_p50_ns=%d pause_recent=%d\n",
		n, seconds, us(percentile(lat, 5000)), us(percentile(lat, 9900)), us(percentile(lat, 9990)),
		us(percentile(lat, 9999)), float64(worst.Nanoseconds())/1000, ru.Maxrss, ms.NumGC,
		ms.PauseTotalNs, pauseMax, pauseP50, recent)
	fmt.Printf("CDF impl=go ppm_us=")
	for _, ppm := range cdfPpm {
		fmt.Printf("%d:%.3f,", ppm, us(quantilePpm(lat, ppm)))
	}
	fmt.Printf("1000000:%.3f\n", float64(worst.Nanoseconds())/1000)
}
