/* ----------------------------------------------------------------------------
dlopen-lib-test.c -- libmimalloc.so loaded late, by dlopen, into a running process.

  dlopen-lib-test PLUGIN.so [ROUNDS]     (default 5)

The program is linked with nothing of ours and runs without LD_PRELOAD: its malloc
is the C library's. Each round dlopen()s (RTLD_LOCAL) a plugin linked with
libmimalloc.so (dlopen-lib-plugin.c), so the library, with its initial-exec
thread-local storage, is loaded into a process that already runs threads; the
plugin uses the mimalloc API in several threads; then the plugin is unloaded.
Loading must not fail ("cannot allocate memory in static TLS block"), and the
process's own malloc must stay the C library's: blocks allocated before the dlopen
are freed after it, and blocks allocated after it are not mimalloc's.
-----------------------------------------------------------------------------*/
#include <pthread.h>

#include "ov-common.h"

static volatile int stop;
static void* background(void* arg) {
  (void)arg;
  void* keep[64] = { 0 };
  ov_rng_t r = { 77 };
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    size_t i = ov_rand(&r) % 64;
    free(keep[i]);
    keep[i] = malloc(ov_rand_small(&r));
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) OV_FATAL("usage: dlopen-lib-test PLUGIN.so [ROUNDS]");
  int rounds = (argc > 2 ? atoi(argv[2]) : 5);
  if (dlsym(RTLD_DEFAULT, "mi_malloc") != NULL) OV_FATAL("mimalloc is already in the process (LD_PRELOAD?)");
  pthread_t bg;
  if (pthread_create(&bg, NULL, background, NULL) != 0) OV_FATAL("pthread_create");
  for (int round = 0; round < rounds; round++) {
    void* before = malloc(4000);
    memset(before, 0x11, 4000);
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) OV_FATAL("round %d: dlopen %s: %s", round, argv[1], dlerror());
    int (*run)(const void*) = NULL;
    *(void**)&run = dlsym(h, "plugin_run");
    if (run == NULL) OV_FATAL("dlsym plugin_run: %s", dlerror());
    void* after = malloc(4000);
    int rc = run(after);
    if (rc != 0) OV_FAIL("round %d: plugin_run returned %d", round, rc);
    free(after);
    free(before);   /* the C library's malloc is still the process's */
    if (dlclose(h) != 0) OV_FAIL("dlclose: %s", dlerror());
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  pthread_join(bg, NULL);
  if (ov_failed()) {
    fprintf(stderr, "dlopen-lib-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  fprintf(stderr, "dlopen-lib-test: %d rounds: ok\n", rounds);
  return 0;
}
