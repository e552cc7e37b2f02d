// Command rss_timeline is the Go twin of bench/rss_timeline.cpp: the same steady-state,
// server-like workload, operation for operation, so that the two runtimes' resident memory can be
// compared on one time axis. bench_rss_timeline runs it as a child process and reads its output;
// it also runs on its own (go run .), honouring GOGC and GOMEMLIMIT as usual.
//
// Output, one line each: "SAMPLE <seconds> <phase> <rss_kb>" every 100 ms, then
// "STATS num_gc=<n> end_rss_kb=<kb>" and the driver's
// "RESULT impl=go depth=0 threads=1 seconds=<wall> peak_rss_kb=<ru_maxrss>".
// A corrupt node at the end (which would mean the collector freed something live) exits 1.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	slots        = 100_000
	opsPerSecond = 400_000
	phase1Ops    = 3 * opsPerSecond
	spikeOps     = 1 * opsPerSecond
	phase3Ops    = 4 * opsPerSecond
	spikeNodes   = (200 << 20) / 384 // 384: a node plus 1.5 leaves on average
	samplePeriod = 100 * time.Millisecond
)

type leaf struct {
	id   uint64
	data [7]uint64
}

type node struct {
	a, b    *leaf
	id      uint64
	payload [32]uint64
}

func pattern(id, j uint64) uint64 { return id*0x9e3779b97f4a7c15 ^ j }

func newLeaf(id uint64) *leaf {
	l := &leaf{id: id}
	for j := range l.data {
		l.data[j] = pattern(id, uint64(j))
	}
	return l
}

// Every word is written so that the pages are really touched, as a server filling a response would.
func newNode(id uint64) *node {
	n := &node{id: id}
	for j := range n.payload {
		n.payload[j] = pattern(id, uint64(j))
	}
	n.a = newLeaf(id)
	if id%2 == 1 {
		n.b = newLeaf(id)
	}
	return n
}

func leafOK(l *leaf, id uint64) bool {
	if l == nil || l.id != id {
		return false
	}
	for j, v := range l.data {
		if v != pattern(id, uint64(j)) {
			return false
		}
	}
	return true
}

func nodeOK(n *node) bool {
	if n == nil {
		return false
	}
	for j, v := range n.payload {
		if v != pattern(n.id, uint64(j)) {
			return false
		}
	}
	if n.id%2 == 1 {
		return leafOK(n.a, n.id) && leafOK(n.b, n.id)
	}
	return leafOK(n.a, n.id) && n.b == nil
}

// splitmix64, as in the C++ program, so both draw the same slots.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize()) / 1024
}

type sample struct {
	t     float64
	phase int32
	rssKB int64
}

// sampler reads /proc on a fixed grid (row k at 0.1 k s, as in the C++ program) until stop closes.
func sampler(start time.Time, phase *int32, stop <-chan struct{}, out chan<- []sample) {
	samples := make([]sample, 0, 1024)
	for k := 1; ; k++ {
		timer := time.NewTimer(time.Until(start.Add(time.Duration(k) * samplePeriod)))
		select {
		case <-stop:
			timer.Stop()
			out <- samples
			return
		case <-timer.C:
		}
		samples = append(samples, sample{time.Since(start).Seconds(), atomic.LoadInt32(phase), rssKB()})
	}
}

type workload struct {
	table  []*node
	rng    rng
	nextID uint64
}

func newWorkload() *workload {
	w := &workload{table: make([]*node, slots), rng: rng{1}}
	for i := range w.table {
		w.table[i] = newNode(w.nextID)
		w.nextID++
	}
	return w
}

// run paces in batches of 1000: finer sleeps would mostly measure the timer.
func (w *workload) run(ops int) {
	start := time.Now()
	for i := 0; i < ops; i++ {
		w.table[w.rng.next()%slots] = newNode(w.nextID)
		w.nextID++
		if i%1000 == 999 {
			if d := time.Until(start.Add(time.Duration(i+1) * time.Second / opsPerSecond)); d > 0 {
				time.Sleep(d)
			}
		}
	}
}

func main() {
	start := time.Now()
	var phase int32 = 1
	stop := make(chan struct{})
	result := make(chan []sample)
	go sampler(start, &phase, stop, result)

	w := newWorkload()
	w.run(phase1Ops)

	atomic.StoreInt32(&phase, 2)
	spike := make([]*node, spikeNodes)
	for i := range spike {
		spike[i] = newNode(w.nextID)
		w.nextID++
	}
	w.run(spikeOps)
	// Liveness is precise: without this the spike could die right after the loop; after it, it is
	// garbage (the C++ program drops it here).
	runtime.KeepAlive(spike)

	atomic.StoreInt32(&phase, 3)
	w.run(phase3Ops)
	endRSS := rssKB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	close(stop)
	samples := <-result

	out := bufio.NewWriter(os.Stdout)
	for _, s := range samples {
		fmt.Fprintf(out, "SAMPLE %.3f %d %d\n", s.t, s.phase, s.rssKB)
	}
	fmt.Fprintf(out, "STATS num_gc=%d end_rss_kb=%d\n", ms.NumGC, endRSS)
	for i, n := range w.table {
		if !nodeOK(n) {
			out.Flush()
			fmt.Fprintf(os.Stderr, "rss_timeline: slot %d holds a corrupt node\n", i)
			os.Exit(1)
		}
	}
	seconds := time.Since(start).Seconds() // like the C++ child's: the checks are included
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Fprintf(out, "RESULT impl=go depth=0 threads=1 seconds=%.6f peak_rss_kb=%d\n", seconds, ru.Maxrss)
	out.Flush()
}
