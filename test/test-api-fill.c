/* ----------------------------------------------------------------------------
test-api-fill.c -- zero-initialization of every zeroing allocation function, and
in debug builds the fill patterns: fresh memory reads 0xD0 (MI_DEBUG_UNINIT) and
freed memory 0xDF (MI_DEBUG_FREED). Check names as mimalloc 2.1.7's
`test-api-fill`: 17 checks in release builds, 32 in debug builds.

Exit code: the number of failed checks.
-----------------------------------------------------------------------------*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mimalloc.h>
#include <mimalloc/types.h>   /* MI_DEBUG, MI_DEBUG_UNINIT, MI_DEBUG_FREED, MI_MAX_ALIGN_SIZE */
#include "testhelper.h"

#define SMALL_SIZE  (MI_SMALL_SIZE_MAX / 2)    /* 512 */
#define LARGE_SIZE  (MI_SMALL_SIZE_MAX * 2)    /* 2048 */
#define ALIGNMENT   (MI_MAX_ALIGN_SIZE * 2)    /* 32 */

/* Which function to test, and how: one table entry drives one family of checks. */
typedef enum alloc_kind_e {
  K_ZALLOC, K_ZALLOC_SMALL, K_CALLOC, K_REZALLOC, K_RECALLOC,
  K_ZALLOC_ALIGNED, K_CALLOC_ALIGNED, K_REZALLOC_ALIGNED, K_RECALLOC_ALIGNED,
  K_MALLOC, K_MALLOC_SMALL, K_REALLOC, K_MALLOCN, K_REALLOCN, K_MALLOC_ALIGNED, K_REALLOC_ALIGNED
} alloc_kind_t;

static alloc_kind_t current_kind;
static size_t current_size;

/* first allocation of `size` bytes with the current function */
static void* first_alloc(size_t size) {
  switch (current_kind) {
    case K_ZALLOC:           return mi_zalloc(size);
    case K_ZALLOC_SMALL:     return mi_zalloc_small(size);
    case K_CALLOC:           return mi_calloc(size, 1);
    case K_REZALLOC:         return mi_zalloc(size);
    case K_RECALLOC:         return mi_calloc(size, 1);
    case K_ZALLOC_ALIGNED:   return mi_zalloc_aligned(size, ALIGNMENT);
    case K_CALLOC_ALIGNED:   return mi_calloc_aligned(size, 1, ALIGNMENT);
    case K_REZALLOC_ALIGNED: return mi_zalloc_aligned(size, ALIGNMENT);
    case K_RECALLOC_ALIGNED: return mi_calloc_aligned(size, 1, ALIGNMENT);
    case K_MALLOC:           return mi_malloc(size);
    case K_MALLOC_SMALL:     return mi_malloc_small(size);
    case K_REALLOC:          return mi_malloc(size);
    case K_MALLOCN:          return mi_mallocn(size, 1);
    case K_REALLOCN:         return mi_mallocn(size, 1);
    case K_MALLOC_ALIGNED:   return mi_malloc_aligned(size, ALIGNMENT);
    case K_REALLOC_ALIGNED:  return mi_malloc_aligned(size, ALIGNMENT);
  }
  return NULL;
}

/* grow `p` to `size` bytes for the re-allocating kinds (NULL for the others) */
static void* grow(void* p, size_t size) {
  switch (current_kind) {
    case K_REZALLOC:         return mi_rezalloc(p, size);
    case K_RECALLOC:         return mi_recalloc(p, size, 1);
    case K_REZALLOC_ALIGNED: return mi_rezalloc_aligned(p, size, ALIGNMENT);
    case K_RECALLOC_ALIGNED: return mi_recalloc_aligned(p, 1, size, ALIGNMENT);
    case K_REALLOC:          return mi_realloc(p, size);
    case K_REALLOCN:         return mi_reallocn(p, size, 1);
    case K_REALLOC_ALIGNED:  return mi_realloc_aligned(p, size, ALIGNMENT);
    default:                 return NULL;
  }
}

static bool is_growing_kind(void) {
  switch (current_kind) {
    case K_REZALLOC: case K_RECALLOC: case K_REZALLOC_ALIGNED: case K_RECALLOC_ALIGNED:
    case K_REALLOC: case K_REALLOCN: case K_REALLOC_ALIGNED:
      return true;
    default:
      return false;
  }
}

/* allocate, check every byte is `value`; for re-allocating kinds grow x3 and check again */
static bool fill_check(int value) {
  size_t size = current_size;
  void* p = first_alloc(size);
  bool good = all_bytes(p, value, size);
  if (good && is_growing_kind()) {
    size *= 3;
    p = grow(p, size);
    good = all_bytes(p, value, size);
  }
  mi_free(p);
  return good;
}

static bool zero_check(void)   { return fill_check(0); }
#if (MI_DEBUG >= 2) && !defined(MI_TSAN)
static bool uninit_check(void) { return fill_check(MI_DEBUG_UNINIT); }
#endif

