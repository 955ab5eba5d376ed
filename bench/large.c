/* large: allocate, touch and free large objects (64 KiB .. 32 MiB).
 *
 * Sizes are log-uniform in [min, max]. Each object gets one stamp word per
 * 4 KiB page (so every page is touched, as a program filling a buffer would),
 * is kept in a small window of live objects (FIFO) and checked before it is
 * freed. This measures how well an allocator reuses large blocks instead of
 * going to the OS (mmap/munmap and page faults on every allocation) and how
 * much memory it keeps resident.
 */
#include "common.h"

#define PAGE 4096

static long long iters = 600, window = 4;
static size_t minsz = 64 * 1024, maxsz = 32 * 1024 * 1024;
static uint64_t seed = 1;

typedef struct { long long id; uint64_t bytes; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: large [-n iterations] [-w window] [-m min] [-M max] [-t threads] [-s seed] [-x scale]\n"
    "  -n iterations  allocations per thread (default 600)\n"
    "  -w window      live objects per thread (default 4)\n"
    "  -m/-M          size range in bytes (default 64Ki..32Mi; suffixes k/m/Ki/Mi)\n"
    "  -t threads     threads doing the same (default 1)\n"
    "  -s seed        PRNG seed; -x scale multiplies -n\n");
  exit(2);
}

static void *worker(void *arg) {
  targ_t *a = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)a->id + 1);
  void **live = calloc((size_t)window, sizeof(void *));
  size_t *sizes = calloc((size_t)window, sizeof(size_t));
  if (!live || !sizes) bench_fail("calloc failed");
  uint64_t bytes = 0;
  for (long long i = 0; i < iters; i++) {
    long long w = i % window;
    if (live[w]) { check(live[w], sizes[w], PAGE, "large"); free(live[w]); }
    size_t n = log_size(&r, minsz, maxsz);
    live[w] = xmalloc(n, "large");
    sizes[w] = n;
    stamp(live[w], n, PAGE);
    bytes += n;
  }
  for (long long w = 0; w < window; w++)
    if (live[w]) { check(live[w], sizes[w], PAGE, "large(end)"); free(live[w]); }
  free(live); free(sizes);
  a->bytes = bytes;
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "large";
  long long nthreads = 1;
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "n:w:m:M:t:s:x:h")) != -1) {
    switch (c) {
      case 'n': iters = parse_num(optarg, "-n"); break;
      case 'w': window = parse_num(optarg, "-w"); break;
      case 'm': minsz = (size_t)parse_num(optarg, "-m"); break;
      case 'M': maxsz = (size_t)parse_num(optarg, "-M"); break;
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (iters < 1 || window < 1 || minsz < 16 || maxsz < minsz || nthreads < 1) usage();
  iters = scaled(iters, scale);

  targ_t *args = calloc((size_t)nthreads, sizeof(targ_t));
  pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
  uint64_t bytes = 0;
  if (nthreads == 1) {
    worker(&args[0]);
    bytes = args[0].bytes;
  } else {
    for (long long t = 0; t < nthreads; t++) { args[t].id = t; xpthread_create(&th[t], worker, &args[t]); }
    for (long long t = 0; t < nthreads; t++) { pthread_join(th[t], NULL); bytes += args[t].bytes; }
  }
  free(args); free(th);
  printf("large: ok threads=%lld allocs=%lld bytes=%llu\n", nthreads, iters * nthreads, (unsigned long long)bytes);
  return 0;
}
