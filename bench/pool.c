/* pool: short-lived threads working on a shared pool of objects that outlives
 * them (the shape of mimalloc's test-stress / mimalloc-bench's mstress).
 *
 * A shared array of `slots` object pointers is updated only with atomic
 * exchanges. The program runs rounds; each round starts `threads` fresh
 * threads and waits for them. Every thread performs `ops` operations, each on
 * a random slot:
 *   - 90%: allocate a new object (sizes: 90% 16..1024 bytes, 9% 1..32 KiB,
 *     1% 32..256 KiB), stamp it, and exchange it into the slot;
 *   - 10%: empty the slot;
 * and checks and frees the object it displaced: usually one allocated by
 * another thread, most often by a thread of an earlier round that has exited.
 * So allocator state per thread is set up and torn down every round, most
 * frees are remote frees into pages of dead threads, and the live set (about
 * 40 MiB with the defaults) stays in the pool while its owners come and go:
 * an allocator must reclaim the abandoned memory to keep its footprint (peak
 * RSS) bounded.
 */
#include "common.h"

#define MINOBJ 16
#define MAXOBJ (256 * 1024)

static long long nthreads, rounds = 40, ops = 25000, nslots = 20000;
static uint64_t seed = 1;
static _Atomic(void *) *slots;
static _Atomic(unsigned long long) n_alloc, n_free;

typedef struct { long long id, round; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: pool [-t threads] [-r rounds] [-k ops] [-n slots] [-s seed] [-x scale]\n"
    "  -t threads  threads started per round (default: 2 x online CPUs)\n"
    "  -r rounds   rounds (default 40)\n"
    "  -k ops      operations per thread (default 25000)\n"
    "  -n slots    objects in the shared pool (default 20000)\n"
    "  -s seed     PRNG seed; -x scale multiplies -r\n");
  exit(2);
}

/* One stamp word every 16 bytes for small objects, one per 4 KiB page for
 * the larger ones (every page is touched). */
static size_t stride_of(size_t size) { return size <= 1024 ? 16 : 4096; }

static size_t obj_size(rng_t *r) {
  uint64_t u = rng_below(r, 100);
  if (u < 90) return small_size(r, MINOBJ, 1024);
  if (u < 99) return log_size(r, 1025, 32 * 1024);
  return log_size(r, 32 * 1024 + 1, MAXOBJ);
}

static void check_free(void *p, const char *what) {
  size_t size = (size_t)(word_get(p, 0) ^ stamp_hash(p));
  if (UNLIKELY(size < MINOBJ || size > MAXOBJ))
    bench_fail("%s: object %p header overwritten (decodes to size %zu)", what, p, size);
  check(p, size, stride_of(size), what);
  free(p);
}

static void *worker(void *arg) {
  const targ_t *a = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)(a->round * 100003 + a->id + 1));
  unsigned long long allocs = 0, frees = 0;
  for (long long i = 0; i < ops; i++) {
    long long j = (long long)rng_below(&r, (uint64_t)nslots);
    void *p = NULL;
    if (rng_below(&r, 10) != 0) {
      size_t n = obj_size(&r);
      p = xmalloc(n, "pool");
      stamp(p, n, stride_of(n));
      allocs++;
    }
    void *old = atomic_exchange_explicit(&slots[j], p, memory_order_acq_rel);
    if (old) { check_free(old, "pool(displaced)"); frees++; }
  }
  atomic_fetch_add_explicit(&n_alloc, allocs, memory_order_relaxed);
  atomic_fetch_add_explicit(&n_free, frees, memory_order_relaxed);
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "pool";
  nthreads = 2 * default_threads();
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "t:r:k:n:s:x:h")) != -1) {
    switch (c) {
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 'r': rounds = parse_num(optarg, "-r"); break;
      case 'k': ops = parse_num(optarg, "-k"); break;
      case 'n': nslots = parse_num(optarg, "-n"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (nthreads < 1 || rounds < 1 || ops < 1 || nslots < 1) usage();
  rounds = scaled(rounds, scale);

  slots = calloc((size_t)nslots, sizeof *slots);
  pthread_t *th = calloc((size_t)nthreads, sizeof *th);
  targ_t *args = calloc((size_t)nthreads, sizeof *args);
  if (!slots || !th || !args) bench_fail("calloc failed");
  double t0 = now_sec();
  for (long long round = 0; round < rounds; round++) {
    for (long long t = 0; t < nthreads; t++) {
      args[t] = (targ_t){ .id = t, .round = round };
      xpthread_create(&th[t], worker, &args[t]);
    }
    for (long long t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
  }
  unsigned long long live = 0;
  for (long long j = 0; j < nslots; j++) {
    void *p = atomic_exchange_explicit(&slots[j], NULL, memory_order_acq_rel);
    if (p) { check_free(p, "pool(end)"); live++; }
  }
  unsigned long long allocs = atomic_load(&n_alloc), frees = atomic_load(&n_free) + live;
  if (allocs != frees) bench_fail("allocated %llu objects but freed %llu", allocs, frees);
  double t1 = now_sec();
  free(slots); free(th); free(args);
  printf("pool: ok threads=%lld rounds=%lld ops=%lld slots=%lld allocs=%llu live-at-end=%llu %.3f s\n",
         nthreads, rounds, rounds * nthreads * ops, nslots, allocs, live, t1 - t0);
  return 0;
}
