/* threadchurn: short-lived threads whose objects outlive them.
 *
 * The program runs many rounds; each round starts `threads` fresh threads and
 * waits for them. A thread of round r
 *   1. frees the objects left behind by a thread of round r - depth (another
 *      thread, long gone: its memory was abandoned when it exited),
 *   2. churns through some temporaries of its own,
 *   3. allocates `keep` objects (mostly small, some up to 64 KiB) and leaves
 *      them behind for a thread of round r + depth, then exits.
 * This is the pattern of thread-pool-less servers and of mstress: allocator
 * state per thread is created and torn down constantly, and memory owned by
 * exited threads must be reclaimed or reused.
 */
#include "common.h"

#define STRIDE 64
#define MAXOBJ (64 * 1024)

static long long nthreads, rounds = 300, keep = 1000, temps = 4000, depth = 3;
static uint64_t seed = 1;
static void ***gens; /* gens[(round % (depth+1)) * nthreads + thread] -> keep pointers */

typedef struct { long long id, round; uint64_t freed, bytes; } targ_t;

static void usage(void) {
  fprintf(stderr,
    "usage: threadchurn [-t threads] [-r rounds] [-k keep] [-c temps] [-d depth] [-s seed] [-x scale]\n"
    "  -t threads  threads started per round (default: 2 x online CPUs)\n"
    "  -r rounds   rounds (default 300)\n"
    "  -k keep     objects each thread leaves behind (default 1000)\n"
    "  -c temps    temporary allocations per thread (default 4000)\n"
    "  -d depth    rounds an object outlives its thread (default 3)\n"
    "  -s seed     PRNG seed; -x scale multiplies -r\n");
  exit(2);
}

static size_t obj_size(rng_t *r) {
  if (rng_below(r, 100) < 8) return log_size(r, 1025, MAXOBJ);
  return small_size(r, 16, 1024);
}

static void *worker(void *arg) {
  targ_t *a = arg;
  rng_t r;
  rng_seed(&r, seed, (uint64_t)(a->round * 100000 + a->id + 1));
  long long ring = depth + 1;
  /* 1. free what a thread of round - depth left behind */
  void **old = gens[((a->round + 1) % ring) * nthreads + (a->id + 1) % nthreads];
  uint64_t freed = 0;
  if (a->round >= depth) {
    for (long long i = 0; i < keep; i++) {
      check_self(old[i], 16, MAXOBJ, STRIDE, "threadchurn(inherited)");
      free(old[i]);
      old[i] = NULL;
      freed++;
    }
  }
  /* 2. temporaries: a LIFO stack */
  void *stack[16];
  int sp = 0;
  for (long long i = 0; i < temps; i++) {
    if (sp > 0 && (sp == 16 || (rng_next(&r) & 1))) {
      sp--;
      check_self(stack[sp], 16, MAXOBJ, STRIDE, "threadchurn(temp)");
      free(stack[sp]);
    } else {
      size_t n = small_size(&r, 16, 1024);
      stack[sp] = xmalloc(n, "threadchurn");
      stamp(stack[sp], n, STRIDE);
      sp++;
    }
  }
  while (sp > 0) { sp--; check_self(stack[sp], 16, MAXOBJ, STRIDE, "threadchurn(temp)"); free(stack[sp]); }
  /* 3. leave objects behind */
  void **mine = gens[(a->round % ring) * nthreads + a->id];
  uint64_t bytes = 0;
  for (long long i = 0; i < keep; i++) {
    size_t n = obj_size(&r);
    mine[i] = xmalloc(n, "threadchurn");
    stamp(mine[i], n, STRIDE);
    bytes += n;
  }
  a->freed = freed;
  a->bytes = bytes;
  return NULL;
}

int main(int argc, char **argv) {
  bench_name = "threadchurn";
  nthreads = 2 * default_threads();
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "t:r:k:c:d:s:x:n:h")) != -1) {
    switch (c) {
      case 't': nthreads = parse_num(optarg, "-t"); break;
      case 'r': case 'n': rounds = parse_num(optarg, "-r"); break;
      case 'k': keep = parse_num(optarg, "-k"); break;
      case 'c': temps = parse_num(optarg, "-c"); break;
      case 'd': depth = parse_num(optarg, "-d"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      default: usage();
    }
  }
  if (nthreads < 1 || rounds < 1 || keep < 1 || temps < 0 || depth < 1) usage();
  rounds = scaled(rounds, scale);
  if (rounds <= depth) rounds = depth + 1;

  long long ring = depth + 1;
  gens = calloc((size_t)(ring * nthreads), sizeof(void **));
  if (!gens) bench_fail("calloc failed");
  for (long long i = 0; i < ring * nthreads; i++) {
    gens[i] = calloc((size_t)keep, sizeof(void *));
    if (!gens[i]) bench_fail("calloc failed");
  }
  pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
  targ_t *args = calloc((size_t)nthreads, sizeof(targ_t));
  uint64_t freed = 0, bytes = 0;
  for (long long round = 0; round < rounds; round++) {
    for (long long t = 0; t < nthreads; t++) {
      args[t] = (targ_t){ .id = t, .round = round };
      xpthread_create(&th[t], worker, &args[t]);
    }
    for (long long t = 0; t < nthreads; t++) {
      pthread_join(th[t], NULL);
      freed += args[t].freed;
      bytes += args[t].bytes;
    }
  }
  /* the last `depth` generations are still alive */
  for (long long i = 0; i < ring * nthreads; i++) {
    for (long long k = 0; k < keep; k++) {
      if (gens[i][k]) { check_self(gens[i][k], 16, MAXOBJ, STRIDE, "threadchurn(end)"); free(gens[i][k]); freed++; }
    }
    free(gens[i]);
  }
  if (freed != (uint64_t)(rounds * nthreads * keep))
    bench_fail("freed %llu objects, expected %llu", (unsigned long long)freed,
               (unsigned long long)(rounds * nthreads * keep));
  free(gens); free(th); free(args);
  printf("threadchurn: ok threads=%lld rounds=%lld objects=%lld bytes=%llu\n", nthreads, rounds,
         rounds * nthreads * keep, (unsigned long long)bytes);
  return 0;
}
