/* ----------------------------------------------------------------------------
test-api.c -- checks of the public allocation API, with the check names and
conditions of mimalloc 2.1.7's `test-api` (42 checks). Built as C against the
shared library, the static library and mimalloc.o, and as C++ (test-api-cxx.cpp),
where the STL allocator checks use std::vector.

Exit code: the number of failed checks.
-----------------------------------------------------------------------------*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
#include <vector>
#endif

#include <mimalloc.h>
#include <mimalloc/types.h>   /* MI_BLOCK_ALIGNMENT_MAX, MI_MAX_ALIGN_SIZE, MI_TRACK_ASAN */
#include "testhelper.h"

/* a number the compiler cannot see through, to keep it from folding the overflow away */
static size_t opaque(size_t x) {
  volatile size_t v = x;
  return v;
}

/* ---------------------------------------------------------------------------
   malloc / calloc
--------------------------------------------------------------------------- */

static bool malloc_zero(void) {
  void* p = mi_malloc(0);
  bool good = (p != NULL);
  mi_free(p);
  return good;
}

static bool malloc_nomem1(void) {
  return mi_malloc((size_t)PTRDIFF_MAX + 1) == NULL;
}

static bool malloc_null(void) {
  mi_free(NULL);
  return true;
}

static bool calloc_overflow(void) {
  return mi_calloc(opaque((size_t)&mi_calloc), SIZE_MAX/1000) == NULL;
}

static bool calloc0(void) {
  void* p = mi_calloc(0, 1000);
  bool good = (mi_usable_size(p) <= 16);
  mi_free(p);
  return good;
}

static bool malloc_large(void) {
  void* p = mi_malloc(64*1024*1024 + 8);
  bool good = (p != NULL);
  mi_free(p);
  return good;
}

/* ---------------------------------------------------------------------------
   posix_memalign: on error `*p` stays untouched
--------------------------------------------------------------------------- */

static bool memalign_case(size_t alignment, size_t size, int expect) {
  void* p = &p;   /* a sentinel value */
  int err = mi_posix_memalign(&p, alignment, size);
  if (err == 0) {
    bool good = (expect == 0 && p != &p && is_aligned(p, alignment));
    mi_free(p);
    return good;
  }
  return (err == expect && p == &p);
}

static bool posix_memalign1(void)         { return memalign_case(sizeof(void*), 32, 0); }
static bool posix_memalign_no_align(void) { return memalign_case(3, 32, EINVAL); }
static bool posix_memalign_zero(void)     { return memalign_case(sizeof(void*), 0, 0); }
static bool posix_memalign_nopow2(void)   { return memalign_case(3*sizeof(void*), 32, EINVAL); }
static bool posix_memalign_nomem(void)    { return memalign_case(sizeof(void*), SIZE_MAX, ENOMEM); }

/* ---------------------------------------------------------------------------
   Aligned allocation
--------------------------------------------------------------------------- */

/* allocate `count` blocks of `size` aligned to `align`, check, free them all */
static bool aligned_batch(size_t size, size_t align, int count) {
  void* blocks[16];
  bool good = true;
  for (int i = 0; i < count; i++) {
    blocks[i] = mi_malloc_aligned(size, align);
    if (blocks[i] == NULL || !is_aligned(blocks[i], align)) good = false;
  }
  for (int i = 0; i < count; i++) mi_free(blocks[i]);
  return good;
}

static bool malloc_aligned1(void) { return aligned_batch(32, 32, 1); }
static bool malloc_aligned2(void) { return aligned_batch(48, 32, 1); }
static bool malloc_aligned3(void) { return aligned_batch(48, 32, 2); }

static bool malloc_aligned4(void) {
  for (int i = 0; i < 8; i++) {
    if (!aligned_batch(8, 16, 1)) return false;
  }
  return true;
}

static bool malloc_aligned5(void) {
  void* p = mi_malloc_aligned(4097, 4096);
  size_t usable = mi_usable_size(p);
  printf("malloc_aligned5: usable size: %zu\n", usable);
  mi_free(p);
  return (usable >= 4097 && usable < 16000);
}

static bool malloc_aligned6(void) {
  for (size_t align = 1; align <= MI_BLOCK_ALIGNMENT_MAX; align *= 2) {
    if (!aligned_batch(13*align, align, 8)) return false;
  }
  return true;
}

static bool malloc_aligned7(void) {
  void* p = mi_malloc_aligned(1024, MI_BLOCK_ALIGNMENT_MAX);
  bool good = is_aligned(p, MI_BLOCK_ALIGNMENT_MAX);
  mi_free(p);
  return good;
}

static bool malloc_aligned8(void) {
  for (size_t n = 1; n <= 16; n *= 2) {
    void* p = mi_malloc_aligned(1024, n*MI_BLOCK_ALIGNMENT_MAX);
    bool good = is_aligned(p, n*MI_BLOCK_ALIGNMENT_MAX);
    mi_free(p);
    if (!good) return false;
  }
  return true;
}

