// ----------------------------------------------------------------------------
// override-check-cxx.cpp -- C++ allocation in the process is mimalloc's.
//
// Built plain (run with LD_PRELOAD=libmimalloc.so) and linked with mimalloc.o or
// libmimalloc.so (OV_LINKED). Every form of operator new (plain, array, nothrow,
// aligned), the standard containers, std::thread's state and even the exception
// objects of libstdc++ (__cxa_allocate_exception calls malloc) must be mimalloc
// blocks; every form of operator delete (sized, aligned, nothrow) takes them back.
// ----------------------------------------------------------------------------
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ov-common.h"

static std::size_t opaque(std::size_t x) { volatile std::size_t v = x; return v; }

struct alignas(64) Line { char bytes[64]; };
struct alignas(4096) PageAligned { char bytes[100]; };
struct WithDtor {
  int* payload;
  WithDtor() : payload(new int[17]) {}
  ~WithDtor() { delete[] payload; }
};

static void check_new_forms() {
  // plain and array new, then sized delete (C++14 sized deallocation)
  for (std::size_t n : { 1, 8, 24, 100, 1000, 5000, 70000, 1 << 20, 40 << 20 }) {
    void* p = ::operator new(opaque(n));
    OV_CHECK_OURS(p);
    std::memset(p, 1, n);
    ::operator delete(p, n);
    void* a = ::operator new[](opaque(n));
    OV_CHECK_OURS(a);
    ::operator delete[](a, n);
    void* u = ::operator new(opaque(n));
    ::operator delete(u);   // unsized
  }
  int* i = new int(42);
  OV_CHECK_OURS(i);
  delete i;
  char* s = new char[opaque(333)];
  OV_CHECK_OURS(s);
  delete[] s;
  WithDtor* w = new WithDtor[opaque(10)];   // array cookie: the block starts before w
  OV_CHECK_OURS(w);
  OV_CHECK_OURS(w[3].payload);
  delete[] w;

  // nothrow forms
  void* nt = ::operator new(opaque(100), std::nothrow);
  OV_CHECK_OURS(nt);
  ::operator delete(nt, std::nothrow);
  nt = ::operator new[](opaque(100), std::nothrow);
  OV_CHECK_OURS(nt);
  ::operator delete[](nt, std::nothrow);
  Line* nl = new (std::nothrow) Line[4];
  OV_CHECK_OURS(nl);
  delete[] nl;

  // aligned forms (C++17), explicit and through over-aligned types
  for (std::size_t al : { 16, 32, 64, 256, 4096, 65536, 1 << 20 }) {
    void* p = ::operator new(opaque(al + 8), std::align_val_t(al));
    OV_CHECK_OURS(p);
    OV_CHECK(((std::uintptr_t)p % al) == 0);
    ::operator delete(p, al + 8, std::align_val_t(al));
    p = ::operator new[](opaque(3 * al), std::align_val_t(al));
    OV_CHECK_OURS(p);
    OV_CHECK(((std::uintptr_t)p % al) == 0);
    ::operator delete[](p, std::align_val_t(al));
    p = ::operator new(opaque(al), std::align_val_t(al), std::nothrow);
    OV_CHECK_OURS(p);
    OV_CHECK(((std::uintptr_t)p % al) == 0);
    ::operator delete(p, std::align_val_t(al), std::nothrow);
    p = ::operator new[](opaque(al), std::align_val_t(al), std::nothrow);
    OV_CHECK_OURS(p);
    ::operator delete[](p, std::align_val_t(al), std::nothrow);
    p = ::operator new[](opaque(al), std::align_val_t(al));
    ::operator delete[](p, al, std::align_val_t(al));
    p = ::operator new(opaque(al), std::align_val_t(al));
    ::operator delete(p, std::align_val_t(al));
  }
  Line* line = new Line;
  OV_CHECK_OURS(line);
  OV_CHECK(((std::uintptr_t)line % 64) == 0);
  delete line;
  PageAligned* pa = new PageAligned[opaque(5)];
  OV_CHECK_OURS(pa);
  OV_CHECK(((std::uintptr_t)pa % 4096) == 0);
  delete[] pa;
}

static void check_library() {
  std::string big(opaque(10000), 'x');
  OV_CHECK_OURS(big.data());
  std::vector<int> v;
  for (int k = 0; k < 100000; k++) v.push_back(k);
  OV_CHECK_OURS(v.data());
  std::map<int, std::string> m;
  for (int k = 0; k < 1000; k++) m[k] = std::to_string(k) + std::string(50, 'y');
  OV_CHECK_OURS(m[500].data());
  auto sp = std::make_shared<std::vector<double>>(1000, 1.5);
  OV_CHECK_OURS(sp.get());
  OV_CHECK_OURS(sp->data());
  std::unique_ptr<Line[]> up(new Line[3]);
  OV_CHECK_OURS(up.get());

  // exception objects come from malloc (through __cxa_allocate_exception)
  bool caught = false;
  try {
    throw std::runtime_error(std::string(opaque(300), 'e'));
  }
  catch (const std::runtime_error& e) {
    caught = true;
    OV_CHECK_OURS(&e);
    OV_CHECK(std::strlen(e.what()) == 300);
  }
  OV_CHECK(caught);

  // another thread allocates, this one frees (and the other way round)
  int* from_main = new int[1000];
  int* from_thread = nullptr;
  std::thread t([&] {
    from_thread = new int[1000];
    OV_CHECK_OURS(from_thread);
    delete[] from_main;
    std::vector<std::string> local(1000, std::string(40, 'z'));
    OV_CHECK_OURS(local.data());
  });
  t.join();
  OV_CHECK_OURS(from_thread);
  delete[] from_thread;
}

int main() {
  ov_init();
  check_new_forms();
  check_library();
  if (ov_failed()) {
    std::fprintf(stderr, "override-check-cxx: %d checks FAILED\n", ov_failed());
    return 1;
  }
  std::fprintf(stderr, "override-check-cxx: all checks passed\n");
  return 0;
}