static void run_fill(const char* name, alloc_kind_t kind, size_t size, check_fun_t* check) {
  current_kind = kind;
  current_size = size;
  run_check(name, check);
}

#if (MI_DEBUG >= 2) && !defined(MI_TSAN) && !MI_TRACK_VALGRIND && !MI_TRACK_ASAN
/* after mi_free, all but the first word (the free-list link) read MI_DEBUG_FREED */
static bool freed_check(void) {
  const size_t size = current_size;
  uint8_t* p = (uint8_t*)mi_malloc(size);
  if (p == NULL) return false;
  mi_free(p);
  volatile uint8_t* q = p;   /* reading freed memory on purpose */
  for (size_t i = sizeof(void*); i < size; i++) {
    if (q[i] != MI_DEBUG_FREED) return false;
  }
  return true;
}
#endif

int main(void) {
  mi_option_disable(mi_option_verbose);

  /* zero initialization: always */
  run_fill("zeroinit-zalloc-small", K_ZALLOC, SMALL_SIZE, zero_check);
  run_fill("zeroinit-zalloc-large", K_ZALLOC, LARGE_SIZE, zero_check);
  run_fill("zeroinit-zalloc_small", K_ZALLOC_SMALL, SMALL_SIZE, zero_check);
  run_fill("zeroinit-calloc-small", K_CALLOC, SMALL_SIZE, zero_check);
  run_fill("zeroinit-calloc-large", K_CALLOC, LARGE_SIZE, zero_check);
  run_fill("zeroinit-rezalloc-small", K_REZALLOC, SMALL_SIZE, zero_check);
  run_fill("zeroinit-rezalloc-large", K_REZALLOC, LARGE_SIZE, zero_check);
  run_fill("zeroinit-recalloc-small", K_RECALLOC, SMALL_SIZE, zero_check);
  run_fill("zeroinit-recalloc-large", K_RECALLOC, LARGE_SIZE, zero_check);
  run_fill("zeroinit-zalloc_aligned-small", K_ZALLOC_ALIGNED, SMALL_SIZE, zero_check);
  run_fill("zeroinit-zalloc_aligned-large", K_ZALLOC_ALIGNED, LARGE_SIZE, zero_check);
  run_fill("zeroinit-calloc_aligned-small", K_CALLOC_ALIGNED, SMALL_SIZE, zero_check);
  run_fill("zeroinit-calloc_aligned-large", K_CALLOC_ALIGNED, LARGE_SIZE, zero_check);
  run_fill("zeroinit-rezalloc_aligned-small", K_REZALLOC_ALIGNED, SMALL_SIZE, zero_check);
  run_fill("zeroinit-rezalloc_aligned-large", K_REZALLOC_ALIGNED, LARGE_SIZE, zero_check);
  run_fill("zeroinit-recalloc_aligned-small", K_RECALLOC_ALIGNED, SMALL_SIZE, zero_check);
  run_fill("zeroinit-recalloc_aligned-large", K_RECALLOC_ALIGNED, LARGE_SIZE, zero_check);

#if (MI_DEBUG >= 2) && !defined(MI_TSAN)
  /* debug builds: uninitialized memory reads MI_DEBUG_UNINIT */
  run_fill("uninit-malloc-small", K_MALLOC, SMALL_SIZE, uninit_check);
  run_fill("uninit-malloc-large", K_MALLOC, LARGE_SIZE, uninit_check);
  run_fill("uninit-malloc_small", K_MALLOC_SMALL, SMALL_SIZE, uninit_check);
  run_fill("uninit-realloc-small", K_REALLOC, SMALL_SIZE, uninit_check);
  run_fill("uninit-realloc-large", K_REALLOC, LARGE_SIZE, uninit_check);
  run_fill("uninit-mallocn-small", K_MALLOCN, SMALL_SIZE, uninit_check);
  run_fill("uninit-mallocn-large", K_MALLOCN, LARGE_SIZE, uninit_check);
  run_fill("uninit-reallocn-small", K_REALLOCN, SMALL_SIZE, uninit_check);
  run_fill("uninit-reallocn-large", K_REALLOCN, LARGE_SIZE, uninit_check);
  run_fill("uninit-malloc_aligned-small", K_MALLOC_ALIGNED, SMALL_SIZE, uninit_check);
  run_fill("uninit-malloc_aligned-large", K_MALLOC_ALIGNED, LARGE_SIZE, uninit_check);
  run_fill("uninit-realloc_aligned-small", K_REALLOC_ALIGNED, SMALL_SIZE, uninit_check);
  run_fill("uninit-realloc_aligned-large", K_REALLOC_ALIGNED, LARGE_SIZE, uninit_check);
#if !MI_TRACK_VALGRIND && !MI_TRACK_ASAN
  run_fill("fill-freed-small", K_MALLOC, SMALL_SIZE, freed_check);
  run_fill("fill-freed-large", K_MALLOC, LARGE_SIZE, freed_check);
#endif
#endif

  return check_summary();
}
