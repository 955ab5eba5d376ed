// ----------------------------------------------------------------------------
// newdelete-test.cpp -- mimalloc-new-delete.h, included in one translation unit
// (newdelete-ops.cpp) of a program linked with libmimalloc (the shared library, or
// the static one when there is none), routes the program's new and delete to
// mimalloc, whether or not the library overrides malloc (MI_OVERRIDE).
//
// Every form of new returns a mimalloc block, every form of delete takes it back,
// the standard containers allocate from mimalloc, a failing new throws
// std::bad_alloc (after calling the new_handler) and nothrow new returns nullptr
// (except with MI_XMALLOC, where a failed allocation aborts).
// With a library built without MI_OVERRIDE (OV_NO_OVERRIDE), malloc must still be
// the C library's: only new/delete are routed, by the header.
// ----------------------------------------------------------------------------
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "ov-common.h"

namespace {

std::size_t opaque(std::size_t x) { volatile std::size_t v = x; return v; }
struct alignas(256) Wide { char c[300]; };
#ifndef MI_XMALLOC
int handler_calls = 0;
void handler() {
  if (++handler_calls >= 2) std::set_new_handler(nullptr);
}
#endif

}  // namespace

int main() {
  ov_init();
  int* i = new int(7);
  OV_CHECK_OURS(i);
  delete i;
  char* a = new char[opaque(1000)];
  OV_CHECK_OURS(a);
  delete[] a;
  void* s = ::operator new(opaque(5000));
  OV_CHECK_OURS(s);
  ::operator delete(s, 5000);
  void* nt = ::operator new(opaque(64), std::nothrow);
  OV_CHECK_OURS(nt);
  ::operator delete(nt, std::nothrow);
  Wide* w = new Wide[opaque(3)];
  OV_CHECK_OURS(w);
  OV_CHECK(((std::uintptr_t)w % 256) == 0);
  delete[] w;
  void* al = ::operator new(opaque(100), std::align_val_t(4096));
  OV_CHECK_OURS(al);
  OV_CHECK(((std::uintptr_t)al % 4096) == 0);
  ::operator delete(al, 100, std::align_val_t(4096));

  std::vector<std::string> v(100, std::string(100, 'v'));
  OV_CHECK_OURS(v.data());
  OV_CHECK_OURS(v[50].data());
  std::map<int, int> m;
  for (int k = 0; k < 100; k++) m[k] = k;
  std::thread t([] {
    std::vector<long> tv(10000, 1);
    OV_CHECK_OURS(tv.data());
  });
  t.join();

#ifndef MI_XMALLOC   // (there a failed allocation aborts)
  // failure: the new_handler, bad_alloc, nullptr
  const std::size_t huge = SIZE_MAX / 2 + 1;
  std::set_new_handler(handler);
  bool threw = false;
  try {
    void* p = ::operator new(opaque(huge));
    std::fprintf(stderr, "  (returned %p)\n", p);
  }
  catch (const std::bad_alloc&) {
    threw = true;
  }
  OV_CHECK(threw);
  OV_CHECK(handler_calls == 2);
  OV_CHECK(::operator new(opaque(huge), std::nothrow) == nullptr);
  threw = false;
  try {
    void* p = ::operator new(opaque(huge), std::align_val_t(64));
    std::fprintf(stderr, "  (returned %p)\n", p);
  }
  catch (const std::bad_alloc&) {
    threw = true;
  }
  OV_CHECK(threw);
#endif

#ifdef OV_NO_OVERRIDE
  // the library does not override malloc: only the header routes new/delete
  void* c = std::malloc(opaque(100));
  OV_CHECK(c != nullptr && !ov_ours(c));
  std::free(c);
#endif

  if (ov_failed()) {
    std::fprintf(stderr, "newdelete-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  std::fprintf(stderr, "newdelete-test: all checks passed\n");
  return 0;
}
