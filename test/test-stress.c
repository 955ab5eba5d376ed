/* ----------------------------------------------------------------------------
test-stress.c -- multi-threaded stress test of mi_calloc / mi_realloc / mi_free
with blocks that move between threads and outlive the thread that allocated them.

  mimalloc-test-stress [THREADS] [SCALE] [ITER]     (defaults: 32 25 50)

Every round starts THREADS fresh threads (so thread heaps are created and torn
down all the time, and their pages abandoned and reclaimed) and joins them. Thread
`tid` makes 100*SCALE*(tid%8+1) allocations, keeps half as many blocks alive, frees
random earlier blocks (66%), and swaps blocks with a global transfer array (25%), so
that other threads free them. Every block is filled with a pattern derived from its
size and checked before it is freed: a mismatch prints "memory corruption" and
aborts. Sizes are mostly small, 1% are large (up to about 5 MiB).
-----------------------------------------------------------------------------*/
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

static int  THREADS = 32;
static int  SCALE   = 25;
static int  ITER    = 50;
static bool allow_large_objects = true;

#define TRANSFERS      1000
#define ARRAY_STEP     100000
static _Atomic(uintptr_t) transfer[TRANSFERS];

static const uintptr_t cookie = (uintptr_t)0xbf58476d1ce4e5b9ULL;

/* per-thread pseudo random numbers (splitmix64) */
typedef struct rng_s { uint64_t state; } rng_t;
static uint64_t rng_next(rng_t* r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static bool chance(rng_t* r, unsigned percent) {
  return (rng_next(r) % 100) < percent;
}

/* A block holds `items` words; word i is (items - i) ^ cookie, so the size can be
   recovered from the first word and every word checked. */
static uintptr_t* alloc_items(size_t items, rng_t* r) {
  if (chance(r, 1)) {                                       /* 1% are large */
    if (allow_large_objects && chance(r, 1)) items *= 10000;  /* .. up to ~5 MiB */
    else if (chance(r, 10) && allow_large_objects) items *= 1000;
    else items *= 100;
  }
  if (items == 40) items++;   /* a size that is not a power of two, for variety */
  uintptr_t* p = (uintptr_t*)mi_calloc(items, sizeof(uintptr_t));
  if (p == NULL) {
    fprintf(stderr, "out of memory allocating %zu words\n", items);
    abort();
  }
  for (size_t i = 0; i < items; i++) {
    assert(p[i] == 0);   /* calloc zeroes (checked in debug builds) */
    p[i] = (items - i) ^ cookie;
  }
  return p;
}

static void free_items(void* block) {
  uintptr_t* p = (uintptr_t*)block;
  if (p == NULL) return;
  const size_t items = p[0] ^ cookie;
  for (size_t i = 0; i < items; i++) {
    if ((p[i] ^ cookie) != items - i) {
      fprintf(stderr, "memory corruption at block %p at %zu\n", (void*)p, i);
      abort();
    }
  }
  mi_free(p);
}

/* grow a pointer array with mi_realloc, in steps of ARRAY_STEP entries */
static void** ensure_capacity(void** arr, size_t* capacity, size_t needed) {
  if (needed <= *capacity) return arr;
  size_t newcap = *capacity + ARRAY_STEP;
  void** p = (void**)mi_realloc(arr, newcap * sizeof(void*));
  if (p == NULL) { fprintf(stderr, "out of memory growing an array\n"); abort(); }
  memset(p + *capacity, 0, (newcap - *capacity) * sizeof(void*));
  *capacity = newcap;
  return p;
}

static void* stress(void* arg) {
  const uintptr_t tid = (uintptr_t)arg;
  rng_t r = { (uint64_t)(tid + 1) * 0x7feb352dULL };
  size_t alloc_cap = 0, alloc_n = 0;
  size_t retain_cap = 0, retain_n = 0;
  void** allocs = NULL;
  void** retained = NULL;
  long allocs_left = 100L * SCALE * (long)(tid % 8 + 1);
  long retain_left = allocs_left / 2;

  while (allocs_left > 0 || retain_left > 0) {
    if (retain_left == 0 || (chance(&r, 50) && allocs_left > 0)) {
      /* a short-lived block */
      allocs_left--;
      allocs = ensure_capacity(allocs, &alloc_cap, alloc_n + 1);
      allocs[alloc_n++] = alloc_items((size_t)1 << (rng_next(&r) % 5), &r);
    }
    else {
      /* a block that lives until the end of the thread */
      retain_left--;
      retained = ensure_capacity(retained, &retain_cap, retain_n + 1);
      retained[retain_n++] = alloc_items((size_t)1 << (rng_next(&r) % 7), &r);
    }
    if (alloc_n > 0 && chance(&r, 66)) {
      /* free a random earlier block */
      size_t i = (size_t)(rng_next(&r) % alloc_n);
      free_items(allocs[i]);
      allocs[i] = NULL;
    }
    if (alloc_n > 0 && chance(&r, 25)) {
      /* swap with the transfer array: another thread frees it, or it outlives us */
      size_t i = (size_t)(rng_next(&r) % alloc_n);
      size_t j = (size_t)(rng_next(&r) % TRANSFERS);
      allocs[i] = (void*)atomic_exchange_explicit(&transfer[j], (uintptr_t)allocs[i], memory_order_acq_rel);
    }
  }

  for (size_t i = 0; i < retain_n; i++) free_items(retained[i]);
  for (size_t i = 0; i < alloc_n; i++)  free_items(allocs[i]);
  mi_free(retained);
  mi_free(allocs);
  return NULL;
}

static void run_round(void) {
  pthread_t* threads = (pthread_t*)mi_calloc((size_t)THREADS, sizeof(pthread_t));
  if (threads == NULL) abort();
  for (int t = 0; t < THREADS; t++) {
    if (pthread_create(&threads[t], NULL, &stress, (void*)(uintptr_t)t) != 0) {
      fprintf(stderr, "cannot create thread %d\n", t);
      abort();
    }
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
  }
  mi_free(threads);
}

int main(int argc, char** argv) {
  if (argc >= 2) { long n = strtol(argv[1], NULL, 10); if (n > 0) THREADS = (int)n; }
  if (argc >= 3) { long n = strtol(argv[2], NULL, 10); if (n > 0) SCALE = (int)n; }
  if (argc >= 4) { long n = strtol(argv[3], NULL, 10); if (n > 0) ITER = (int)n; }
  printf("Using %d threads with a %d%% load-per-thread and %d iterations %s\n",
         THREADS, SCALE, ITER, (allow_large_objects ? "(allow large objects)" : ""));
  mi_stats_reset();

  for (int round = 0; round < ITER; round++) {
    run_round();
#ifndef NDEBUG
    if ((round + 1) % 10 == 0) { printf("- iterations left: %3d\n", ITER - (round + 1)); }
#endif
    /* the main thread frees half of the transfer slots (all of them at the end) */
    const bool last = (round == ITER - 1);
    for (size_t i = 0; i < TRANSFERS; i++) {
      if (last || (i % 2) == (size_t)(round % 2)) {
        void* p = (void*)atomic_exchange_explicit(&transfer[i], (uintptr_t)0, memory_order_acq_rel);
        free_items(p);
      }
    }
  }

#ifndef NDEBUG
  mi_collect(false);
  mi_debug_show_arenas(true, true, true);
#endif
  mi_stats_print(NULL);
  return 0;
}
