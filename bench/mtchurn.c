/* mtchurn: multi-threaded small-object churn (mstress / xmalloc-test style).
 *
 * Every thread runs the single-threaded churn pattern (LIFO temporaries and a
 * table of `live` medium-lifetime objects of 16..1024 bytes) on its own, in
 * parallel with the others. When a thread retires an object from its table,
 * with probability -f percent it does not free it but swaps it into a random
 * slot of a shared exchange table and frees whatever object it gets back,
 * which was usually allocated by another thread. This measures the scalability
 * of the thread-local fast paths together with a steady trickle of cross-thread
 * frees.
 */
#include "common.h"

#define TMAX 16

static long long nthreads, ops = 16000000, live = 5000, remote_pct = 10;
static size_t maxsz = 1024;
static uint64_t seed = 1;
static _Atomic(void *) *xtab;
static size_t xtab_len;

typedef struct { long long id; uint64_t allocs; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: mtchurn [-t threads] [-n ops] [-l live] [-f pct] [-m maxsize] [-s seed] [-x scale]\n"
    "  -t threads  threads (default: online CPUs)\n"
    "  -n ops      operations per thread (default 16m)\n"
    "  -l live     medium-lifetime objects per thread (default 5000)\n"
    "  -f pct      percent of retired objects passed through the shared table (default 10)\n"
    "  -m maxsize  largest object (default 1024; smallest is 16)\n"
    "  -s seed     PRNG seed; -x scale multiplies -n\n");
  exit(2);
}

static inline void *alloc_obj(rng_t *r) {
  size_t n = small_size(r, 16, maxsz);
  void *p = xmalloc(n, "mtchurn");
  stamp(p, n, 16);
  return p;
}

static inline void free_obj(void *p, const char *what) {
  check_self(p, 16, maxsz, 16, what);
  free(p);
}

static void *worker(void *arg) {
  targ_t *a = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)a->id + 1);
  void **tab = calloc((size_t)live, sizeof(void *));
  if (!tab) bench_fail("calloc failed");
  void *tmp[TMAX];
  int tsp = 0;
  uint64_t allocs = 0;
  for (long long i = 0; i < ops; i++) {
    if (rng_below(&r, 100) < 40) {
      if (tsp > 0 && (tsp == TMAX || (rng_next(&r) & 1))) {
        free_obj(tmp[--tsp], "mtchurn(temp)");
      } else {
        tmp[tsp++] = alloc_obj(&r);
        allocs++;
      }
      continue;
    }
    void **s = &tab[rng_below(&r, (uint64_t)live)];
    if (*s) {
      if (rng_below(&r, 100) < (uint64_t)remote_pct) {
        void *got = atomic_exchange_explicit(&xtab[rng_below(&r, xtab_len)], *s, memory_order_acq_rel);
        if (got) free_obj(got, "mtchurn(exchanged)");
      } else {
        free_obj(*s, "mtchurn(local)");
      }
    }
    *s = alloc_obj(&r);
    allocs++;
  }
  while (tsp > 0) free_obj(tmp[--tsp], "mtchurn(end)");
  for (long long i = 0; i < live; i++)
    if (tab[i]) free_obj(tab[i], "mtchurn(end)");
  free(tab);
  a->allocs = allocs;
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "mtchurn";
  nthreads = default_threads();
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "t:n:l:f:m:s:x:h")) != -1) {
    switch (c) {
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 'n': ops = parse_num(optarg, "-n"); break;
      case 'l': live = parse_num(optarg, "-l"); break;
      case 'f': remote_pct = parse_num(optarg, "-f"); break;
      case 'm': maxsz = (size_t)parse_num(optarg, "-m"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (nthreads < 1 || live < 1 || remote_pct < 0 || remote_pct > 100 || maxsz < 16) usage();
  ops = scaled(ops, scale);

  xtab_len = (size_t)(256 * nthreads);
  xtab = calloc(xtab_len, sizeof(*xtab));
  pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
  targ_t *args = calloc((size_t)nthreads, sizeof(targ_t));
  if (!xtab || !th || !args) bench_fail("calloc failed");
  for (long long t = 0; t < nthreads; t++) { args[t].id = t; xpthread_create(&th[t], worker, &args[t]); }
  uint64_t allocs = 0;
  for (long long t = 0; t < nthreads; t++) { pthread_join(th[t], NULL); allocs += args[t].allocs; }
  for (size_t i = 0; i < xtab_len; i++) {
    void *p = atomic_load_explicit(&xtab[i], memory_order_relaxed);
    if (p) free_obj(p, "mtchurn(end)");
  }
  free(xtab); free(th); free(args);
  printf("mtchurn: ok threads=%lld ops=%lld allocs=%llu\n", nthreads, ops * nthreads, (unsigned long long)allocs);
  return 0;
}
