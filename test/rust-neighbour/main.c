/* A C program that links mimalloc (static library or object) together with another
   Rust static library. Exit code 0 when both work (and, with the override, the
   neighbour's allocations are mimalloc's). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <mimalloc.h>

uint64_t neighbour_sum(uint64_t n);
char* neighbour_string(void);
void neighbour_free(char* p);

int main(void) {
  int failures = 0;
  if (neighbour_sum(1000) != 499500) failures++;
  char* s = neighbour_string();
  if (s == NULL || strcmp(s, "hello from the neighbour") != 0) failures++;
#ifndef MI_NO_OVERRIDE
  if (!mi_is_in_heap_region(s)) { fprintf(stderr, "the neighbour's allocation is not mimalloc's\n"); failures++; }
#endif
  neighbour_free(s);
  void* p = mi_malloc(100);
  if (!mi_is_in_heap_region(p)) failures++;
  mi_free(p);
  printf("mimalloc %d and another Rust library in one program: %s\n", mi_version(), failures == 0 ? "ok" : "FAILED");
  return failures;
}
