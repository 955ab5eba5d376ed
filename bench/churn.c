/* churn: single-threaded small-object churn with mixed lifetimes.
 *
 * Models programs like cfrac or espresso (mimalloc-bench): a stream of small
 * allocations (8..1024 bytes, skewed towards small sizes) with
 *   - very short lifetimes: a LIFO stack of temporaries (pushed and popped at
 *     random, like the intermediate values of an arithmetic library),
 *   - medium lifetimes: a table of `live` slots replaced at random
 *     (exponentially distributed lifetimes),
 *   - long lifetimes: a small table replaced rarely,
 *   - some realloc of medium objects to a new random size.
 * Every object is stamped on allocation and checked before free/realloc.
 */
#include "common.h"

#define TMAX 32

typedef struct { void *p; size_t size; } slot_t;

static void usage(void) {
  fprintf(stderr,
    "usage: churn [-n ops] [-l live] [-m maxsize] [-s seed] [-x scale]\n"
    "  -n ops      operations (default 12m)\n"
    "  -l live     medium-lifetime slots (default 20000; long-lived: live/10)\n"
    "  -m maxsize  largest object (default 1024; smallest is 8)\n"
    "  -s seed     PRNG seed (default 1)\n"
    "  -x scale    multiply the operation count (e.g. 0.1 for a quick run)\n");
  exit(2);
}

static void *alloc_stamped(rng_t *r, size_t maxsz, size_t *size_out) {
  size_t n = small_size(r, 8, maxsz);
  void *p = xmalloc(n, "churn");
  stamp(p, n, 16);
  *size_out = n;
  return p;
}

int main(int argc, char **argv) {
  bench_name = "churn";
  long long ops = 12000000, live = 20000;
  size_t maxsz = 1024;
  uint64_t seed = 1;
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "n:l:m:s:x:t:h")) != -1) {
    switch (c) {
      case 'n': ops = parse_num(optarg, "-n"); break;
      case 'l': live = parse_num(optarg, "-l"); break;
      case 'm': maxsz = (size_t)parse_num(optarg, "-m"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      case 't': break; /* single-threaded; accepted for a uniform command line */
      default: usage();
    }
  }
  if (live < 10 || maxsz < 16) usage();
  ops = scaled(ops, scale);

  rng_t r;
  rng_seed(&r, seed, 0);
  long long nlong = live / 10;
  slot_t *mid = calloc((size_t)live, sizeof(slot_t));
  slot_t *lng = calloc((size_t)nlong, sizeof(slot_t));
  if (!mid || !lng) bench_fail("calloc of the slot tables failed");
  slot_t tmp[TMAX];
  int tsp = 0;
  uint64_t allocs = 0, bytes = 0, reallocs = 0;

  for (long long i = 0; i < ops; i++) {
    uint64_t u = rng_below(&r, 100);
    if (u < 45) { /* temporaries: LIFO */
      if (tsp > 0 && (tsp == TMAX || (rng_next(&r) & 1))) {
        tsp--;
        check(tmp[tsp].p, tmp[tsp].size, 16, "churn(temp)");
        free(tmp[tsp].p);
      } else {
        tmp[tsp].p = alloc_stamped(&r, maxsz, &tmp[tsp].size);
        bytes += tmp[tsp].size; allocs++;
        tsp++;
      }
    } else if (u < 93 || u >= 98) { /* replace a medium- or long-lived object */
      slot_t *s = (u < 93) ? &mid[rng_below(&r, (uint64_t)live)] : &lng[rng_below(&r, (uint64_t)nlong)];
      if (s->p) {
        check(s->p, s->size, 16, "churn(slot)");
        free(s->p);
      }
      s->p = alloc_stamped(&r, maxsz, &s->size);
      bytes += s->size; allocs++;
    } else { /* realloc a medium-lived object */
      slot_t *s = &mid[rng_below(&r, (uint64_t)live)];
      size_t n = small_size(&r, 8, maxsz);
      if (s->p) {
        check(s->p, s->size, 16, "churn(realloc)");
        uintptr_t old = (uintptr_t)s->p;
        void *q = realloc(s->p, n);
        if (!q) bench_fail("realloc(%#lx, %zu) returned NULL", (unsigned long)old, n);
        check_moved(q, old, s->size, n < s->size ? n : s->size, 16, "churn(realloc)");
        s->p = q;
      } else {
        s->p = xmalloc(n, "churn");
      }
      s->size = n;
      stamp(s->p, n, 16);
      bytes += n; reallocs++;
    }
  }

  while (tsp > 0) { tsp--; check(tmp[tsp].p, tmp[tsp].size, 16, "churn(end)"); free(tmp[tsp].p); }
  for (long long i = 0; i < live; i++)
    if (mid[i].p) { check(mid[i].p, mid[i].size, 16, "churn(end)"); free(mid[i].p); }
  for (long long i = 0; i < nlong; i++)
    if (lng[i].p) { check(lng[i].p, lng[i].size, 16, "churn(end)"); free(lng[i].p); }
  free(mid);
  free(lng);
  printf("churn: ok ops=%lld allocs=%llu reallocs=%llu bytes=%llu\n", ops,
         (unsigned long long)allocs, (unsigned long long)reallocs, (unsigned long long)bytes);
  return 0;
}
