/* realloc: grow buffers with realloc from 1 KiB to several MiB, repeatedly.
 *
 * Models a string builder / vector / network buffer that is appended to in
 * chunks: each step grows the buffer by max(random 64..4096 bytes, size/8), so
 * small buffers grow in small steps and large ones geometrically (12.5%), and
 * a buffer ends at a random size in [max/2, max]. Two buffers grow
 * alternately and a few small objects are allocated and freed between steps,
 * so the memory after a buffer is not always free. An allocator that copies on
 * every large realloc spends its time in memmove; one that grows in place (or
 * remaps) does not.
 *
 * The buffer content is checked: the word at every 4 KiB offset (and the last
 * word) holds a value derived from the buffer's id and the offset; after each
 * realloc a sample of these words is checked, and all of them before free.
 */
#include "common.h"

#define STRIDE 4096

typedef struct { char *p; size_t size, target; uint64_t tag; } buf_t;

static inline uint64_t val(const buf_t *b, size_t off) { return b->tag + off * STAMP_C; }

static void usage(void) {
  fprintf(stderr,
    "usage: realloc [-n buffers] [-b concurrent] [-i initial] [-M max] [-g div] [-s seed] [-x scale]\n"
    "  -n buffers     buffers grown in total (default 900)\n"
    "  -b concurrent  buffers growing alternately (default 2)\n"
    "  -i initial     initial size (default 1Ki)\n"
    "  -M max         largest final size; final sizes are in [max/2, max] (default 8Mi)\n"
    "  -g div         grow by at least size/div per step (default 8)\n"
    "  -s seed        PRNG seed; -x scale multiplies -n\n");
  exit(2);
}

static void check_word(const buf_t *b, size_t off, const char *what) {
  if (UNLIKELY(word_get(b->p, off) != val(b, off)))
    bench_fail("%s: buffer %p of size %zu corrupted at offset %zu", what, b->p, b->size, off);
}

static void check_sample(rng_t *r, const buf_t *b, size_t size) {
  check_word(b, 0, "realloc");
  check_word(b, size - 8, "realloc");
  size_t nstrides = (size - 8) / STRIDE + 1; /* stride words at k*STRIDE <= size-8 */
  for (int i = 0; i < 4; i++) check_word(b, rng_below(r, nstrides) * STRIDE, "realloc");
}

static void check_all(const buf_t *b) {
  for (size_t off = 0; off + 8 <= b->size; off += STRIDE) check_word(b, off, "realloc(free)");
  check_word(b, b->size - 8, "realloc(free)");
}

/* Write the words of [from, size): stride words and the last word. */
static void fill(buf_t *b, size_t from) {
  for (size_t off = (from + STRIDE - 1) / STRIDE * STRIDE; off + 8 <= b->size; off += STRIDE)
    word_put(b->p, off, val(b, off));
  word_put(b->p, b->size - 8, val(b, b->size - 8));
}

static void start(buf_t *b, rng_t *r, size_t initial, size_t maxsz, uint64_t id) {
  b->size = initial;
  b->target = (size_t)rng_range(r, maxsz / 2, maxsz) & ~(size_t)7;
  b->tag = (id + 1) * 0x9E3779B97F4A7C15ull;
  b->p = xmalloc(b->size, "realloc");
  fill(b, 0);
}

int main(int argc, char **argv) {
  bench_name = "realloc";
  long long nbufs = 900, conc = 2, div = 8;
  size_t initial = 1024, maxsz = 8 * 1024 * 1024;
  uint64_t seed = 1;
  double scale = 1.0;
  int c;
  while ((c = getopt(argc, argv, "n:b:i:M:g:s:x:t:h")) != -1) {
    switch (c) {
      case 'n': nbufs = parse_num(optarg, "-n"); break;
      case 'b': conc = parse_num(optarg, "-b"); break;
      case 'i': initial = (size_t)parse_num(optarg, "-i"); break;
      case 'M': maxsz = (size_t)parse_num(optarg, "-M"); break;
      case 'g': div = parse_num(optarg, "-g"); break;
      case 's': seed = (uint64_t)parse_num(optarg, "-s"); break;
      case 'x': scale = atof(optarg); break;
      case 't': break; /* single-threaded */
      default: usage();
    }
  }
  initial &= ~(size_t)7;
  if (nbufs < 1 || conc < 1 || initial < 16 || maxsz / 2 < initial || div < 1) usage();
  nbufs = scaled(nbufs, scale);
  if (conc > nbufs) conc = nbufs;

  rng_t r;
  rng_seed(&r, seed, 0);
  buf_t *bufs = calloc((size_t)conc, sizeof(buf_t));
  enum { NSMALL = 64 };
  void *smalls[NSMALL] = { 0 };
  size_t small_sizes[NSMALL];
  long long started = 0, finished = 0;
  uint64_t steps = 0, moved = 0, bytes = 0;
  for (long long j = 0; j < conc; j++) start(&bufs[j], &r, initial, maxsz, (uint64_t)started++);

  while (finished < nbufs) {
    for (long long j = 0; j < conc; j++) {
      buf_t *b = &bufs[j];
      if (!b->p) continue;
      if (b->size >= b->target) {
        check_all(b);
        bytes += b->size;
        free(b->p);
        b->p = NULL;
        finished++;
        if (started < nbufs) start(b, &r, initial, maxsz, (uint64_t)started++);
        continue;
      }
      size_t step = (size_t)rng_range(&r, 64, 4096);
      if (b->size / (size_t)div > step) step = b->size / (size_t)div;
      size_t old = b->size;
      size_t n = (old + step + 7) & ~(size_t)7;
      if (n > b->target) n = b->target;
      char *q = realloc(b->p, n);
      if (!q) bench_fail("realloc(%p, %zu) returned NULL", b->p, n);
      if (((uintptr_t)q & 7) != 0) bench_fail("realloc returned misaligned %p", q);
      if (q != b->p) moved++;
      b->p = q;
      check_sample(&r, b, old);
      b->size = n;
      fill(b, old);
      steps++;
      /* a little unrelated small-object traffic between the steps */
      unsigned k = (unsigned)rng_below(&r, NSMALL);
      if (smalls[k]) { check(smalls[k], small_sizes[k], 16, "realloc(small)"); free(smalls[k]); }
      small_sizes[k] = small_size(&r, 16, 256);
      smalls[k] = xmalloc(small_sizes[k], "realloc(small)");
      stamp(smalls[k], small_sizes[k], 16);
    }
  }
  for (int k = 0; k < NSMALL; k++)
    if (smalls[k]) { check(smalls[k], small_sizes[k], 16, "realloc(small)"); free(smalls[k]); }
  free(bufs);
  /* `moved` depends on the allocator; it goes to stderr to keep stdout comparable. */
  printf("realloc: ok buffers=%lld steps=%llu bytes=%llu\n", nbufs, (unsigned long long)steps,
         (unsigned long long)bytes);
  fprintf(stderr, "realloc: %llu of %llu reallocs moved the buffer\n", (unsigned long long)moved,
          (unsigned long long)steps);
  return 0;
}
