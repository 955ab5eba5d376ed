/* test-thread-exit: threads that exit, are cancelled or call mi_thread_done while
 * other threads free their blocks, and threads that free what exited threads left.
 *
 *   test-thread-exit [THREADS] [ROUNDS]      (defaults: 8 threads, 40 rounds)
 *
 * Every round starts THREADS threads. Each thread works on a shared array of slots
 * (atomic exchanges only): it allocates a block of a random size (mostly small, some
 * medium and large, rarely huge), fills it with a pattern derived from its address and
 * size, swaps it into a random slot and checks and frees the block it displaced --
 * usually one of another thread, often of a thread that has exited, whose segment is
 * then abandoned or being reclaimed by some thread. Each thread ends in one of four ways,
 * at a random point, while the others keep freeing its blocks:
 *   - it returns;
 *   - it calls pthread_exit in the middle of its loop;
 *   - it loops until the main thread cancels it (pthread_cancel, acted on at a
 *     pthread_testcancel between two operations);
 *   - it calls mi_thread_done half-way, goes on allocating (which sets it up again),
 *     and returns.
 * The main thread frees a few slots between rounds. At the end every block is checked
 * and freed: as many blocks must have been freed as were allocated, and after
 * mi_collect(true) (which reclaims every abandoned segment) the memory the allocator
 * counts as committed must be back near where it started.
 *
 * A failed check prints "test-thread-exit: ..." and exits with status 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mimalloc.h>

#define SLOTS 2048
#define MAX_THREADS 256

static int THREADS = 8;
static int ROUNDS = 40;

static _Atomic(uintptr_t) slots[SLOTS];
static atomic_ullong allocated, freed;

enum { END_RETURN, END_EXIT, END_CANCEL, END_THREAD_DONE, END_KINDS };

typedef struct {
  uint64_t rng;
  int end;        /* how the thread ends */
  long ops;       /* operations before it ends (or before it waits to be cancelled) */
} worker_t;

