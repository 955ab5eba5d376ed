/* ----------------------------------------------------------------------------
fork-test.c -- fork, posix_spawn and vfork from a process whose threads allocate.

  fork-test [FORKS]          (default 100)
  fork-test spawned          (internal: the program started by posix_spawn/vfork+exec)

Four worker threads allocate and free all the time (small to huge blocks, blocks
passed between threads through an exchange array, a thread that keeps creating
and joining short-lived threads), while the main thread:
  1. forks FORKS times; each child checks that the blocks it inherited are intact,
     frees them (blocks of parent threads that do not exist in the child), allocates
     and frees, starts and joins threads that allocate, every 10th time forks a
     grandchild from one of its threads, and returns from `child_main` through
     exit() (atexit handlers, mimalloc's process teardown);
  2. forks from a thread other than the main thread;
  3. starts the program itself with posix_spawn and with vfork + execv, and reads
     the output of popen("echo ..."), while the workers keep allocating.
pthread_atfork handlers allocate and free in prepare, parent and child. Every child
has an alarm: a deadlock (e.g. an allocator lock held across fork) kills it with
SIGALRM and fails the test; so does any crash or failed check.
-----------------------------------------------------------------------------*/
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "ov-common.h"

extern char** environ;

#define WORKERS     4
#define EXCHANGE    256
#define KEEP        64
#define CHILD_ALARM 60

static volatile int stop_workers;
static void* volatile exchange_slots[EXCHANGE];
static char self_exe[4096];

typedef struct block_s {
  size_t size;
  uintptr_t seed;
} block_t;

/* blocks carry their size and seed in the first 16 bytes; the rest is a pattern */
static void* make_block(size_t size, uintptr_t seed) {
  if (size < sizeof(block_t)) size = sizeof(block_t);
  block_t* b = (block_t*)malloc(size);
  if (b == NULL) OV_FATAL("out of memory (%zu bytes)", size);
  ov_fill(b + 1, size - sizeof(block_t), seed);
  b->size = size;
  b->seed = seed;
  return b;
}

static void check_free_block(void* p) {
  if (p == NULL) return;
  block_t* b = (block_t*)p;
  if (!ov_ours(b)) OV_FAIL("block %p is not a mimalloc block", p);
  else if (!ov_check_fill(b + 1, b->size - sizeof(block_t), b->seed)) OV_FAIL("block %p (%zu bytes) is corrupted", p, b->size);
  free(b);
}

static void* exchange(void* p, uint64_t r) {
  return __atomic_exchange_n(&exchange_slots[r % EXCHANGE], p, __ATOMIC_ACQ_REL);
}

/* ---------------------------------------------------------------------------
   worker threads of the parent
--------------------------------------------------------------------------- */

static void* short_thread(void* arg) {
  ov_rng_t r = { (uintptr_t)arg };
  void* keep[16];
  for (int i = 0; i < 16; i++) keep[i] = make_block(ov_rand_size(&r, false), ov_rand(&r));
  for (int i = 0; i < 16; i += 2) check_free_block(keep[i]);
  for (int i = 1; i < 16; i += 2) check_free_block(exchange(keep[i], ov_rand(&r)));   /* leave blocks behind */
  return NULL;
}

static void* worker(void* arg) {
  uintptr_t id = (uintptr_t)arg;
  ov_rng_t r = { id * 7919 + 1 };
  void* keep[KEEP] = { 0 };
  unsigned long iter = 0;
  while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
    iter++;
    if (id == 0 && iter % 64 == 0) {
      /* thread churn: thread data and heaps are created and torn down during forks */
      pthread_t t;
      if (pthread_create(&t, NULL, short_thread, (void*)(uintptr_t)ov_rand(&r)) == 0) pthread_join(t, NULL);
      continue;
    }
    size_t i = ov_rand(&r) % KEEP;
    if (ov_rand(&r) % 4 == 0) {
      check_free_block(exchange(keep[i], ov_rand(&r)));   /* give ours away, free another thread's */
      keep[i] = NULL;
    }
    else {
      check_free_block(keep[i]);
    }
    keep[i] = make_block(ov_rand_size(&r, iter % 8 == 0), ov_rand(&r));
    if (iter % 64 == 0) usleep(200);   /* busy, but leave the forking thread some CPU */
    if (iter % 1024 == 0) {
      void* q = realloc(make_block(100, 1), 200000);   /* growth through realloc */
      free(q);
    }
  }
  for (size_t i = 0; i < KEEP; i++) check_free_block(keep[i]);
  return NULL;
}

