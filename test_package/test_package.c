/* test_package (C): the package's library links and works; with the override option,
   plain malloc is mimalloc's. */
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  void* p = mi_malloc(100);
  if (p == NULL || !mi_is_in_heap_region(p)) return 1;
  p = mi_realloc(p, 10000);
  memset(p, 1, 10000);
  mi_free(p);
  char* s = (char*)malloc(32);
  if (s == NULL) return 1;
  strcpy(s, "malloc");
#ifdef MI_TEST_OVERRIDE
  if (!mi_is_in_heap_region(s)) {
    fprintf(stderr, "test_package: malloc is not mimalloc's although the package overrides it\n");
    return 1;
  }
#endif
  free(s);
  printf("test_package: mimalloc %d (" MI_TEST_KIND ")\n", mi_version());
  return 0;
}
