/* What Rust cannot express. Mainly the C++ `operator new` failure protocol: on failure call the
 * installed std::new_handler and retry; with none installed throw std::bad_alloc (the
 * nothrow forms return NULL instead).
 *
 * Exceptions must never unwind through Rust frames (the Rust core is built with
 * panic=abort), so the retry loops live here, in C compiled with -fexceptions, and only
 * call into Rust for plain allocations that return normally.
 *
 * The C++ runtime is reached through weak references, so the library does not depend on
 * libstdc++: in a C++ program they resolve to the program's runtime; in a C program they
 * are null and a failing throwing `new` aborts, as it must without a C++ runtime. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

typedef void (*mi_rs_new_handler_t)(void);
typedef struct mi_heap_s mi_heap_t;

/* std::get_new_handler() and std::__throw_bad_alloc() from libstdc++. */
extern mi_rs_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* The Rust core (plain allocations; never unwind). */
void* mi_malloc(size_t size);
void* mi_malloc_aligned(size_t size, size_t alignment);
void* mi_heap_malloc(mi_heap_t* heap, size_t size);
void* mi_realloc(void* p, size_t newsize);
mi_heap_t* mi_heap_get_default(void);
void _mi_rs_report_new_failure(void);
/* nothrow.cpp: runs the handler, returning false if it threw. */
bool mi_rs_call_new_handler_nothrow(mi_rs_new_handler_t handler);

/* Returns true if the caller should retry; false (nothrow) to give up. */
static bool mi_rs_try_new_handler(bool nothrow) {
  mi_rs_new_handler_t h = (_ZSt15get_new_handlerv != NULL ? _ZSt15get_new_handlerv() : NULL);
  if (h != NULL) {
    /* A nothrow `new` must return NULL if the handler throws. */
    if (nothrow) return mi_rs_call_new_handler_nothrow(h);
    h(); /* may throw: it unwinds through this C frame to the caller of `new` */
    return true;
  }
  _mi_rs_report_new_failure();
  if (!nothrow) {
    if (_ZSt17__throw_bad_allocv != NULL) _ZSt17__throw_bad_allocv();
    abort();
  }
  return false;
}

static bool mi_rs_mul_overflow(size_t count, size_t size, size_t* total) {
  return __builtin_mul_overflow(count, size, total);
}

void* mi_heap_try_new(mi_heap_t* heap, size_t size, bool nothrow) {
  void* p = NULL;
  while (p == NULL && mi_rs_try_new_handler(nothrow)) {
    p = mi_heap_malloc(heap, size);
  }
  return p;
}

void* mi_heap_alloc_new(mi_heap_t* heap, size_t size) {
  void* p = mi_heap_malloc(heap, size);
  if (__builtin_expect(p == NULL, 0)) return mi_heap_try_new(heap, size, false);
  return p;
}

void* mi_new(size_t size) {
  void* p = mi_malloc(size);
  if (__builtin_expect(p == NULL, 0)) return mi_heap_try_new(mi_heap_get_default(), size, false);
  return p;
}

void* mi_new_nothrow(size_t size) {
  void* p = mi_malloc(size);
  if (__builtin_expect(p == NULL, 0)) return mi_heap_try_new(mi_heap_get_default(), size, true);
  return p;
}

void* mi_new_aligned(size_t size, size_t alignment) {
  void* p;
  do {
    p = mi_malloc_aligned(size, alignment);
  } while (p == NULL && mi_rs_try_new_handler(false));
  return p;
}

void* mi_new_aligned_nothrow(size_t size, size_t alignment) {
  void* p;
  do {
    p = mi_malloc_aligned(size, alignment);
  } while (p == NULL && mi_rs_try_new_handler(true));
  return p;
}

void* mi_heap_alloc_new_n(mi_heap_t* heap, size_t count, size_t size) {
  size_t total;
  if (mi_rs_mul_overflow(count, size, &total)) {
    mi_rs_try_new_handler(false); /* throws (or aborts) */
    return NULL;
  }
  return mi_heap_alloc_new(heap, total);
}

void* mi_new_n(size_t count, size_t size) {
  return mi_heap_alloc_new_n(mi_heap_get_default(), count, size);
}

void* mi_new_realloc(void* p, size_t newsize) {
  void* q;
  do {
    q = mi_realloc(p, newsize);
  } while (q == NULL && mi_rs_try_new_handler(false));
  return q;
}

void* mi_new_reallocn(void* p, size_t newcount, size_t size) {
  size_t total;
  if (mi_rs_mul_overflow(newcount, size, &total)) {
    mi_rs_try_new_handler(false);
    return NULL;
  }
  return mi_new_realloc(p, total);
}

#ifdef MI_RS_OVERRIDE
/* NetBSD's reallocarr, exported weak as mimalloc does (Rust cannot define weak symbols). */
int mi_reallocarr(void* p, size_t count, size_t size);
__attribute__((weak)) int reallocarr(void* p, size_t count, size_t size) { return mi_reallocarr(p, count, size); }

/* operator new, Itanium ABI (size_t = unsigned long, std::align_val_t = size_t). */
void* _Znwm(size_t n) { return mi_new(n); }
void* _Znam(size_t n) { return mi_new(n); }
void* _ZnwmRKSt9nothrow_t(size_t n, const void* tag) { (void)tag; return mi_new_nothrow(n); }
void* _ZnamRKSt9nothrow_t(size_t n, const void* tag) { (void)tag; return mi_new_nothrow(n); }
void* _ZnwmSt11align_val_t(size_t n, size_t al) { return mi_new_aligned(n, al); }
void* _ZnamSt11align_val_t(size_t n, size_t al) { return mi_new_aligned(n, al); }
void* _ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void* tag) { (void)tag; return mi_new_aligned_nothrow(n, al); }
void* _ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void* tag) { (void)tag; return mi_new_aligned_nothrow(n, al); }
#endif