static bool malloc_aligned9(void) {
  const size_t sizes[8] = { 8, 512, 1024*1024, MI_BLOCK_ALIGNMENT_MAX, MI_BLOCK_ALIGNMENT_MAX + 1,
                            2*MI_BLOCK_ALIGNMENT_MAX, 8*MI_BLOCK_ALIGNMENT_MAX, 0 };
  for (int shift = 0; shift < 28; shift++) {
    const size_t align = (size_t)1 << shift;
    void* blocks[8];
    bool good = true;
    for (int j = 0; j < 8; j++) {
      blocks[j] = mi_zalloc_aligned(sizes[j], align);
      if (!is_aligned(blocks[j], align)) good = false;   /* NULL counts as aligned */
    }
    for (int j = 0; j < 8; j++) mi_free(blocks[j]);
    if (!good) return false;
  }
  return true;
}

static bool malloc_aligned10(void) {
  void* blocks[11];
  bool good = true;
  int n = 0;
  for (size_t align = 1; align <= 1024; align *= 2, n++) {
    blocks[n] = mi_malloc_aligned(43 + align, align);
    if (!is_aligned(blocks[n], align)) good = false;
  }
  while (n > 0) mi_free(blocks[--n]);   /* in reverse order */
  return good;
}

static bool malloc_aligned11(void) {
  mi_heap_t* heap = mi_heap_new();
  void* p = mi_heap_malloc_aligned(heap, 33554426, 8);
  bool good = mi_heap_contains_block(heap, p);
  mi_heap_destroy(heap);
  return good;
}

static bool malloc_aligned12(void) {
  void* p = mi_malloc_aligned(0x100, 0x100);
  bool good = is_aligned(p, 0x100);
  mi_free(p);
  return good;
}

static bool malloc_aligned13(void) {
  for (size_t size = 1; size <= 2*MI_SMALL_SIZE_MAX; size++) {
    for (size_t align = 1; align <= size; align *= 2) {
      if (!aligned_batch(size, align, 10)) return false;
    }
  }
  return true;
}

static bool malloc_aligned_at(size_t size, size_t align, size_t offset) {
  char* p = (char*)mi_malloc_aligned_at(size, align, offset);
  bool good = (p != NULL && is_aligned(p + offset, align));
  mi_free(p);
  return good;
}
static bool malloc_aligned_at1(void) { return malloc_aligned_at(48, 32, 0); }
static bool malloc_aligned_at2(void) { return malloc_aligned_at(50, 32, 8); }

static bool memalign1(void) {
  for (int i = 0; i < 8; i++) {
    void* p = mi_memalign(16, 8);
    bool good = (p != NULL && is_aligned(p, 16));
    mi_free(p);
    if (!good) return false;
  }
  return true;
}

static bool zalloc_aligned_small1(void) {
  const size_t size = MI_SMALL_SIZE_MAX/2;
  void* p = mi_zalloc_aligned(size, 2*MI_MAX_ALIGN_SIZE);
  bool good = all_bytes(p, 0, size);
  mi_free(p);
  return good;
}

static bool rezalloc_aligned_small1(void) {
  size_t size = MI_SMALL_SIZE_MAX/2;
  void* p = mi_zalloc_aligned(size, 2*MI_MAX_ALIGN_SIZE);
  bool good = all_bytes(p, 0, size);
  size *= 3;
  p = mi_rezalloc_aligned(p, size, 2*MI_MAX_ALIGN_SIZE);
  good = good && all_bytes(p, 0, size);
  mi_free(p);
  return good;
}

/* ---------------------------------------------------------------------------
   realloc
--------------------------------------------------------------------------- */

static bool realloc_null(void) {
  void* p = mi_realloc(NULL, 4);
  bool good = (p != NULL);
  mi_free(p);
  return good;
}

static bool realloc_null_sizezero(void) {   /* like malloc(0) */
  void* p = mi_realloc(NULL, 0);
  bool good = (p != NULL);
  mi_free(p);
  return good;
}

static bool realloc_sizezero(void) {        /* a new minimal block, not NULL */
  void* p = mi_malloc(4);
  void* q = mi_realloc(p, 0);
  bool good = (q != NULL);
  mi_free(q);
  return good;
}

static bool reallocarray_null_sizezero(void) {
  void* p = mi_reallocarray(NULL, 0, 16);
  bool good = (p != NULL && errno == 0);
  mi_free(p);
  return good;
}

/* ---------------------------------------------------------------------------
   Heaps
--------------------------------------------------------------------------- */

static bool heap_destroy(void) {   /* destroy frees the blocks with the heap */
  mi_heap_t* heap = mi_heap_new();
  int* x = mi_heap_malloc_tp(heap, int);
  int* y = mi_heap_malloc_tp(heap, int);
  if (x == NULL || y == NULL) return false;
  *x = 1; *y = 2;
  mi_heap_destroy(heap);
  return true;
}

static bool heap_delete(void) {    /* delete keeps the blocks alive */
  mi_heap_t* heap = mi_heap_new();
  int* x = mi_heap_malloc_tp(heap, int);
  int* y = mi_heap_malloc_tp(heap, int);
  if (x == NULL || y == NULL) return false;
  mi_heap_delete(heap);
  *x = 42; *y = 43;
  mi_free(x);
  mi_free(y);
  return true;
}

