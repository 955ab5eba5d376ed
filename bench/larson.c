/* larson: a Larson & Krishnan style server simulation.
 *
 * A shared table of slots (threads x live) holds live objects. Each worker
 * thread owns a region of the table and repeatedly replaces a random slot
 * with a fresh object of random size (16..1000 bytes), freeing the object it
 * displaces. A share of the replacements (-f percent) hit a random slot
 * anywhere in the table, so objects are freed by threads other than the ones
 * that allocated them. The workers run for several rounds; each round starts
 * new threads whose regions are rotated, so every round frees the objects of
 * the threads of the previous round ("bleeding" in Larson's terms). The table
 * is prefilled by the main thread.
 *
 * Every object is self-describing (its size is encoded in the stamp), so the
 * thread that frees it checks its contents first.
 */
#include "common.h"

static _Atomic(void *) *slots;
static long long nthreads, live, ops, remote_pct;
static size_t minsz = 16, maxsz = 1000;
static uint64_t seed = 1;

typedef struct { long long id, round; uint64_t freed; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: larson [-t threads] [-n ops] [-r rounds] [-l live] [-m min] [-M max] [-f pct] [-s seed] [-x scale]\n"
    "  -t threads  worker threads per round (default: online CPUs)\n"
    "  -n ops      replacements per thread per round (default 1m)\n"
    "  -r rounds   rounds of fresh worker threads (default 4)\n"
    "  -l live     slots per thread (default 5000)\n"
    "  -m/-M       object size range (default 16..1000)\n"
    "  -f pct      percent of replacements in a random slot of any region (default 20)\n"
    "  -s seed     PRNG seed; -x scale multiplies -n\n");
  exit(2);
}

static void *worker(void *arg) {
  targ_t *a = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)(a->round * 1000 + a->id + 1));
  uint64_t total = (uint64_t)(nthreads * live);
  uint64_t base = (uint64_t)(((a->id + a->round) % nthreads) * live);
  uint64_t freed = 0;
  for (long long i = 0; i < ops; i++) {
    uint64_t idx = (rng_below(&r, 100) < (uint64_t)remote_pct) ? rng_below(&r, total)
                                                                 : base + rng_below(&r, (uint64_t)live);
    size_t n = (size_t)rng_range(&r, minsz, maxsz);
    void *p = xmalloc(n, "larson");
    stamp(p, n, 16);
    void *old = atomic_exchange_explicit(&slots[idx], p, memory_order_acq_rel);
    if (old) {
      check_self(old, minsz, maxsz, 16, "larson");
      free(old);
      freed++;
    }
  }
  a->freed = freed;
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "larson";
  nthreads = default_threads();
  ops = 1000000; live = 5000; remote_pct = 20;
  long long rounds = 4;
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "t:n:r:l:m:M:f:s:x:h")) != -1) {
    switch (c) {
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 'n': ops = parse_num(optarg, "-n"); break;
      case 'r': rounds = parse_num(optarg, "-r"); break;
      case 'l': live = parse_num(optarg, "-l"); break;
      case 'm': minsz = (size_t)parse_num(optarg, "-m"); break;
      case 'M': maxsz = (size_t)parse_num(optarg, "-M"); break;
      case 'f': remote_pct = parse_num(optarg, "-f"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (nthreads < 1 || live < 1 || rounds < 1 || minsz < 16 || maxsz < minsz || remote_pct < 0 || remote_pct > 100)
    usage();
  ops = scaled(ops, scale);

  size_t total = (size_t)(nthreads * live);
  slots = calloc(total, sizeof(*slots));
  if (!slots) bench_fail("calloc of the slot table failed");
  rng_t r;
  rng_seed(&r, seed, 0);
  for (size_t i = 0; i < total; i++) { /* prefill from the main thread */
    size_t n = (size_t)rng_range(&r, minsz, maxsz);
    void *p = xmalloc(n, "larson");
    stamp(p, n, 16);
    atomic_store_explicit(&slots[i], p, memory_order_relaxed);
  }

  pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
  targ_t *args = calloc((size_t)nthreads, sizeof(targ_t));
  uint64_t freed = 0;
  for (long long round = 0; round < rounds; round++) {
    for (long long t = 0; t < nthreads; t++) {
      args[t] = (targ_t){ .id = t, .round = round };
      xpthread_create(&th[t], worker, &args[t]);
    }
    for (long long t = 0; t < nthreads; t++) {
      pthread_join(th[t], NULL);
      freed += args[t].freed;
    }
  }

  uint64_t left = 0;
  for (size_t i = 0; i < total; i++) {
    void *p = atomic_load_explicit(&slots[i], memory_order_relaxed);
    if (p) { check_self(p, minsz, maxsz, 16, "larson(end)"); free(p); left++; }
  }
  /* Every replacement frees exactly one object, since the table was full. */
  if (freed != (uint64_t)(ops * nthreads * rounds) || left != total)
    bench_fail("lost objects: freed %llu of %llu, %llu of %zu left",
               (unsigned long long)freed, (unsigned long long)(ops * nthreads * rounds),
               (unsigned long long)left, total);
  free(slots); free(th); free(args);
  printf("larson: ok threads=%lld rounds=%lld ops=%lld\n", nthreads, rounds, ops * nthreads * rounds);
  return 0;
}
