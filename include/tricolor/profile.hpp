// Heap profiling, as Go's runtime.MemProfileRate and pprof.WriteHeapProfile.
//
// The collector samples allocations: on average one sample per `rate` bytes allocated, each with
// the call stack of its allocation. A sampled object that dies is counted freed when the sweep
// frees it. The profile tells, per call stack, how much was allocated in all (alloc_objects,
// alloc_space) and how much of it was still in use at the end of the last collection
// (inuse_objects, inuse_space), estimated from the samples as Go estimates them.
//
//   gc::collect();                             // as of now, not as of the last cycle
//   gc::write_heap_profile("heap.pb.gz");      // then: go tool pprof -top heap.pb.gz
#pragma once

#include <cstddef>
#include <iosfwd>

namespace gc {

// Sets the sampling rate in bytes and returns the previous one: 0 turns sampling off, 1 samples
// every allocation; the default is 512 KiB, or GODEBUG=memprofilerate=N. A thread takes the new
// rate at its next sample (the calling thread at its next allocation), so set it early, as in Go.
std::size_t set_mem_profile_rate(std::size_t bytes);

// The current sampling rate in bytes (0: off).
std::size_t mem_profile_rate();

// Writes the heap profile in pprof's format (a gzipped profile.proto, symbolised) to the file at
// `path`, replacing it. Returns false, and prints one line on stderr naming the path and the
// reason, if the file cannot be written.
bool write_heap_profile(const char* path);

// The same, to a stream opened in binary mode. Returns false if the stream fails.
bool write_heap_profile(std::ostream& out);

}  // namespace gc
