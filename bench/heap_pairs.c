/* heap_pairs N [size]: after a warm-up, N mi_heap_malloc + mi_free pairs of `size`
 * bytes on a heap made with mi_heap_new, with 16 blocks of the size kept live (the
 * steady state). The C side of callgrind-heap.sh, which compares it with the same
 * loop through the Rust API (bench/rust/src/bin/heap_pairs.rs). */
#include <stdio.h>
#include <stdlib.h>
#include <mimalloc.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 32;
  mi_heap_t *heap = mi_heap_new();
  if (!heap) return 1;
  void *keep[16];
  for (int i = 0; i < 16; i++) keep[i] = mi_heap_malloc(heap, size);
  for (int i = 0; i < 10000; i++) {
    void *p = mi_heap_malloc(heap, size);
    __asm__ volatile("" : "+r"(p) : : "memory");
    mi_free(p);
  }
  for (long i = 0; i < n; i++) {
    void *p = mi_heap_malloc(heap, size);
    if (!p) return 1;
    __asm__ volatile("" : "+r"(p) : : "memory");
    mi_free(p);
  }
  for (int i = 0; i < 16; i++) mi_free(keep[i]);
  mi_heap_delete(heap);
  return 0;
}
