/* ----------------------------------------------------------------------------
exit-helper.c -- a shared library linked into threads-test that runs first and
last: its constructor runs before mimalloc's, and the exit handler it registers
runs after everything else of the process, mimalloc's own teardown included.

Libraries are initialised dependencies first, and the preloaded libmimalloc.so comes
later in the load order (with mimalloc.o, mimalloc is part of the executable, which
is initialised after all libraries). So:
  - the constructor allocates before mimalloc's constructor has run (calloc,
    realloc, posix_memalign, strdup; blocks kept until the end) and starts two
    threads before it: one that allocates and exits at once, and one that allocates,
    then waits until the program wakes it (exit_helper_wake) to allocate and free
    again, long after mimalloc's initialisation;
  - the atexit handler runs after mimalloc's `mi_process_done` and after the
    destructors of the executable: it checks and frees the blocks the program handed
    over (exit_helper_keep) and its own early blocks, allocates and frees again, and
    writes "exit-helper: last exit handler ok" (which the test driver looks for).
-----------------------------------------------------------------------------*/
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEPT_MAX 1024
static void* kept[KEPT_MAX];
static size_t kept_size[KEPT_MAX];
static int kept_count;
static int registered;

/* allocated by the constructor, before mimalloc's constructor */
#define EARLY 16
static void* early_blocks[EARLY];
static size_t early_sizes[EARLY];
static int early_bad;

static pthread_t sleeper;
static int sleeper_started;
static sem_t wake_sem, done_sem;
static int sleeper_result = -1;

static void write_str(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(1, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static int churn(int rounds) {
  int bad = 0;
  for (int round = 0; round < rounds; round++) {
    void* blocks[64];
    for (int i = 0; i < 64; i++) {
      size_t n = (size_t)i * 1000 + 1;
      blocks[i] = malloc(n);
      if (blocks[i] == NULL) { bad++; continue; }
      memset(blocks[i], i, n);
    }
    for (int i = 0; i < 64; i++) {
      unsigned char* p = (unsigned char*)blocks[i];
      if (p != NULL && (p[0] != (unsigned char)i || p[(size_t)i * 1000] != (unsigned char)i)) bad++;
      free(p);
    }
  }
  return bad;
}

static void* quick_thread(void* arg) {
  (void)arg;
  return (void*)(intptr_t)churn(2);
}

static void* sleeper_thread(void* arg) {
  (void)arg;
  void* mine = malloc(777);   /* before mimalloc's constructor (most likely) */
  if (mine != NULL) memset(mine, 0x3c, 777);
  while (sem_wait(&wake_sem) != 0) {}
  int bad = churn(20);
  unsigned char* m = (unsigned char*)mine;
  if (m == NULL || m[0] != 0x3c || m[776] != 0x3c) bad++;
  free(mine);
  sleeper_result = bad;
  sem_post(&done_sem);
  return NULL;
}

static void last_exit_handler(void) {
  int bad = early_bad;
  for (int i = 0; i < kept_count; i++) {
    unsigned char* p = (unsigned char*)kept[i];
    if (p[0] != 0xe7 || p[kept_size[i] - 1] != 0xe7) bad++;
    free(p);
  }
  for (int i = 0; i < EARLY; i++) {
    unsigned char* p = (unsigned char*)early_blocks[i];
    if (p == NULL || p[0] != (unsigned char)(0x90 + i) || p[early_sizes[i] - 1] != (unsigned char)(0x90 + i)) bad++;
    free(p);
  }
  /* allocate after mimalloc's teardown: must still work */
  bad += churn(3);
  char* s = strdup("late");
  if (s == NULL || strcmp(s, "late") != 0) bad++;
  free(s);
  if (bad == 0) write_str("exit-helper: last exit handler ok\n");
  else write_str("exit-helper: last exit handler found bad blocks\n");
}

__attribute__((constructor)) static void exit_helper_init(void) {
  if (atexit(last_exit_handler) == 0) registered = 1;
  /* allocation before mimalloc's constructor */
  for (int i = 0; i < EARLY; i++) {
    size_t n = (size_t)1 << i;   /* 1 byte .. 32 KiB */
    void* p;
    switch (i % 4) {
      case 0: p = malloc(n); break;
      case 1: p = calloc(1, n); break;
      case 2: p = realloc(malloc(1), n); break;
      default: if (posix_memalign(&p, 64, n) != 0) p = NULL; break;
    }
    if (p == NULL) { early_bad++; continue; }
    memset(p, 0x90 + i, n);
    early_blocks[i] = p;
    early_sizes[i] = n;
  }
  char* s = strdup("early");
  if (s == NULL || strcmp(s, "early") != 0) early_bad++;
  free(s);
  /* threads started before mimalloc's constructor */
  pthread_t t;
  void* result = NULL;
  if (pthread_create(&t, NULL, quick_thread, NULL) != 0 || pthread_join(t, &result) != 0 || result != NULL) early_bad++;
  if (sem_init(&wake_sem, 0, 0) == 0 && sem_init(&done_sem, 0, 0) == 0 &&
      pthread_create(&sleeper, NULL, sleeper_thread, NULL) == 0) {
    sleeper_started = 1;
  }
  else {
    early_bad++;
  }
}

/* hand a block (filled with 0xe7) to the last exit handler */
int exit_helper_keep(void* p, size_t size) {
  if (!registered || kept_count >= KEPT_MAX || p == NULL || size == 0) return 0;
  memset(p, 0xe7, size);
  kept[kept_count] = p;
  kept_size[kept_count] = size;
  kept_count++;
  return 1;
}

/* the blocks the constructor allocated (for the program to check); the number of
   problems the constructor had */
int exit_helper_early(void*** blocks, int* count) {
  *blocks = early_blocks;
  *count = EARLY;
  return early_bad;
}

/* wake the thread started by the constructor: it allocates and frees, then exits;
   returns the number of problems it found (or -1) */
int exit_helper_wake(void) {
  if (!sleeper_started) return -1;
  sem_post(&wake_sem);
  while (sem_wait(&done_sem) != 0) {}
  pthread_join(sleeper, NULL);
  sleeper_started = 0;
  return sleeper_result;
}
