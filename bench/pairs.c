/* pairs: N malloc/free pairs of one size, for instruction counting under
 * callgrind (see callgrind.sh).
 *
 *   pairs N [size] [pairs|live|loop]
 *
 * A warm-up of 10000 pairs runs first in every mode, so the difference of the
 * instruction counts of a run with N pairs and one with N = 0 is the cost of
 * N steady-state pairs. Modes:
 *   pairs  malloc(size) + free in a loop: the page/span of that size class
 *          holds no other live block, so every free empties it (mimalloc then
 *          takes its page-retire path on each free);
 *   live   the same, but 16 blocks of the same size stay allocated throughout,
 *          so the page never becomes empty (the common steady state of a real
 *          program);
 *   loop   the same loop without calling the allocator, to measure the
 *          overhead of the loop itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void warmup(size_t size) {
  for (int i = 0; i < 10000; i++) {
    void *p = malloc(size);
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pairs N [size] [pairs|loop]\n");
    return 2;
  }
  long n = atol(argv[1]);
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 32;
  const char *mode = argc > 3 ? argv[3] : "pairs";
  int loop_only = strcmp(mode, "loop") == 0;
  void *keep[16] = { 0 };
  if (strcmp(mode, "live") == 0)
    for (int i = 0; i < 16; i++) keep[i] = malloc(size);
  else if (!loop_only && strcmp(mode, "pairs") != 0) {
    fprintf(stderr, "pairs: unknown mode %s\n", mode);
    return 2;
  }
  warmup(size);
  if (loop_only) {
    static char dummy[64];
    for (long i = 0; i < n; i++) {
      void *p = dummy;
      __asm__ volatile("" : "+r"(p) : : "memory");
      __asm__ volatile("" : : "r"(p) : "memory");
    }
  } else {
    for (long i = 0; i < n; i++) {
      void *p = malloc(size);
      if (!p) return 1;
      __asm__ volatile("" : : "r"(p) : "memory");
      free(p);
    }
  }
  for (int i = 0; i < 16; i++) free(keep[i]);
  return 0;
}
