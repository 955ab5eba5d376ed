// ----------------------------------------------------------------------------
// new-test.cpp -- the C++ operator new failure protocol, with mimalloc's operators.
//
// Built plain (run with LD_PRELOAD=libmimalloc.so) and linked with mimalloc.o or
// libmimalloc.so (OV_LINKED), with the library's MI_OVERRIDE operators.
//
//   new-test                   everything but the last check below
//   new-test nothrow-handler   only the last check
//
//  - without a new_handler: the throwing forms (plain, array, aligned) throw
//    std::bad_alloc; the nothrow forms return nullptr;
//  - with a new_handler: it is called on every failed attempt and the allocation is
//    retried; a handler that uninstalls itself (set_new_handler(nullptr)) ends in
//    std::bad_alloc (nullptr for nothrow); an exception the handler throws reaches
//    the caller of new unchanged;
//  - a real out-of-memory (RLIMIT_AS, in a child process): the handler frees a
//    reserve and the retried allocation succeeds; the next failure without a
//    reserve ends in std::bad_alloc; afterwards allocation works again;
//  - the nothrow forms return nullptr when the handler throws std::bad_alloc, as
//    libstdc++'s own nothrow operator new does ([new.delete.single]: it calls the
//    throwing form and returns nullptr if that throws); in a child process: getting
//    this wrong ends in std::terminate.
// ----------------------------------------------------------------------------
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "ov-common.h"

namespace {

std::size_t opaque(std::size_t x) { volatile std::size_t v = x; return v; }
const std::size_t kHuge = SIZE_MAX / 2 + 1;   // more than mimalloc ever allocates

int handler_calls = 0;
int handler_limit = 0;

void counting_handler() {
  handler_calls++;
  if (handler_calls >= handler_limit) std::set_new_handler(nullptr);
}

struct MyBadAlloc : std::bad_alloc {
  const char* what() const noexcept override { return "MyBadAlloc"; }
};
void throwing_handler() {
  handler_calls++;
  throw MyBadAlloc();
}
void throwing_std_handler() {
  handler_calls++;
  throw std::bad_alloc();
}

template <typename F>
bool throws_bad_alloc(F f) {
  try {
    void* p = f();
    std::fprintf(stderr, "  (returned %p instead of throwing)\n", p);
    return false;
  }
  catch (const std::bad_alloc&) {
    return true;
  }
}

void check_without_handler() {
  std::set_new_handler(nullptr);
  OV_CHECK(throws_bad_alloc([] { return ::operator new(opaque(kHuge)); }));
  OV_CHECK(throws_bad_alloc([] { return ::operator new[](opaque(kHuge)); }));
  OV_CHECK(throws_bad_alloc([] { return ::operator new(opaque(kHuge), std::align_val_t(64)); }));
  OV_CHECK(throws_bad_alloc([] { return ::operator new[](opaque(kHuge), std::align_val_t(4096)); }));
  OV_CHECK(throws_bad_alloc([] { return (void*)new char[opaque(kHuge)]; }));
  OV_CHECK(::operator new(opaque(kHuge), std::nothrow) == nullptr);
  OV_CHECK(::operator new[](opaque(kHuge), std::nothrow) == nullptr);
  OV_CHECK(::operator new(opaque(kHuge), std::align_val_t(64), std::nothrow) == nullptr);
  OV_CHECK(::operator new[](opaque(kHuge), std::align_val_t(64), std::nothrow) == nullptr);
  OV_CHECK(new (std::nothrow) char[opaque(kHuge)] == nullptr);
  // and ordinary allocations still work
  void* p = ::operator new(opaque(100));
  OV_CHECK_OURS(p);
  ::operator delete(p);
}

void check_counting_handler() {
  struct Case { const char* name; void* (*alloc)(); bool nothrow; };
  const Case cases[] = {
    { "new", [] { return ::operator new(opaque(kHuge)); }, false },
    { "new[]", [] { return ::operator new[](opaque(kHuge)); }, false },
    { "aligned new", [] { return ::operator new(opaque(kHuge), std::align_val_t(128)); }, false },
    { "aligned new[]", [] { return ::operator new[](opaque(kHuge), std::align_val_t(128)); }, false },
    { "nothrow new", [] { return ::operator new(opaque(kHuge), std::nothrow); }, true },
    { "nothrow new[]", [] { return ::operator new[](opaque(kHuge), std::nothrow); }, true },
    { "aligned nothrow new", [] { return ::operator new(opaque(kHuge), std::align_val_t(64), std::nothrow); }, true },
  };
  for (const Case& c : cases) {
    handler_calls = 0;
    handler_limit = 3;
    std::set_new_handler(counting_handler);
    bool ok;
    if (c.nothrow) ok = (c.alloc() == nullptr);
    else ok = throws_bad_alloc(c.alloc);
    if (!ok) OV_FAIL("%s: with a self-uninstalling new_handler: no bad_alloc/nullptr", c.name);
    if (handler_calls != 3) OV_FAIL("%s: the new_handler was called %d times, expected 3", c.name, handler_calls);
    if (std::get_new_handler() != nullptr) OV_FAIL("%s: handler still installed", c.name);
  }

  // a handler that throws: the exception reaches the caller unchanged
  handler_calls = 0;
  std::set_new_handler(throwing_handler);
  bool mine = false;
  try {
    void* p = ::operator new(opaque(kHuge));
    std::fprintf(stderr, "  (returned %p)\n", p);
  }
  catch (const MyBadAlloc&) {
    mine = true;
  }
  catch (const std::bad_alloc& e) {
    std::fprintf(stderr, "  (caught %s instead of MyBadAlloc)\n", e.what());
  }
  OV_CHECK(mine);
  OV_CHECK(handler_calls == 1);
  mine = false;
  try {
    void* p = ::operator new(opaque(kHuge), std::align_val_t(256));
    std::fprintf(stderr, "  (returned %p)\n", p);
  }
  catch (const MyBadAlloc&) {
    mine = true;
  }
  OV_CHECK(mine);
  OV_CHECK(handler_calls == 2);
  std::set_new_handler(nullptr);
}

// run `f` in a child process; its exit status (a signal counts as failure)
template <typename F>
int in_child(const char* what, F f) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) OV_FATAL("fork: %s", std::strerror(errno));
  if (pid == 0) {
    alarm(120);
    int rc = f();
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(rc);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) {
    OV_FAIL("%s: the child process died of signal %d%s", what, WTERMSIG(status),
            WTERMSIG(status) == SIGABRT ? " (SIGABRT: std::terminate or abort)" : "");
    return -1;
  }
  if (WEXITSTATUS(status) != 0) OV_FAIL("%s: the child process exited with status %d", what, WEXITSTATUS(status));
  return WEXITSTATUS(status);
}

