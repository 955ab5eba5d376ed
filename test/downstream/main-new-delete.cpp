// mimalloc-new-delete.h defines the C++ operators in this program itself (for builds
// where the library does not override them); here with the shared library.
#include <cstdio>
#include <new>
#include <vector>
#include <mimalloc-new-delete.h>

struct alignas(128) Big { char data[256]; };

int main() {
  int failures = 0;
  int* i = new int(7);
  int* a = new int[100];
  Big* b = new Big();
  char* n = new (std::nothrow) char[32];
  std::vector<long> v(1000, 1);
  if (!mi_is_in_heap_region(i) || !mi_is_in_heap_region(a) || !mi_is_in_heap_region(b) ||
      !mi_is_in_heap_region(n) || !mi_is_in_heap_region(v.data())) failures++;
  if ((reinterpret_cast<size_t>(b) % 128) != 0) failures++;
  delete i; delete[] a; delete b; delete[] n;
  std::printf("mimalloc-new-delete.h: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures;
}
