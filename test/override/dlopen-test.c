/* ----------------------------------------------------------------------------
dlopen-test.c -- dlopen/dlclose, again and again, of a library that allocates.

  dlopen-test PLUGIN.so [ROUNDS]      (default 12 rounds)

Each round loads the plugin (dlopen-plugin.cpp; RTLD_NOW or RTLD_LAZY, RTLD_LOCAL or
RTLD_GLOBAL), whose constructors allocate, checks that those blocks are mimalloc's,
takes blocks the plugin allocates (malloc and operator new), gives the plugin blocks
of the program to free, lets the plugin run threads that leave blocks behind, then
unloads it (and checks that it is really gone) and frees the plugin's blocks,
some of them only in the next round. A thread of the program allocates all the
time, so the loader runs while other threads allocate.
-----------------------------------------------------------------------------*/
#include <pthread.h>

#include "ov-common.h"

#define BLOCKS 200
#define LEFT   400

typedef int  (*plugin_check_t)(bool (*)(const void*));
typedef void (*plugin_alloc_t)(void**, int, size_t, int);
typedef int  (*plugin_free_t)(void**, int, size_t, int);
typedef int  (*plugin_threads_t)(int, void**, int);
typedef void (*plugin_fini_t)(void);

static volatile int stop;

static void* background(void* arg) {
  (void)arg;
  ov_rng_t r = { 4242 };
  void* keep[128] = { 0 };
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    size_t i = ov_rand(&r) % 128;
    free(keep[i]);
    keep[i] = malloc(ov_rand_size(&r, false));
    if (keep[i] == NULL) OV_FATAL("out of memory");
  }
  for (int i = 0; i < 128; i++) free(keep[i]);
  return NULL;
}

static void* sym(void* h, const char* name) {
  void* s = dlsym(h, name);
  if (s == NULL) OV_FATAL("dlsym %s: %s", name, dlerror());
  return s;
}

static bool check_block(const void* p, size_t size, int fill) {
  const unsigned char* b = (const unsigned char*)p;
  return ov_ours(p) && b[0] == (unsigned char)fill && b[size - 1] == (unsigned char)fill;
}

int main(int argc, char** argv) {
  if (argc < 2) OV_FATAL("usage: dlopen-test PLUGIN.so [ROUNDS]");
  const char* path = argv[1];
  int rounds = (argc > 2 ? atoi(argv[2]) : 12);
  ov_init();

  pthread_t bg;
  if (pthread_create(&bg, NULL, background, NULL) != 0) OV_FATAL("pthread_create");

  void* prev_plugin_blocks[BLOCKS] = { 0 };
  size_t prev_size = 0;
  int prev_fill = 0;
  int unloaded = 0;
  for (int round = 0; round < rounds; round++) {
    int flags = (round % 3 == 2 ? RTLD_LAZY : RTLD_NOW) | (round % 2 ? RTLD_GLOBAL : RTLD_LOCAL);
    void* h = dlopen(path, flags);
    if (h == NULL) OV_FATAL("dlopen %s: %s", path, dlerror());
    plugin_check_t check = (plugin_check_t)sym(h, "plugin_check");
    plugin_alloc_t palloc = (plugin_alloc_t)sym(h, "plugin_alloc");
    plugin_free_t pfree = (plugin_free_t)sym(h, "plugin_free");
    plugin_threads_t pthreads = (plugin_threads_t)sym(h, "plugin_threads");
    plugin_fini_t pfini = (plugin_fini_t)sym(h, "plugin_fini");

    if (!check(ov_api.is_in_heap_region)) OV_FAIL("round %d: the plugin's constructors did not allocate mimalloc blocks", round);

    /* blocks of the plugin, for the program */
    void* plugin_blocks[BLOCKS];
    size_t psize = 100 + (size_t)round * 500;
    int pfill = round + 1;
    palloc(plugin_blocks, BLOCKS, psize, pfill);
    for (int i = 0; i < BLOCKS; i++) {
      if (!check_block(plugin_blocks[i], psize, pfill)) OV_FAIL("round %d: plugin block %d is bad", round, i);
    }

    /* blocks of the program, for the plugin */
    void* main_blocks[BLOCKS];
    size_t msize = 50 + (size_t)round * 300;
    for (int i = 0; i < BLOCKS; i++) {
      main_blocks[i] = malloc(msize);
      if (main_blocks[i] == NULL) OV_FATAL("out of memory");
      memset(main_blocks[i], 0x70 + round, msize);
    }
    int bad = pfree(main_blocks, BLOCKS, msize, 0x70 + round);
    if (bad != 0) OV_FAIL("round %d: the plugin found %d bad blocks of the program", round, bad);

    /* threads of the plugin; the blocks they leave behind outlive them */
    void* left[LEFT];
    int n = pthreads(4, left, LEFT);
    if (n != 80) OV_FAIL("round %d: plugin_threads returned %d", round, n);
    for (int i = 0; i < n; i++) {
      if (!check_block(left[i], 64, 0xab)) OV_FAIL("round %d: thread block %d is bad", round, i);
      if (i % 2 == 0) { free(left[i]); left[i] = NULL; }
    }

    /* half of the plugin's blocks are freed while it is loaded */
    for (int i = 0; i < BLOCKS; i += 2) { free(plugin_blocks[i]); plugin_blocks[i] = NULL; }

    pfini();
    if (dlclose(h) != 0) OV_FAIL("dlclose: %s", dlerror());
    void* again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (again == NULL) unloaded++;
    else dlclose(again);

    /* after the unload: the rest of this round's blocks, and the previous round's */
    for (int i = 0; i < n; i++) {
      if (left[i] != NULL) {
        if (!check_block(left[i], 64, 0xab)) OV_FAIL("round %d: thread block %d is bad after dlclose", round, i);
        free(left[i]);
      }
    }
    for (int i = 0; i < BLOCKS; i++) {
      if (prev_plugin_blocks[i] != NULL) {
        if (!check_block(prev_plugin_blocks[i], prev_size, prev_fill)) OV_FAIL("round %d: old plugin block %d is bad", round, i);
        free(prev_plugin_blocks[i]);
      }
      prev_plugin_blocks[i] = plugin_blocks[i];
    }
    prev_size = psize;
    prev_fill = pfill;
  }
  for (int i = 0; i < BLOCKS; i++) free(prev_plugin_blocks[i]);

  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  pthread_join(bg, NULL);

  if (unloaded != rounds) OV_FAIL("the plugin was really unloaded in only %d of %d rounds", unloaded, rounds);
  if (ov_failed()) {
    fprintf(stderr, "dlopen-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  fprintf(stderr, "dlopen-test: %d rounds of dlopen/dlclose: all ok\n", rounds);
  return 0;
}
