/* The standard allocation functions, called with their plain names (no mimalloc
   header redirection): linked with libmimalloc.so, libmimalloc.a or mimalloc.o
   they must all be mimalloc's. Exit code 0 when every block is mimalloc's. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>

static int failures = 0;

static void expect_ours(const char* what, void* p) {
#ifdef MI_NO_OVERRIDE   /* a library built with MI_OVERRIDE=OFF leaves malloc to libc */
  if (p == NULL || mi_is_in_heap_region(p)) {
#else
  if (p == NULL || !mi_is_in_heap_region(p)) {
#endif
    fprintf(stderr, "%s: %p is not a mimalloc block\n", what, p);
    failures++;
  }
}

int main(void) {
  printf("mimalloc version %d\n", mi_version());   /* also keeps -lmimalloc NEEDED */

  void* p1 = malloc(78);
  void* p2 = calloc(10, 20);
  void* p3 = realloc(NULL, 100);
  expect_ours("malloc", p1);
  expect_ours("calloc", p2);
  expect_ours("realloc(NULL)", p3);
  p1 = realloc(p1, 1000);
  expect_ours("realloc", p1);
  char* s = strdup("hello, mimalloc");
  expect_ours("strdup", s);
  void* a = NULL;
  if (posix_memalign(&a, 64, 256) != 0 || ((size_t)a % 64) != 0) failures++;
  expect_ours("posix_memalign", a);
  void* b = aligned_alloc(128, 256);
  expect_ours("aligned_alloc", b);
  void* c = memalign(256, 300);
  expect_ours("memalign", c);
  if (malloc_usable_size(p2) < 200) failures++;
#ifndef MI_NO_OVERRIDE
  if (mi_usable_size(p2) != malloc_usable_size(p2)) failures++;
#endif
  void* m = mi_malloc(10);   /* the mi_ API is always there */
  if (!mi_is_in_heap_region(m)) failures++;
  mi_free(m);

  free(p1); free(p2); free(p3); free(s); free(a); free(b); free(c);
  free(NULL);
  printf("%s\n", failures == 0 ? "all allocations came from the expected allocator" : "FAILED");
  return failures;
}
