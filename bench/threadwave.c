/* threadwave: waves of threads that live just long enough to allocate one
 * object, which outlives them.
 *
 * The program runs many waves; each wave starts `threads` fresh threads and
 * waits for them. Thread i of wave w
 *   1. takes the object that thread i of wave w - depth left in its slot (an
 *      object of a thread that exited long ago), checks it and frees it,
 *   2. allocates ONE small object (16..256 bytes), stamps it, publishes it in
 *      its slot, and exits.
 * The objects of every m-th thread index are freed by the main thread instead
 * (between waves). So nearly every thread touches the allocator for a single
 * allocation, and every object is freed by another thread than the one that
 * allocated it, after that thread is gone. This is the pattern of mimalloc-bench's
 * mleak: a thread's allocator state (heap, pages, segments) is set up and torn
 * down for one object, and what a dead thread owned must be reclaimed or
 * reused; an allocator that does not reuse it grows without bound (peak RSS).
 */
#include "common.h"

#define STRIDE 16
#define MINOBJ 16
#define MAXOBJ 256

static long long nthreads, waves = 3000, depth = 4, main_every = 4;
static uint64_t seed = 1;
static _Atomic(void *) *slots;          /* slots[(wave % (depth+1)) * nthreads + i] */
static _Atomic(unsigned long long) freed_by_threads;

typedef struct { long long id, wave; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: threadwave [-t threads] [-w waves] [-d depth] [-m every] [-s seed] [-x scale]\n"
    "  -t threads  threads started per wave (default: 4 x online CPUs)\n"
    "  -w waves    waves (default 3000)\n"
    "  -d depth    waves an object outlives its thread (default 4)\n"
    "  -m every    the main thread frees the objects of every m-th thread index\n"
    "              (default 4; 0: threads free all of them)\n"
    "  -s seed     PRNG seed; -x scale multiplies -w\n");
  exit(2);
}

static int main_frees(long long id) { return main_every > 0 && id % main_every == main_every - 1; }

static void *worker(void *arg) {
  const targ_t *a = arg;
  long long ring = depth + 1;
  if (a->wave >= depth && !main_frees(a->id)) {
    _Atomic(void *) *s = &slots[((a->wave - depth) % ring) * nthreads + a->id];
    void *old = atomic_exchange_explicit(s, NULL, memory_order_acq_rel);
    if (UNLIKELY(old == NULL)) bench_fail("threadwave: slot of wave %lld thread %lld is empty", a->wave - depth, a->id);
    check_self(old, MINOBJ, MAXOBJ, STRIDE, "threadwave(inherited)");
    free(old);
    atomic_fetch_add_explicit(&freed_by_threads, 1, memory_order_relaxed);
  }
  rng_t r;
  rng_seed(&r, seed, (uint64_t)(a->wave * 100003 + a->id + 1));
  size_t n = (size_t)rng_range(&r, MINOBJ, MAXOBJ);
  void *p = xmalloc(n, "threadwave");
  stamp(p, n, STRIDE);
  void *prev = atomic_exchange_explicit(&slots[(a->wave % ring) * nthreads + a->id], p, memory_order_acq_rel);
  if (UNLIKELY(prev != NULL)) bench_fail("threadwave: slot of wave %lld thread %lld was not freed", a->wave, a->id);
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "threadwave";
  nthreads = 4 * default_threads();
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "t:w:n:d:m:s:x:h")) != -1) {
    switch (c) {
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 'w': case 'n': waves = parse_num(optarg, "-w"); break;
      case 'd': depth = parse_num(optarg, "-d"); break;
      case 'm': main_every = parse_num(optarg, "-m"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (nthreads < 1 || waves < 1 || depth < 1 || main_every < 0) usage();
  waves = scaled(waves, scale);

  long long ring = depth + 1;
  slots = calloc((size_t)(ring * nthreads), sizeof *slots);
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  targ_t *args = calloc((size_t)nthreads, sizeof *args);
  if (!slots || !th || !args) bench_fail("calloc failed");
  unsigned long long freed_by_main = 0;
  double t0 = now_sec();
  for (long long w = 0; w < waves; w++) {
    if (w >= depth) { /* the main thread's share of wave w - depth */
      for (long long i = 0; i < nthreads; i++) {
        if (!main_frees(i)) continue;
        void *old = atomic_exchange_explicit(&slots[((w - depth) % ring) * nthreads + i], NULL, memory_order_acq_rel);
        if (UNLIKELY(old == NULL)) bench_fail("slot of wave %lld thread %lld is empty", w - depth, i);
        check_self(old, MINOBJ, MAXOBJ, STRIDE, "threadwave(main)");
        free(old);
        freed_by_main++;
      }
    }
    for (long long i = 0; i < nthreads; i++) {
      args[i] = (targ_t){ .id = i, .wave = w };
      xpthread_create(&th[i], worker, &args[i]);
    }
    for (long long i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  }
  /* the last `depth` waves are still alive */
  for (long long k = 0; k < ring * nthreads; k++) {
    void *p = atomic_exchange_explicit(&slots[k], NULL, memory_order_acq_rel);
    if (p) { check_self(p, MINOBJ, MAXOBJ, STRIDE, "threadwave(end)"); free(p); freed_by_main++; }
  }
  unsigned long long total = (unsigned long long)(waves * nthreads);
  unsigned long long freed = freed_by_main + atomic_load(&freed_by_threads);
  if (freed != total) bench_fail("freed %llu objects, expected %llu", freed, total);
  double t1 = now_sec();
  free(slots); free(th); free(args);
  printf("threadwave: ok threads=%lld waves=%lld objects=%llu (%llu freed by other threads) %.3f s\n",
         nthreads, waves, total, (unsigned long long)atomic_load(&freed_by_threads), t1 - t0);
  return 0;
}
