// C++ allocations (operator new/delete, including during static initialization and
// termination, and std containers) must come from mimalloc when the program links
// libmimalloc.so, libmimalloc.a or mimalloc.o. Exit code 0 on success.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include <mimalloc.h>

static int failures = 0;

static void expect_ours(const char* what, const void* p) {
#ifdef MI_NO_OVERRIDE   // a library built with MI_OVERRIDE=OFF leaves new/delete to libstdc++
  if (p == nullptr || mi_is_in_heap_region(p)) {
#else
  if (p == nullptr || !mi_is_in_heap_region(p)) {
#endif
    std::fprintf(stderr, "%s: %p is not a mimalloc block\n", what, p);
    failures++;
  }
}

// allocations before main and after main returns
static void* early = std::malloc(8);
struct Global {
  int* data;
  Global() : data(new int[16]) { }
  ~Global() { delete[] data; }
};
static Global global;

struct alignas(64) Aligned { char bytes[64]; };

int main() {
  expect_ours("malloc during static initialization", early);
  expect_ours("new[] during static initialization", global.data);

  int* i = new int(42);
  expect_ours("new", i);
  delete i;

  double* arr = new double[100];
  expect_ours("new[]", arr);
  delete[] arr;

  Aligned* al = new Aligned();
  expect_ours("aligned new", al);
  if ((reinterpret_cast<size_t>(al) % 64) != 0) failures++;
  delete al;

  char* nt = new (std::nothrow) char[10];
  expect_ours("nothrow new", nt);
  delete[] nt;

  std::vector<std::string> v;
  for (int k = 0; k < 100; k++) v.push_back(std::string(100, 'x'));
  expect_ours("std::vector storage", v.data());
  std::map<int, std::string> m;
  m[1] = std::string(50, 'y');
  expect_ours("std::string storage", m[1].data());

  std::free(early);
  std::printf("%s\n", failures == 0 ? "all C++ allocations came from the expected allocator" : "FAILED");
  return failures;
}
