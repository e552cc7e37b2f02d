// hello: the smallest tricolor program. Three nodes point at each other in a ring, nothing else
// points at them, and gc::collect() reclaims them and runs their destructors.
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <tricolor/gc.hpp>

struct Node {
  explicit Node(std::string n) : name(std::move(n)) {}
  // Runs on the library's destructor thread, hence the atomic. It must not touch `next`.
  ~Node() { destroyed.fetch_add(1); }

  gc::ptr<Node> next;
  std::string name;
  static inline std::atomic<int> destroyed{0};
};

int main() {
  gc::ptr<Node> kept = gc::make<Node>("kept");  // reachable from main's stack: survives

  // Thread stacks are scanned conservatively: a dead stack slot or register of main could still
  // hold a node's address after the ring is dropped, and keep the ring alive. Built on a thread
  // that has exited before we collect, the ring leaves no such word behind.
  std::thread([] {
    gc::ptr<Node> a = gc::make<Node>("a");
    a->next = gc::make<Node>("b");
    a->next->next = gc::make<Node>("c");
    a->next->next->next = a;  // a -> b -> c -> a
    std::printf("built the ring %s -> %s -> %s -> %s\n", a->name.c_str(), a->next->name.c_str(),
                a->next->next->name.c_str(), a->next->next->next->name.c_str());
  }).join();

  gc::collect();  // returns after the dead objects' destructors have run
  const gc::stats s = gc::read_stats();
  std::printf("destructors run: %d (expected 3), '%s' still alive\n", Node::destroyed.load(),
              kept->name.c_str());
  std::printf("cycles %llu, objects allocated %llu, freed %llu, heap %llu bytes, pause %llu ns\n",
              static_cast<unsigned long long>(s.num_gc), static_cast<unsigned long long>(s.mallocs),
              static_cast<unsigned long long>(s.frees),
              static_cast<unsigned long long>(s.heap_alloc),
              static_cast<unsigned long long>(s.pause_total_ns));
  return Node::destroyed.load() == 3 ? 0 : 1;
}
