/* Shared helpers for the allocator benchmark workloads in bench/.
 *
 * - a small deterministic PRNG (splitmix64 seeding + xorshift64*), one stream
 *   per thread, so every run of a workload performs the same allocation
 *   sequence per thread;
 * - "stamps": every object a workload allocates gets a verifiable pattern
 *   written into it (one 8-byte word every `stride` bytes plus the last word),
 *   and the pattern is checked again before the object is freed. Two live
 *   objects that overlap, an object that is handed out twice, or a realloc that
 *   loses data therefore make the workload fail loudly (exit status 99) rather
 *   than produce a fast but meaningless time;
 * - tiny option parsing helpers (numbers accept k/m/g suffixes).
 *
 * Pattern layout for an object p of `size` bytes (size >= 8):
 *   key      = H(p) ^ size
 *   word(o)  = key + o * C          (C odd)
 *   written at o = 0, stride, 2*stride, ... while o + 16 <= size,
 *   and at o = size - 8 when size >= 16.
 * word(0) == H(p) ^ size, so an object is self-describing: a thread that only
 * has the pointer (larson, producer/consumer, ...) recovers the size from it.
 * For 8 <= size < 16 only word(0) is written.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))
#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static const char *bench_name = "bench";

static void UNUSED NOINLINE bench_fail(const char *fmt, ...) {
  va_list ap;
  char buf[512];
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* No stdio buffering, no exit handlers: the allocator may be broken. */
  dprintf(2, "%s: CHECK FAILED: %s\n", bench_name, buf);
  _exit(99);
}

/* ------------------------------------------------------------------ PRNG */

typedef struct { uint64_t s; } rng_t;

static inline uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline void rng_seed(rng_t *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  r->s = splitmix64(&x);
  if (r->s == 0) r->s = 1;
}

static inline uint64_t rng_next(rng_t *r) { /* xorshift64* */
  uint64_t x = r->s;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* uniform in [0, n) */
static inline uint64_t rng_below(rng_t *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* uniform in [lo, hi] */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) {
  return lo + rng_below(r, hi - lo + 1);
}

/* Small-object size distribution skewed towards small sizes, as in real
 * programs: 50% in [lo, 64], 30% in (64, 256], 20% in (256, hi]. */
static inline size_t small_size(rng_t *r, size_t lo, size_t hi) {
  uint64_t u = rng_below(r, 100);
  size_t a, b;
  if (u < 50)      { a = lo;  b = 64; }
  else if (u < 80) { a = 65;  b = 256; }
  else             { a = 257; b = hi; }
  if (b > hi) b = hi;
  if (a < lo) a = lo;
  if (a > b) a = lo;
  return (size_t)rng_range(r, a, b);
}

/* log-uniform size in [lo, hi] */
static inline size_t log_size(rng_t *r, size_t lo, size_t hi) {
  int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
  int e = (int)rng_range(r, (uint64_t)lb, (uint64_t)hb);
  size_t base = (size_t)1 << e;
  size_t s = base + (size_t)rng_below(r, base);
  if (s < lo) s = lo;
  if (s > hi) s = hi;
  return s;
}

/* ---------------------------------------------------------------- stamps */

#define STAMP_C 0xD6E8FEB86659FD93ull

static inline uint64_t stamp_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}

static inline void word_put(void *p, size_t off, uint64_t v) {
  memcpy((char *)p + off, &v, 8);
}
static inline uint64_t word_get(const void *p, size_t off) {
  uint64_t v;
  memcpy(&v, (const char *)p + off, 8);
  return v;
}

/* Write the pattern of an object of `size` bytes at p. */
static inline void stamp(void *p, size_t size, size_t stride) {
  uint64_t key = stamp_hash(p) ^ size;
  word_put(p, 0, key);
  if (size < 16) return;
  for (size_t o = stride; o + 16 <= size; o += stride) word_put(p, o, key + o * STAMP_C);
  word_put(p, size - 8, key + (size - 8) * STAMP_C);
}