/* ---------------------------------------------------------------------------
   pthread_atfork handlers: allocating in them must work
--------------------------------------------------------------------------- */

static void* atfork_block;
static void atfork_prepare(void) { atfork_block = make_block(1000, 11); }
static void atfork_parent(void)  { check_free_block(atfork_block); atfork_block = NULL; }
static void atfork_child(void) {
  check_free_block(atfork_block);
  atfork_block = make_block(5000, 12);
  check_free_block(atfork_block);
  atfork_block = NULL;
}

/* ---------------------------------------------------------------------------
   the child of a fork
--------------------------------------------------------------------------- */

static void* child_thread(void* arg) {
  ov_rng_t r = { (uintptr_t)arg };
  void* keep[100];
  for (int i = 0; i < 100; i++) keep[i] = make_block(ov_rand_size(&r, false), ov_rand(&r));
  for (int i = 0; i < 100; i += 3) check_free_block(exchange(keep[i], ov_rand(&r)));   /* cross-thread */
  for (int i = 0; i < 100; i++) if (i % 3 != 0) check_free_block(keep[i]);
  return NULL;
}

static int wait_child(pid_t pid, const char* what);

static void* grandchild_forker(void* arg) {
  (void)arg;
  pid_t pid = fork();
  if (pid < 0) { OV_FAIL("fork (grandchild): %s", strerror(errno)); return NULL; }
  if (pid == 0) {
    alarm(CHILD_ALARM);
    check_free_block(make_block(100000, 3));
    void* blocks[50];
    for (int i = 0; i < 50; i++) blocks[i] = make_block((size_t)i * 100 + 1, (uintptr_t)i);
    for (int i = 0; i < 50; i++) check_free_block(blocks[i]);
    exit(ov_failed() ? 1 : 0);
  }
  wait_child(pid, "grandchild");
  return NULL;
}

static int child_main(int round) {
  alarm(CHILD_ALARM);
  ov_rng_t r = { (uintptr_t)round * 31 + 5 };
  /* the exchange array holds blocks of the parent's threads, which do not exist here */
  for (size_t i = 0; i < EXCHANGE; i++) {
    void* p = exchange_slots[i];
    exchange_slots[i] = NULL;
    check_free_block(p);
  }
  void* keep[200];
  for (int i = 0; i < 200; i++) keep[i] = make_block(ov_rand_size(&r, i == 7), ov_rand(&r));
  for (int i = 0; i < 200; i += 2) check_free_block(keep[i]);
  char* s = strdup("child");
  if (s == NULL || strcmp(s, "child") != 0) OV_FAIL("strdup in the child");
  OV_CHECK_OURS(s);
  free(s);

  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    if (pthread_create(&t[i], NULL, child_thread, (void*)(uintptr_t)(round * 3 + i + 1)) != 0) OV_FATAL("pthread_create in the child");
  }
  if (round % 10 == 0) {
    pthread_t gf;
    if (pthread_create(&gf, NULL, grandchild_forker, NULL) != 0) OV_FATAL("pthread_create in the child");
    pthread_join(gf, NULL);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  for (int i = 1; i < 200; i += 2) check_free_block(keep[i]);
  for (size_t i = 0; i < EXCHANGE; i++) check_free_block(exchange_slots[i]);
  return ov_failed() ? 1 : 0;
}

/* ---------------------------------------------------------------------------
   the parent
--------------------------------------------------------------------------- */

