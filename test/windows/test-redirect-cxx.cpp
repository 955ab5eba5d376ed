// The C++ part of test-redirect: g++'s operator new/delete (libstdc++, which allocates
// with the C runtime's malloc) and a standard container.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

extern "C" void cxx_checks(bool expect_ours, bool (*is_ours)(const void*)) {
  int failures = 0;
  int* p = new int[1000];
  for (int i = 0; i < 1000; i++) p[i] = i;
  if (is_ours != nullptr && is_ours(p) != expect_ours) {
    std::fprintf(stderr, "FAILED: operator new[] memory is %s\n", expect_ours ? "not mimalloc's" : "mimalloc's");
    failures++;
  }
  delete[] p;
  std::string* s = new std::string(1000, 'x');
  if (is_ours != nullptr && is_ours(s) != expect_ours) {
    std::fprintf(stderr, "FAILED: operator new memory is %s\n", expect_ours ? "not mimalloc's" : "mimalloc's");
    failures++;
  }
  delete s;
  std::vector<std::string> v;
  for (int i = 0; i < 10000; i++) v.push_back(std::to_string(i) + std::string(i % 100, 'y'));
  if (v[9999].size() != 4 + 99) failures++;
  if (failures != 0) std::exit(1);
}
