// The size class the central-list and sweep component tests build their spans of: 48-byte slots,
// 682 to a four-page span (checked against the generated table, so a new table fails loudly here).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tricolor/detail/size_classes.hpp"
#include "tricolor/detail/span.hpp"

namespace test {

constexpr std::size_t kSizeClass = 5;
constexpr std::uint8_t kClass = gc::detail::make_span_class(kSizeClass, false);
constexpr std::uint32_t kSlots = 682;
constexpr std::int64_t kSize = 48;
constexpr std::size_t kSpanBytes = 4 * gc::detail::kPageSize;
static_assert(gc::detail::kClassToObjects[kSizeClass] == kSlots &&
              gc::detail::kClassToSize[kSizeClass] == kSize &&
              gc::detail::kClassToPages[kSizeClass] * gc::detail::kPageSize == kSpanBytes);

}  // namespace test
