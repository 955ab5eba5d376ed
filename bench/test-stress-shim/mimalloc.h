/* The part of mimalloc.h that test/test-stress.c (mimalloc 2.1.7's stress
 * test, as kept in this repository) uses, mapped onto the standard C
 * allocation functions, so that the test runs unchanged against any allocator
 * preloaded with LD_PRELOAD (bench/run.sh's `test-stress` workload). Compiled
 * with -DNDEBUG, so the debug-only calls (mi_collect, mi_debug_show_arenas)
 * are not used; the statistics calls do nothing. */
#ifndef BENCH_MIMALLOC_SHIM_H
#define BENCH_MIMALLOC_SHIM_H
#include <stdbool.h>
#include <stdlib.h>

static inline void *mi_malloc(size_t n) { return malloc(n); }
static inline void *mi_calloc(size_t count, size_t n) { return calloc(count, n); }
static inline void *mi_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void mi_free(void *p) { free(p); }
static inline void mi_stats_reset(void) {}
static inline void mi_stats_print(void *out) { (void)out; }
static inline void mi_collect(bool force) { (void)force; }
static inline void mi_debug_show_arenas(bool a, bool b, bool c) { (void)a; (void)b; (void)c; }
#endif
