// gc::why_alive: the route by which an object is reachable now (tricolor/inspect.hpp).
//
// The algorithm. With the cycle lock held between marks, the world is stopped and a third kind of
// mark runs (Marker::Mode::kPath) into the checkmark bits, from the same roots as every stopped
// mark (stopped_mark.hpp): every thread's stack and saved registers, suspended fiber stacks, the
// root set (gc::ptrs in globals and in malloc memory), the tiny blocks, and the toolbox's roots
// (arenas). It goes breadth first, one layer of objects at a time, and a PathRecorder notes, for
// each object the first time it is reached, where the word came from: a root (what it is and the
// address of the word) or a parent object and the address of the slot in it. After the mark the
// route to the object asked about is read back through the parents, still stopped; the world
// starts again, and only then are the steps put into words (symbol lookups read files and
// allocate).
//
// Invariants:
//   - The route is a shortest one from the roots, counted in objects: the layers are marked in
//     order, and an object's entry is written once, by the first word that reaches it.
//   - Words on the calling thread's stack that equal the address asked about are not roots: the
//     call itself put them there. Any other copy is.
//   - Every object on the route stays allocated while the words are put together: the cycle lock is
//     held until then, so no mark can end and no sweep can free them.
//   - The recorder lives in memory mapped for it, never malloc (the world is stopped, and a stopped
//     thread may hold malloc's locks), and it is not scanned: nothing it holds keeps anything
//     alive.
//
// Cost: a stop of the world as long as a full mark of the live heap (with gccheckmark, the
// verification pass costs the same), plus 32 bytes of mapped memory per live object and the
// checkmark bits (a bit per word of the heap in use, checkmark_bits.hpp), given back when the call
// returns.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc::detail {

class PathRecorder {
 public:
  struct Entry {
    std::uintptr_t object;  // the object's base; 0: an empty entry
    std::uintptr_t parent;  // the object it was reached from; 0: a root
    std::uintptr_t where;   // the address of the word that reached it: a slot, a stack word
    std::uint32_t what;     // for a root, the offset of its description in the string space
  };

  PathRecorder();
  ~PathRecorder();
  PathRecorder(const PathRecorder&) = delete;
  PathRecorder& operator=(const PathRecorder&) = delete;

  // The marker reached `object` for the first time, through the word at `where`, read from the
  // object `parent` or (0) from the root that `what` describes.
  void reached(std::uintptr_t object, std::uintptr_t parent, std::uintptr_t where,
               const char* what);
  // The entry of `object`; nullptr if it was not reached.
  const Entry* find(std::uintptr_t object) const;
  const char* description(std::uint32_t what) const { return strings_ + what; }
  std::size_t objects() const { return count_; }

 private:
  void grow();
  std::uint32_t intern(const char* what);

  Entry* table_ = nullptr;  // open addressing, linear probing; a power of two entries
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
  char* strings_ = nullptr;  // descriptions, each ending with '\0'; offset 0 is ""
  std::size_t strings_used_ = 1;
  std::uint32_t last_what_ = 0;
};

}  // namespace gc::detail
