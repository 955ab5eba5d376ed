/* ----------------------------------------------------------------------------
options-prog.c -- a small program for check-options.sh.

  options-prog            allocate and free a little (also in a thread), print
                          "options-prog: done" on stdout
  options-prog huge       also request SIZE_MAX/2 bytes (must fail with ENOMEM)
  options-prog print      print "<name>=<value>" for every option (mi_option_get)

Built plain (run with LD_PRELOAD) and linked with the library (OV_LINKED). It must
not print anything else: whatever mimalloc prints goes to stderr.
-----------------------------------------------------------------------------*/
#include <pthread.h>

#include "ov-common.h"

static const char* option_names[] = {
  "show_errors", "show_stats", "verbose", "eager_commit", "arena_eager_commit",
  "purge_decommits", "allow_large_os_pages", "reserve_huge_os_pages",
  "reserve_huge_os_pages_at", "reserve_os_memory", "deprecated_segment_cache",
  "deprecated_page_reset", "abandoned_page_purge", "deprecated_segment_reset",
  "eager_commit_delay", "purge_delay", "use_numa_nodes", "disallow_os_alloc", "os_tag",
  "max_errors", "max_warnings", "max_segment_reclaim", "destroy_on_exit", "arena_reserve",
  "arena_purge_mult", "purge_extend_delay", "abandoned_reclaim_on_free",
  "disallow_arena_alloc", "retry_on_oom"
};

static void* thread_main(void* arg) {
  (void)arg;
  void* p[100];
  for (int i = 0; i < 100; i++) p[i] = malloc((size_t)i * 100 + 1);
  for (int i = 0; i < 100; i++) free(p[i]);
  return NULL;
}

int main(int argc, char** argv) {
  ov_init();
  const char* mode = (argc > 1 ? argv[1] : "");
  if (strcmp(mode, "print") == 0) {
    long (*option_get)(int);
#ifdef OV_LINKED
    option_get = (long (*)(int))&mi_option_get;
#else
    *(void**)&option_get = dlsym(RTLD_DEFAULT, "mi_option_get");
    if (option_get == NULL) OV_FATAL("mi_option_get not found");
#endif
    for (int i = 0; i < (int)(sizeof(option_names) / sizeof(option_names[0])); i++) {
      printf("%s=%ld\n", option_names[i], option_get(i));
    }
    return 0;
  }
  void* blocks[1000];
  for (int i = 0; i < 1000; i++) blocks[i] = malloc((size_t)(i % 50) * 16 + 8);
  for (int i = 0; i < 1000; i += 2) free(blocks[i]);
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) != 0) OV_FATAL("pthread_create");
  pthread_join(t, NULL);
  for (int i = 1; i < 1000; i += 2) free(blocks[i]);
  if (strcmp(mode, "huge") == 0) {
    errno = 0;
    volatile size_t size = SIZE_MAX / 2;
#ifdef OV_LINKED
    void* p = mi_malloc(size);   /* the library may not override malloc */
#else
    void* p = malloc(size);
#endif
    if (p != NULL || errno != ENOMEM) {
      fprintf(stderr, "options-prog: huge allocation returned %p, errno %d\n", p, errno);
      return 1;
    }
  }
  printf("options-prog: done\n");
  return 0;
}
