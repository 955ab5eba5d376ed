// test_package (C++): mimalloc's STL allocator, and new/delete when the package overrides.
#include <mimalloc.h>
#include <cstdio>
#include <vector>

int main() {
  std::vector<int, mi_stl_allocator<int>> v;
  for (int i = 0; i < 1000; i++) v.push_back(i);
  if (!mi_is_in_heap_region(v.data())) return 1;
  int* p = new int[100];
#ifdef MI_TEST_OVERRIDE
  if (!mi_is_in_heap_region(p)) {
    std::fprintf(stderr, "test_package: new is not mimalloc's although the package overrides it\n");
    return 1;
  }
#endif
  delete[] p;
  std::printf("test_package: mimalloc %d (C++, " MI_TEST_KIND ")\n", mi_version());
  return 0;
}
