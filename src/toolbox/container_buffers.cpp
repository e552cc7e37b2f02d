#include "toolbox/container_buffers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <new>
#include <thread>

#include "base/os_memory.hpp"
#include "heap/object_lookup.hpp"
#include "tricolor/allocator.hpp"
#include "tricolor/detail/heap_range.hpp"

namespace gc::detail {

// At the start of every buffer that may hold gc::ptrs.
struct BufferHeader {
  gc::ptr<BufferHeader> next;    // traced: the rest of the list
  BufferHeader* prev = nullptr;  // not traced: only for unlinking, under the list's lock
  BufferList* list = nullptr;    // the list it is on, to catch a buffer freed through another
};

struct BufferList {
  gc::ptr<BufferHeader> head;
  std::atomic<std::int32_t> allocators{1};
  std::atomic<bool> busy{false};

  void lock() noexcept {
    while (busy.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
  }
  void unlock() noexcept { busy.store(false, std::memory_order_release); }
};

}  // namespace gc::detail

// Nothing in a list needs destroying: it is freed by the sweep once unpinned and unreachable.
template <>
inline constexpr bool gc::collect_without_destructor<gc::detail::BufferList> = true;

namespace gc::detail {

namespace {

void set_pinned(void* object, bool pinned) noexcept {
  const auto addr = reinterpret_cast<std::uintptr_t>(object);
  Span* s = span_of(addr);
  const std::uint32_t index = s->nelems == 1 ? 0 : s->slot_index(addr);
  if (pinned)
    s->pin(index);
  else
    s->unpin(index);
}

// Where the elements start in a buffer with a header: aligned for them (32 is a multiple of every
// smaller alignment, and holds the header).
constexpr std::size_t kHeaderRoom = 32;
static_assert(sizeof(BufferHeader) <= kHeaderRoom);
std::size_t payload_offset(std::size_t align) { return std::max(align, kHeaderRoom); }

}  // namespace

ptr<BufferList> buffer_list_new() {
  ptr<BufferList> list = make<BufferList>();
  set_pinned(list.get(), true);
  return list;
}

void buffer_list_retain(BufferList* list) noexcept {
  list->allocators.fetch_add(1, std::memory_order_relaxed);
}

void buffer_list_release(BufferList* list) noexcept {
  if (list->allocators.fetch_sub(1, std::memory_order_acq_rel) == 1) set_pinned(list, false);
}

void* buffer_allocate(BufferList* list, std::size_t bytes, std::size_t align, bool scan) {
  if (!scan) {
    void* buffer = allocate_array(bytes, align, /*noscan=*/true, nullptr);
    set_pinned(buffer, true);
    return buffer;
  }
  const std::size_t offset = payload_offset(align);
  if (bytes > std::numeric_limits<std::size_t>::max() - offset) throw std::bad_array_new_length();
  void* base =
      allocate_array(offset + bytes, std::max(align, alignof(BufferHeader)), false, nullptr);
  set_pinned(base, true);  // before anything else: from here on only deallocate frees it
  auto* header = ::new (base) BufferHeader;
  header->list = list;
  list->lock();
  header->next = list->head;
  if (header->next) header->next->prev = header;
  list->head = ptr<BufferHeader>(adopt, header);
  list->unlock();
  return static_cast<char*>(base) + offset;
}

void buffer_deallocate(BufferList* list, void* buffer, std::size_t align, bool scan) noexcept {
  if (!scan) {
    set_pinned(buffer, false);
    return;
  }
  auto* header =
      reinterpret_cast<BufferHeader*>(static_cast<char*>(buffer) - payload_offset(align));
  if (header->list != list) {
    // A node moved between containers whose allocators differ (merge, extract and insert, splice),
    // which the standard leaves undefined. Until now the node was traced through the container it
    // came from: if that one died first, the node's gc::ptrs were not scanned at all.
    os::fatal(
        "a gc::allocator buffer was freed through the allocator of another container: containers "
        "that exchange nodes must share one allocator (construct one from the other's "
        "get_allocator())");
  }
  list->lock();
  if (header->prev != nullptr)
    header->prev->next = header->next;
  else
    list->head = header->next;
  if (header->next) header->next->prev = header->prev;
  list->unlock();
  header->~BufferHeader();
  set_pinned(header, false);
}

}  // namespace gc::detail
