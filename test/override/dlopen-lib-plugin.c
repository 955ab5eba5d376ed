/* ----------------------------------------------------------------------------
dlopen-lib-plugin.c -- a plugin linked with libmimalloc.so that uses the mimalloc
API (as, say, an extension module of an interpreter does), for dlopen-lib-test:
loading it loads libmimalloc.so late, with dlopen, into a running process.
-----------------------------------------------------------------------------*/
#include <pthread.h>
#include <string.h>

#include <mimalloc.h>

static void* plugin_thread(void* arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)(i % 200) * 37 + 1;
    unsigned char* p = (unsigned char*)mi_malloc(n);
    if (p == NULL) return NULL;
    memset(p, 0x4d, n);
    if (p[n - 1] != 0x4d) return NULL;
    mi_free(p);
  }
  return mi_malloc(100);   /* outlives the thread */
}

/* 0 if mimalloc works here: blocks, threads, a heap; `foreign` is a block of the
   program's own malloc, which must not be mimalloc's */
__attribute__((visibility("default"))) int plugin_run(const void* foreign) {
  if (mi_version() < 200) return 1;
  void* p = mi_malloc(1000);
  if (p == NULL || !mi_is_in_heap_region(p)) return 2;
  if (foreign != NULL && mi_is_in_heap_region(foreign)) return 3;
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    if (pthread_create(&t[i], NULL, plugin_thread, NULL) != 0) return 4;
  }
  int bad = 0;
  for (int i = 0; i < 4; i++) {
    void* r = NULL;
    pthread_join(t[i], &r);
    if (r == NULL || !mi_is_in_heap_region(r)) bad = 5;
    mi_free(r);
  }
  mi_heap_t* heap = mi_heap_new();
  if (heap == NULL) return 6;
  for (int i = 0; i < 1000; i++) {
    if (mi_heap_malloc(heap, (size_t)i + 1) == NULL) bad = 7;
  }
  mi_heap_destroy(heap);
  mi_free(p);
  return bad;
}