/* Check the pattern of an object whose size the caller knows. */
static inline void check(const void *p, size_t size, size_t stride, const char *what) {
  uint64_t key = stamp_hash(p) ^ size;
  if (UNLIKELY(word_get(p, 0) != key))
    bench_fail("%s: object %p (size %zu) header overwritten", what, p, size);
  if (size < 16) return;
  for (size_t o = stride; o + 16 <= size; o += stride)
    if (UNLIKELY(word_get(p, o) != key + o * STAMP_C))
      bench_fail("%s: object %p (size %zu) corrupted at offset %zu", what, p, size, o);
  if (UNLIKELY(word_get(p, size - 8) != key + (size - 8) * STAMP_C))
    bench_fail("%s: object %p (size %zu) corrupted at its end", what, p, size);
}

/* Check a self-describing object (size in [lo, hi]); returns its size. */
static inline size_t check_self(const void *p, size_t lo, size_t hi, size_t stride, const char *what) {
  size_t size = (size_t)(word_get(p, 0) ^ stamp_hash(p));
  if (UNLIKELY(size < lo || size > hi || (size < 16 && size != 8)))
    bench_fail("%s: object %p header overwritten (decodes to size %zu)", what, p, size);
  check(p, size, stride, what);
  return size;
}

/* After p = realloc(oldp, ...) of an object stamped at oldp with oldsize:
 * check that the words of the old pattern inside the first `keep` bytes
 * survived the move. */
static inline void check_moved(const void *p, uintptr_t oldp, size_t oldsize, size_t keep,
                               size_t stride, const char *what) {
  uint64_t key = stamp_hash((const void *)oldp) ^ oldsize;
  if (keep >= 8 && UNLIKELY(word_get(p, 0) != key))
    bench_fail("%s: realloc %#lx -> %p lost the first word", what, (unsigned long)oldp, p);
  if (oldsize < 16) return;
  for (size_t o = stride; o + 16 <= oldsize && o + 8 <= keep; o += stride)
    if (UNLIKELY(word_get(p, o) != key + o * STAMP_C))
      bench_fail("%s: realloc %#lx -> %p lost data at offset %zu", what, (unsigned long)oldp, p, o);
  if (oldsize <= keep && UNLIKELY(word_get(p, oldsize - 8) != key + (oldsize - 8) * STAMP_C))
    bench_fail("%s: realloc %#lx -> %p lost the last word", what, (unsigned long)oldp, p);
}

static inline void *xmalloc(size_t n, const char *what) {
  void *p = malloc(n);
  if (UNLIKELY(p == NULL)) bench_fail("%s: malloc(%zu) returned NULL", what, n);
  if (UNLIKELY(((uintptr_t)p & 7) != 0)) bench_fail("%s: malloc(%zu) = %p is not 8-aligned", what, n, p);
  return p;
}

/* ------------------------------------------------------------ arguments */

static inline long long parse_num(const char *s, const char *opt) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s) goto bad;
  switch (*end) {
    case 'k': case 'K': v *= 1e3; end++; break;
    case 'm': case 'M': v *= 1e6; end++; break;
    case 'g': case 'G': v *= 1e9; end++; break;
    default: break;
  }
  if (*end == 'i' || *end == 'I') { /* Ki/Mi/Gi: binary units */
    double dec = v;
    switch (end[-1]) {
      case 'k': case 'K': v = dec / 1e3 * 1024.0; break;
      case 'm': case 'M': v = dec / 1e6 * 1048576.0; break;
      case 'g': case 'G': v = dec / 1e9 * 1073741824.0; break;
      default: goto bad;
    }
    end++;
  }
  if (*end != '\0') goto bad;
  return (long long)v;
bad:
  fprintf(stderr, "%s: bad number '%s' for %s\n", bench_name, s, opt);
  exit(2);
}

static inline int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* Scale an iteration count by the -x factor (never below 1). */
static inline long long scaled(long long n, double scale) {
  double v = (double)n * scale;
  return v < 1 ? 1 : (long long)v;
}

static inline double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void xpthread_create(pthread_t *t, void *(*fn)(void *), void *arg) {
  int rc = pthread_create(t, NULL, fn, arg);
  if (rc != 0) {
    fprintf(stderr, "%s: pthread_create: %s\n", bench_name, strerror(rc));
    exit(2);
  }
}

/* Spin briefly, then yield: the machine may have fewer cores than threads. */
static inline void backoff(unsigned *spins) {
  if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    *spins = 0;
    sched_yield();
  }
}

#endif