// nothrow new must return nullptr when the handler throws bad_alloc (the standard
// says nothrow new calls the throwing form and returns nullptr if it throws)
int nothrow_with_throwing_handler() {
  std::set_new_handler(throwing_std_handler);
  handler_calls = 0;
  void* p = ::operator new(opaque(kHuge), std::nothrow);
  if (p != nullptr || handler_calls != 1) return 1;
  p = ::operator new[](opaque(kHuge), std::nothrow);
  if (p != nullptr || handler_calls != 2) return 2;
  p = ::operator new(opaque(kHuge), std::align_val_t(64), std::nothrow);
  if (p != nullptr || handler_calls != 3) return 3;
  return 0;
}

// --- a real out-of-memory: the handler frees a reserve ----------------------

void* reserve = nullptr;
int reserve_handler_calls = 0;
void reserve_handler() {
  reserve_handler_calls++;
  if (reserve != nullptr) {
    ::operator delete(reserve);
    reserve = nullptr;
  }
  else {
    std::set_new_handler(nullptr);   // nothing left to give: the next attempt throws
  }
}

std::size_t vm_size() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::size_t kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib * 1024;
}

int real_oom(int form) {
  const std::size_t chunk = (std::size_t)24 << 20;   // a huge block: a segment of its own
  std::vector<void*> blocks;
  blocks.reserve(10000);
  reserve = ::operator new(opaque((std::size_t)96 << 20));
  std::size_t vm = vm_size();
  if (vm == 0) return 10;
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = vm + ((std::size_t)512 << 20);
  if (setrlimit(RLIMIT_AS, &rl) != 0) return 11;
  std::set_new_handler(reserve_handler);
  int rc = 0;
  bool threw = false;
  bool retried_ok = false;
  try {
    for (int i = 0; i < 4000; i++) {   // ~94 GiB: the limit ends this long before
      int before = reserve_handler_calls;
      void* p;
      if (form == 0) p = ::operator new(chunk);
      else if (form == 1) p = ::operator new[](chunk, std::align_val_t(4096));
      else {
        p = ::operator new(chunk, std::nothrow);
        if (p == nullptr) { threw = true; break; }   // the nothrow form's "bad_alloc"
      }
      if (reserve_handler_calls == 1 && before == 0) {
        retried_ok = true;   // the handler freed the reserve and the retry succeeded
        if (!ov_ours(p)) rc = 12;
      }
      blocks.push_back(p);
    }
  }
  catch (const std::bad_alloc&) {
    threw = true;
  }
  std::set_new_handler(nullptr);
  if (rc == 0 && !retried_ok) rc = 13;
  if (rc == 0 && !threw) rc = 14;
  if (rc == 0 && reserve_handler_calls != 2) rc = 15;
  std::fprintf(stderr, "real out-of-memory (form %d): %zu blocks of 24 MiB, new_handler called %d times, retry %s, %s (rc %d)\n",
               form, blocks.size(), reserve_handler_calls, retried_ok ? "succeeded" : "FAILED",
               threw ? "then bad_alloc/nullptr" : "NO bad_alloc/nullptr", rc);
  for (void* p : blocks) ::operator delete(p);
  // after the out-of-memory, allocation works again
  void* again = ::operator new(opaque(chunk));
  if (!ov_ours(again) && rc == 0) rc = 16;
  ::operator delete(again);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  ov_init();
  if (argc > 1 && std::strcmp(argv[1], "nothrow-handler") == 0) {
    // registered as a test of its own (override-new-nothrow-handler-*)
    in_child("nothrow new with a new_handler that throws bad_alloc", nothrow_with_throwing_handler);
    if (ov_failed()) {
      std::fprintf(stderr, "new-test nothrow-handler: FAILED\n");
      return 1;
    }
    std::fprintf(stderr, "new-test nothrow-handler: nothrow new returned nullptr: ok\n");
    return 0;
  }
  check_without_handler();
  check_counting_handler();
  in_child("out of memory, new_handler frees a reserve (new)", [] { return real_oom(0); });
  in_child("out of memory, new_handler frees a reserve (aligned new[])", [] { return real_oom(1); });
  in_child("out of memory, new_handler frees a reserve (nothrow new)", [] { return real_oom(2); });
  if (ov_failed()) {
    std::fprintf(stderr, "new-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  std::fprintf(stderr, "new-test: all checks passed\n");
  return 0;
}