static uint64_t next_rand(uint64_t* s) {
  /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void fail(const char* msg, const void* p, size_t size) {
  fprintf(stderr, "test-thread-exit: %s (block %p, size %zu)\n", msg, p, size);
  exit(1);
}

static size_t random_size(uint64_t* rng) {
  uint64_t r = next_rand(rng) % 10000;
  if (r < 9000) return 16 + next_rand(rng) % 1024;                /* small */
  if (r < 9900) return 1024 + next_rand(rng) % (128 * 1024);      /* medium */
  if (r < 9995) return 128 * 1024 + next_rand(rng) % (4 << 20);   /* large */
  return (17 << 20) + next_rand(rng) % (8 << 20);                 /* huge */
}

/* A block holds its size in its first word and a pattern in the words after it and in
 * its last word, so a freeing thread can check a block it did not allocate. */
static uintptr_t pattern(const uintptr_t* p, size_t i) {
  return ((uintptr_t)p * 0x9E3779B97F4A7C15ULL) ^ (i * 0x100000001B3ULL);
}

static void* make_block(size_t size) {
  uintptr_t* p = (uintptr_t*)mi_malloc(size);
  if (p == NULL) fail("out of memory", NULL, size);
  size_t words = size / sizeof(uintptr_t);
  p[0] = size;
  for (size_t i = 1; i < words && i < 16; i++) p[i] = pattern(p, i);
  p[words - 1] = pattern(p, words - 1);
  atomic_fetch_add_explicit(&allocated, 1, memory_order_relaxed);
  return p;
}

static void check_and_free(uintptr_t* p) {
  if (p == NULL) return;
  size_t size = p[0];
  if (size < 16 || size > (32u << 20)) fail("corrupted size word", p, size);
  size_t words = size / sizeof(uintptr_t);
  for (size_t i = 1; i < words && i < 16; i++) {
    if (p[i] != pattern(p, i)) fail("corrupted block", p, size);
  }
  if (p[words - 1] != pattern(p, words - 1)) fail("corrupted block end", p, size);
  if (mi_usable_size(p) < size) fail("usable size below the request", p, size);
  mi_free(p);
  atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
}

static void one_op(worker_t* w) {
  size_t slot = next_rand(&w->rng) % SLOTS;
  uintptr_t* p = NULL;
  if (next_rand(&w->rng) % 8 != 0) p = (uintptr_t*)make_block(random_size(&w->rng));
  uintptr_t old = atomic_exchange(&slots[slot], (uintptr_t)p);
  check_and_free((uintptr_t*)old);
}

static void* worker_main(void* arg) {
  worker_t* w = (worker_t*)arg;
  for (long i = 0; i < w->ops; i++) {
    one_op(w);
    if (w->end == END_EXIT && i == w->ops / 2) pthread_exit(NULL);
    if (w->end == END_THREAD_DONE && i == w->ops / 2) mi_thread_done();
  }
  if (w->end == END_CANCEL) {
    for (;;) {  /* until cancelled: the main thread cancels after a while */
      one_op(w);
      pthread_testcancel();
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && atoi(argv[1]) > 0) THREADS = atoi(argv[1]);
  if (argc > 2 && atoi(argv[2]) > 0) ROUNDS = atoi(argv[2]);
  if (THREADS > MAX_THREADS) THREADS = MAX_THREADS;
  printf("test-thread-exit: %d threads, %d rounds\n", THREADS, ROUNDS);

  size_t elapsed, user, sys, rss, peak_rss, commit_start, commit_peak, faults;
  mi_collect(true);
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit_start, &commit_peak, &faults);

  static pthread_t threads[MAX_THREADS];
  static worker_t workers[MAX_THREADS];
  uint64_t rng = 0x853c49e6748fea9bULL;
  int ended[END_KINDS] = {0};
  for (int round = 0; round < ROUNDS; round++) {
    for (int t = 0; t < THREADS; t++) {
      worker_t* w = &workers[t];
      w->rng = next_rand(&rng) | 1;
      w->end = (int)(next_rand(&rng) % END_KINDS);
      w->ops = 50 + (long)(next_rand(&rng) % 2000);
      ended[w->end]++;
      if (pthread_create(&threads[t], NULL, worker_main, w) != 0) fail("pthread_create failed", NULL, 0);
    }
    /* let them run into each other, then cancel the ones that wait for it */
    usleep(2000);
    for (int t = 0; t < THREADS; t++) {
      if (workers[t].end == END_CANCEL) pthread_cancel(threads[t]);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    /* the main thread frees some of what the exited threads left */
    for (int i = 0; i < SLOTS / 8; i++) {
      size_t slot = next_rand(&rng) % SLOTS;
      check_and_free((uintptr_t*)atomic_exchange(&slots[slot], 0));
    }
  }
  for (int i = 0; i < SLOTS; i++) check_and_free((uintptr_t*)atomic_exchange(&slots[i], 0));

  unsigned long long a = atomic_load(&allocated), f = atomic_load(&freed);
  if (a != f) {
    fprintf(stderr, "test-thread-exit: %llu blocks allocated but %llu freed\n", a, f);
    return 1;
  }
  mi_collect(true);
  size_t commit_end;
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit_end, &commit_peak, &faults);
  printf("test-thread-exit: %llu blocks; endings: %d returned, %d pthread_exit, %d cancelled, "
         "%d mi_thread_done; committed %zu KiB at start, %zu KiB at the end (peak %zu KiB)\n",
         a, ended[END_RETURN], ended[END_EXIT], ended[END_CANCEL], ended[END_THREAD_DONE],
         commit_start / 1024, commit_end / 1024, commit_peak / 1024);
  /* Everything was freed and every abandoned segment reclaimed and freed: what stays
   * counted is the main thread's own pages (and metadata), a few MiB at most. */
  if (commit_end > commit_start + (8u << 20)) {
    fprintf(stderr, "test-thread-exit: %zu KiB still committed after freeing everything\n",
            commit_end / 1024);
    return 1;
  }
  return 0;
}
