// Which half of the pointer bitmap (detail/heap_range.hpp) holds a slot's bit: the owned half,
// written with plain stores by the thread whose cache owns the span, or the shared half, changed
// atomically by everyone else. A slot's bit is the two halves' exclusive OR.
#pragma once

#include <atomic>
#include <cstdint>

#include "tricolor/detail/heap_range.hpp"

namespace test {

struct Halves {
  bool owned;
  bool shared;
};

inline Halves halves_of(const void* slot) {
  std::uint64_t bit;
  const std::uintptr_t word =
      gc::detail::pointer_word_index(reinterpret_cast<std::uintptr_t>(slot), bit);
  const std::atomic<std::uint64_t>* pair = gc::detail::pointer_word_pair(word);
  return {(pair[0].load() & bit) != 0, (pair[1].load() & bit) != 0};
}

}  // namespace test
