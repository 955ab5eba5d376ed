/* Source-level overriding: with mimalloc-override.h the standard names in this file
   are macros for the mi_ functions; linked with libmimalloc.a. Also moves the
   default heap to a new heap. Exit code 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimalloc.h>
#include <mimalloc-override.h>   /* after the system headers */

int main(void) {
  int failures = 0;
  void* p = malloc(100);
  char* s = strdup("redirected");
  if (!mi_is_in_heap_region(p) || !mi_is_in_heap_region(s)) failures++;
  if (mi_usable_size(p) < 100) failures++;

  mi_heap_t* heap = mi_heap_new();
  mi_heap_t* old = mi_heap_set_default(heap);
  void* q = malloc(1000);                 /* from the new default heap */
  if (!mi_heap_contains_block(heap, q)) failures++;
  q = realloc(q, 5000);
  void* r = calloc(3, 33);
  if (!mi_heap_check_owned(heap, r)) failures++;
  void* arr = reallocarray(NULL, 16, 16);
  if (reallocarr(&arr, 32, 16) != 0) failures++;
  free(arr);
  free(q);
  free(r);
  mi_heap_set_default(old);
  mi_heap_delete(heap);

  free(s);
  free(p);
  printf("%s\n", failures == 0 ? "header redirection works" : "FAILED");
  return failures;
}
