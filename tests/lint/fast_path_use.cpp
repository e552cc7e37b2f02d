// Compiled for its symbols only, never run: lint/fast_path_inlined.py reads which of the library's
// header functions this object defines, that is, which ones the compiler kept out of line in code
// that uses gc::make and gc::ptr the way a program does.
#include <cstddef>
#include <tricolor/gc.hpp>
#include <utility>

namespace fast_path_use {

struct Base {
  virtual ~Base() = default;
  int tag = 0;
};
struct Leaf : Base {
  double weight = 0;
};
struct Node {
  gc::ptr<Node> left, right;
  int value = 0;
};
struct Mixed {
  gc::ptr<Base> base;
  gc::ptr<Leaf> leaf;
  long words[2] = {};
};

gc::ptr<Node> tree(int depth) {
  auto node = gc::make<Node>();
  if (depth > 0) {
    node->left = tree(depth - 1);
    node->right = tree(depth - 1);
  }
  return node;
}

gc::ptr<Mixed> mixed() {
  auto m = gc::make<Mixed>();
  m->leaf = gc::make<Leaf>();
  m->base = m->leaf;  // the converting assignment
  return m;
}

gc::ptr<Base> upcast(const gc::ptr<Leaf>& leaf) { return leaf; }
gc::ptr<Base> upcast_moved(gc::ptr<Leaf> leaf) {
  gc::ptr<Base> base(std::move(leaf));  // the converting move
  return base;
}

void shuffle(Mixed& m, gc::ptr<Leaf> other) {
  m.leaf.swap(other);
  m.base = nullptr;
  m.leaf.reset();
  gc::ptr<Base> none = nullptr;
  m.base = std::move(none);
}

gc::ptr<gc::ptr<Node>[]> slots(std::size_t n) {
  auto array = gc::make<gc::ptr<Node>[]>(n);
  for (std::size_t i = 0; i < n; ++i) array[i] = gc::make<Node>();
  return array;
}

gc::ptr<double[]> numbers(std::size_t n) {
  return gc::make<double[]>(n);
}

// Default-initialised: a node, a buffer.
gc::ptr<Node> node_for_overwrite() { return gc::make_for_overwrite<Node>(); }
gc::ptr<double[]> numbers_for_overwrite(std::size_t n) {
  return gc::make_for_overwrite<double[]>(n);
}

// Many types made in one translation unit, as in a real program: GCC's limit on how much a unit
// may grow is what outlined the helpers before they were marked.
template <int N>
struct Chain {
  gc::ptr<Chain<N - 1>> next;
  gc::ptr<Node> node;
  int value = N;
};
template <>
struct Chain<0> {
  gc::ptr<Node> node;
};

template <int N>
gc::ptr<Chain<N>> chain() {
  auto link = gc::make<Chain<N>>();
  if constexpr (N > 0) link->next = chain<N - 1>();
  link->node = gc::make<Node>();
  return link;
}

gc::ptr<Chain<48>> long_chain() { return chain<48>(); }

}  // namespace fast_path_use
