/* ----------------------------------------------------------------------------
ov-common.h -- shared helpers of the override tests (test/override/).

The same sources are built twice (or three times):
  - "plain": linked with nothing of ours and run with LD_PRELOAD=libmimalloc.so;
    the mimalloc API is found with dlsym(RTLD_DEFAULT, ...), and a missing API
    (the preload did not happen) is a loud failure;
  - "linked" (OV_LINKED defined): linked with mimalloc.o (static override) or with
    libmimalloc.so, calling the API directly.

A check that fails prints `file:line: CHECK FAILED: <condition>` and counts; the
programs exit with a non-zero status if any check failed (also in forked children).
-----------------------------------------------------------------------------*/
#ifndef OV_COMMON_H
#define OV_COMMON_H

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef OV_LINKED
#include <mimalloc.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ov_api_s {
  bool   (*is_in_heap_region)(const void* p);
  size_t (*usable_size)(const void* p);
  int    (*version)(void);
} ov_api_t;

static ov_api_t ov_api;
static int ov_failures;   /* updated atomically: checks also fail in threads */

#define OV_FAIL(...) do {                                                       \
    __atomic_add_fetch(&ov_failures, 1, __ATOMIC_RELAXED);                       \
    fprintf(stderr, "%s:%d: CHECK FAILED: ", __FILE__, __LINE__);               \
    fprintf(stderr, __VA_ARGS__);                                               \
    fputc('\n', stderr);                                                        \
  } while (0)

#define OV_CHECK(cond) do { if (!(cond)) OV_FAIL("%s", #cond); } while (0)

/* a failure after which going on makes no sense */
#define OV_FATAL(...) do {                                                      \
    fprintf(stderr, "%s:%d: FATAL: ", __FILE__, __LINE__);                      \
    fprintf(stderr, __VA_ARGS__);                                               \
    fputc('\n', stderr);                                                        \
    _exit(99);                                                                  \
  } while (0)

static inline int ov_failed(void) { return __atomic_load_n(&ov_failures, __ATOMIC_RELAXED); }

/* Find the mimalloc API: directly when linked, else in the process (LD_PRELOAD). */
static inline void ov_init(void) {
#ifdef OV_LINKED
  ov_api.is_in_heap_region = &mi_is_in_heap_region;
  ov_api.usable_size = &mi_usable_size;
  ov_api.version = &mi_version;
#else
  *(void**)&ov_api.is_in_heap_region = dlsym(RTLD_DEFAULT, "mi_is_in_heap_region");
  *(void**)&ov_api.usable_size = dlsym(RTLD_DEFAULT, "mi_usable_size");
  *(void**)&ov_api.version = dlsym(RTLD_DEFAULT, "mi_version");
  if (ov_api.is_in_heap_region == NULL || ov_api.usable_size == NULL || ov_api.version == NULL) {
    const char* pre = getenv("LD_PRELOAD");
    OV_FATAL("the mimalloc API is not in the process: is libmimalloc.so preloaded? (LD_PRELOAD=%s)",
             pre == NULL ? "(unset)" : pre);
  }
#endif
  if (ov_api.version() < 200) OV_FATAL("mi_version() = %d", ov_api.version());
}

/* `p` is a mimalloc block */
static inline bool ov_ours(const void* p) {
  return p != NULL && ov_api.is_in_heap_region(p);
}

#define OV_CHECK_OURS(p) do {                                                   \
    const void* ov_p_ = (const void*)(p);                                       \
    if (!ov_ours(ov_p_)) OV_FAIL("%s = %p is not a mimalloc block", #p, ov_p_);  \
  } while (0)

/* deterministic pseudo random numbers (splitmix64) */
typedef struct ov_rng_s { uint64_t state; } ov_rng_t;
static inline uint64_t ov_rand(ov_rng_t* r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* a size: mostly small, some medium, a few large, and (if `huge`) 1 in 500 over
   32 MiB; about 13 KiB on average without the huge ones */
static inline size_t ov_rand_size(ov_rng_t* r, bool huge) {
  uint64_t x = ov_rand(r);
  uint64_t y = x >> 32;
  switch (x % 1000) {
    case 0: case 1:
      return (huge ? ((size_t)32 << 20) + (size_t)(y % ((uint64_t)8 << 20)) : (size_t)1 << 20);
    case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10: case 11:
      return ((size_t)64 << 10) + (size_t)(y % ((uint64_t)2 << 20));
    default:
      if (x % 1000 < 112) return 1024 + (size_t)(y % (15 * 1024));
      return 1 + (size_t)(y % 512);
  }
}

/* a small size: 1..256 bytes, sometimes up to 8 KiB, rarely up to 128 KiB (about
   650 bytes on average) */
static inline size_t ov_rand_small(ov_rng_t* r) {
  uint64_t x = ov_rand(r);
  uint64_t y = x >> 32;
  switch (x % 200) {
    case 0: return 8192 + (size_t)(y % (120 * 1024));
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9:
      return 256 + (size_t)(y % (8 * 1024 - 256));
    default: return 1 + (size_t)(y % 256);
  }
}

/* Fill a block with a pattern derived from `seed`: the first and last 64 bytes and
   about 32 bytes in between (at least 4 KiB apart), enough to see overlaps and
   corruption without touching every page of a large block. */
static inline unsigned char ov_pattern(uintptr_t seed, size_t i) {
  return (unsigned char)((seed * 31u) ^ (i * 7u) ^ (seed >> 8));
}
static inline size_t ov_fill_next(size_t i, size_t n) {
  if (i < 64 || i + 64 >= n) return i + 1;
  size_t step = (n / 32 < 4096 ? 4096 : n / 32);
  return (i + step < n - 64 ? i + step : n - 64);
}
static inline void ov_fill(void* p, size_t n, uintptr_t seed) {
  unsigned char* q = (unsigned char*)p;
  for (size_t i = 0; i < n; i = ov_fill_next(i, n)) q[i] = ov_pattern(seed, i);
}
static inline bool ov_check_fill(const void* p, size_t n, uintptr_t seed) {
  const unsigned char* q = (const unsigned char*)p;
  for (size_t i = 0; i < n; i = ov_fill_next(i, n)) {
    if (q[i] != ov_pattern(seed, i)) return false;
  }
  return true;
}
/* the first `prefix` bytes of a block of `n` bytes filled by ov_fill (after a shrink) */
static inline bool ov_check_fill_prefix(const void* p, size_t prefix, size_t n, uintptr_t seed) {
  const unsigned char* q = (const unsigned char*)p;
  for (size_t i = 0; i < n && i < prefix; i = ov_fill_next(i, n)) {
    if (q[i] != ov_pattern(seed, i)) return false;
  }
  return true;
}

#ifdef __cplusplus
}
#endif

#endif /* OV_COMMON_H */