static int wait_child(pid_t pid, const char* what) {
  int status = 0;
  pid_t w;
  do { w = waitpid(pid, &status, 0); } while (w < 0 && errno == EINTR);
  if (w != pid) { OV_FAIL("waitpid(%s): %s", what, strerror(errno)); return -1; }
  if (WIFSIGNALED(status)) {
    OV_FAIL("%s was killed by signal %d%s", what, WTERMSIG(status),
            WTERMSIG(status) == SIGALRM ? " (SIGALRM: it hung, a deadlock?)" : "");
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    OV_FAIL("%s exited with status %d", what, WEXITSTATUS(status));
    return -1;
  }
  return 0;
}

static void* fork_from_thread(void* arg) {
  int rounds = (int)(uintptr_t)arg;
  for (int i = 0; i < rounds; i++) {
    pid_t pid = fork();
    if (pid < 0) { OV_FAIL("fork: %s", strerror(errno)); break; }
    if (pid == 0) exit(child_main(1000 + i));
    wait_child(pid, "child forked from a thread");
  }
  return NULL;
}

static int spawned_main(void) {
  /* a fresh process started by posix_spawn or vfork+exec (with the same environment) */
  ov_init();
  void* blocks[100];
  ov_rng_t r = { 99 };
  for (int i = 0; i < 100; i++) {
    blocks[i] = make_block(ov_rand_size(&r, false), (uintptr_t)i);
    OV_CHECK_OURS(blocks[i]);
  }
  for (int i = 0; i < 100; i++) check_free_block(blocks[i]);
  return ov_failed() ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "spawned") == 0) return spawned_main();
  int forks = (argc > 1 ? atoi(argv[1]) : 100);
  if (forks <= 0) forks = 100;
  ov_init();
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  if (n <= 0) OV_FATAL("readlink /proc/self/exe");
  self_exe[n] = 0;
  if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0) OV_FATAL("pthread_atfork");

  pthread_t workers[WORKERS];
  for (uintptr_t i = 0; i < WORKERS; i++) {
    if (pthread_create(&workers[i], NULL, worker, (void*)i) != 0) OV_FATAL("pthread_create");
  }
  usleep(20000);   /* let the workers get going */

  /* 1. fork from the main thread */
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) { OV_FAIL("fork: %s", strerror(errno)); break; }
    if (pid == 0) exit(child_main(i));
    wait_child(pid, "forked child");
    if (i % 8 == 0) usleep(1000);
  }

  /* 2. fork from another thread */
  pthread_t ft;
  if (pthread_create(&ft, NULL, fork_from_thread, (void*)(uintptr_t)10) != 0) OV_FATAL("pthread_create");
  pthread_join(ft, NULL);

  /* 3. posix_spawn, vfork + exec, popen */
  char* spawn_argv[] = { self_exe, (char*)"spawned", NULL };
  for (int i = 0; i < 20; i++) {
    pid_t pid;
    int err = posix_spawn(&pid, self_exe, NULL, NULL, spawn_argv, environ);
    if (err != 0) { OV_FAIL("posix_spawn: %s", strerror(err)); break; }
    wait_child(pid, "posix_spawn child");
  }
  for (int i = 0; i < 20; i++) {
    pid_t pid = vfork();
    if (pid < 0) { OV_FAIL("vfork: %s", strerror(errno)); break; }
    if (pid == 0) {
      execv(self_exe, spawn_argv);
      _exit(127);
    }
    wait_child(pid, "vfork+exec child");
  }
  for (int i = 0; i < 5; i++) {
    FILE* p = popen("echo popen-ok", "r");
    if (p == NULL) { OV_FAIL("popen: %s", strerror(errno)); break; }
    char line[64] = { 0 };
    if (fgets(line, sizeof(line), p) == NULL || strcmp(line, "popen-ok\n") != 0) OV_FAIL("popen read '%s'", line);
    int st = pclose(p);
    if (st != 0) OV_FAIL("pclose: status %d", st);
  }

  __atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < WORKERS; i++) pthread_join(workers[i], NULL);
  for (size_t i = 0; i < EXCHANGE; i++) check_free_block(exchange_slots[i]);

  if (ov_failed()) {
    fprintf(stderr, "fork-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  fprintf(stderr, "fork-test: %d forks from the main thread, 10 from another thread, 20 posix_spawn, 20 vfork+exec, 5 popen: all ok\n", forks);
  return 0;
}
