// The caches behind gc::pool (include/tricolor/pool.hpp), after Go's sync.Pool.
//
// Layout. A pool has one shard per CPU (rounded up to a power of two); a thread uses the shard its
// index picks, so threads rarely share one. A shard holds two chains of chunks, `primary` and
// `victim`; a chunk is a managed object with 30 gc::ptr slots and a count. put() pushes onto the
// primary chain's head chunk, get() pops from its own shard's primary, then its victim, then tries
// the other shards. The shards live in malloc memory, so their chain heads are roots and every
// pooled object is reachable through them: the marker needs no special case.
//
// Rotation. At every mark start, with the world stopped and before the barrier is on, each
// shard's primary chain becomes its victim chain and the old victim chain is dropped. So an object
// put before cycle k is still reachable (through the victim) while cycle k marks, and is garbage
// for cycle k+1 unless a get() took it: it survives at least one collection, never more than two.
//
// Locking. Every operation on a shard runs inside a critical section and holds the shard's spin
// lock. A stop of the world waits for critical sections to end, so the rotation finds every lock
// free and every chain consistent; and a thread spinning on a lock waits only for a thread that
// is inside a critical section too, which a stop cannot freeze. Nothing inside allocates: a put()
// that needs a new chunk leaves the section, makes it, and comes back.
#pragma once

namespace gc::detail {

// The mark-start hook (gc/hooks.hpp), registered by the first pool: world stopped, barrier still
// off, every pool's primary caches become victims.
void rotate_pools();

}  // namespace gc::detail