static bool realpath_dot(void) {
  char* s = mi_realpath(".", NULL);
#ifdef _WIN32
  bool good = (s != NULL && s[0] != 0 && s[1] == ':' && s[2] == '\\');  /* C:\... */
#else
  bool good = (s != NULL && s[0] == '/');
#endif
  mi_free(s);
  return good;
}

/* ---------------------------------------------------------------------------
   STL allocators (C++ only; trivially true in C)
--------------------------------------------------------------------------- */

#ifdef __cplusplus
struct test_item { int a; int b; double c; };

template<class Alloc> static bool vector_push_pop(const Alloc& alloc) {
  std::vector<typename Alloc::value_type, Alloc> vec(alloc);
  vec.push_back(typename Alloc::value_type());
  vec.pop_back();
  return vec.empty();
}
#endif

static bool stl_allocator1(void) {
#ifdef __cplusplus
  return vector_push_pop(mi_stl_allocator<int>());
#else
  return true;
#endif
}

static bool stl_allocator2(void) {
#ifdef __cplusplus
  return vector_push_pop(mi_stl_allocator<test_item>());
#else
  return true;
#endif
}

static bool stl_heap_allocator1(void) {
#ifdef __cplusplus
  return vector_push_pop(mi_heap_stl_allocator<test_item>());
#else
  return true;
#endif
}

static bool stl_heap_allocator2(void) {
#ifdef __cplusplus
  return vector_push_pop(mi_heap_destroy_stl_allocator<test_item>());
#else
  return true;
#endif
}

static bool stl_heap_allocator3(void) {
#ifdef __cplusplus
  mi_heap_t* heap = mi_heap_new();
  bool good = vector_push_pop(mi_heap_stl_allocator<test_item>(heap));
  mi_heap_delete(heap);
  return good;
#else
  return true;
#endif
}

static bool stl_heap_allocator4(void) {
#ifdef __cplusplus
  mi_heap_t* heap = mi_heap_new();
  bool good = vector_push_pop(mi_heap_destroy_stl_allocator<test_item>(heap));
  mi_heap_destroy(heap);
  return good;
#else
  return true;
#endif
}

/* ---------------------------------------------------------------------------
   main
--------------------------------------------------------------------------- */

int main(void) {
  mi_option_disable(mi_option_verbose);

  run_check("malloc-zero", malloc_zero);
  run_check("malloc-nomem1", malloc_nomem1);
  run_check("malloc-null", malloc_null);
  run_check("calloc-overflow", calloc_overflow);
  run_check("calloc0", calloc0);
  run_check("malloc-large", malloc_large);

  run_check("posix_memalign1", posix_memalign1);
  run_check("posix_memalign_no_align", posix_memalign_no_align);
  run_check("posix_memalign_zero", posix_memalign_zero);
  run_check("posix_memalign_nopow2", posix_memalign_nopow2);
  run_check("posix_memalign_nomem", posix_memalign_nomem);

  run_check("malloc-aligned1", malloc_aligned1);
  run_check("malloc-aligned2", malloc_aligned2);
  run_check("malloc-aligned3", malloc_aligned3);
  run_check("malloc-aligned4", malloc_aligned4);
  run_check("malloc-aligned5", malloc_aligned5);
  run_check("malloc-aligned6", malloc_aligned6);
  run_check("malloc-aligned7", malloc_aligned7);
  run_check("malloc-aligned8", malloc_aligned8);
  run_check("malloc-aligned9", malloc_aligned9);
  run_check("malloc-aligned10", malloc_aligned10);
  run_check("malloc_aligned11", malloc_aligned11);
  run_check("mimalloc-aligned12", malloc_aligned12);
  run_check("mimalloc-aligned13", malloc_aligned13);
  run_check("malloc-aligned-at1", malloc_aligned_at1);
  run_check("malloc-aligned-at2", malloc_aligned_at2);
  run_check("memalign1", memalign1);
  run_check("zalloc-aligned-small1", zalloc_aligned_small1);
  run_check("rezalloc_aligned-small1", rezalloc_aligned_small1);

  run_check("realloc-null", realloc_null);
  run_check("realloc-null-sizezero", realloc_null_sizezero);
  run_check("realloc-sizezero", realloc_sizezero);
  run_check("reallocarray-null-sizezero", reallocarray_null_sizezero);

  run_check("heap_destroy", heap_destroy);
  run_check("heap_delete", heap_delete);

#if !MI_TRACK_ASAN   /* with ASAN, libc's realpath result comes from the ASAN allocator */
  run_check("realpath", realpath_dot);
#endif

  run_check("stl_allocator1", stl_allocator1);
  run_check("stl_allocator2", stl_allocator2);
  run_check("stl_heap_allocator1", stl_heap_allocator1);
  run_check("stl_heap_allocator2", stl_heap_allocator2);
  run_check("stl_heap_allocator3", stl_heap_allocator3);
  run_check("stl_heap_allocator4", stl_heap_allocator4);

  return check_summary();
}
