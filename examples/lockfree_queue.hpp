// A Michael–Scott lock-free queue on gc::atomic_ptr: the whole of its memory management is the
// collector's. A node that one thread unlinks may still be read by another that loaded it a moment
// earlier; it stays valid because that thread's reference keeps it alive, and it is freed once no
// thread can reach it. So there is no ABA problem (a node's address is never reused while anyone
// holds it) and no hazard pointers, epochs or reference counts.
//
// `Pointers` names the pointer types, so that bench/queue_bench.cpp can run the same algorithm on
// std::atomic<std::shared_ptr>; the default is tricolor's.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <tricolor/gc.hpp>
#include <utility>

namespace example {

struct GcPointers {
  template <class T>
  using ptr = gc::ptr<T>;
  template <class T>
  using atomic = gc::atomic_ptr<T>;
  template <class T, class... Args>
  static ptr<T> make(Args&&... args) {
    return gc::make<T>(std::forward<Args>(args)...);
  }
};

template <class T, class Pointers = GcPointers>
class LockFreeQueue {
  struct Node;
  using NodePtr = typename Pointers::template ptr<Node>;
  struct Node {
    explicit Node(std::optional<T> v = std::nullopt) : value(std::move(v)) {}
    std::optional<T> value;  // empty in the dummy node
    typename Pointers::template atomic<Node> next;
  };

 public:
  LockFreeQueue() {
    NodePtr dummy = Pointers::template make<Node>();
    head_.store(dummy);
    tail_.store(dummy);
  }

  void push(T value) {
    NodePtr node = Pointers::template make<Node>(std::move(value));
    for (;;) {
      NodePtr tail = tail_.load();
      NodePtr next = tail->next.load();
      if (tail != tail_.load()) continue;
      if (next == nullptr) {
        if (tail->next.compare_exchange_weak(next, node)) {
          tail_.compare_exchange_strong(tail, node);  // if it fails, someone helped already
          return;
        }
      } else {
        tail_.compare_exchange_weak(tail, next);  // help a push that linked but did not swing
      }
    }
  }

  std::optional<T> pop() {
    for (;;) {
      NodePtr head = head_.load();
      NodePtr tail = tail_.load();
      NodePtr next = head->next.load();
      if (head != head_.load()) continue;
      if (next == nullptr) return std::nullopt;
      if (head == tail) {
        tail_.compare_exchange_weak(tail, next);
        continue;
      }
      std::optional<T> value = next->value;  // `next` may be unlinked by now: still valid
      if (head_.compare_exchange_weak(head, next)) return value;
    }
  }

 private:
  typename Pointers::template atomic<Node> head_;
  typename Pointers::template atomic<Node> tail_;
};

}  // namespace example
