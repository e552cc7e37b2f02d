#include <tricolor/gc.hpp>
int main() {
  gc::ptr<int> p = gc::make<int>(42);
  gc::collect();
  return *p == 42 ? 0 : 1;
}
