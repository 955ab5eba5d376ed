/* ----------------------------------------------------------------------------
test-wrong.c -- programs that make a memory mistake on purpose, one mistake per run,
in the spirit of mimalloc 2.1.7's test/test-wrong.c; test/wrong/CMakeLists.txt runs
each case as its own ctest case and checks, per build variant, what must happen
(see the table there).

  mimalloc-test-wrong <case> [handler]

With `handler` an error handler is registered with mi_register_error that counts the
errors by code and lets the program continue (the default handler of debug and
secure builds aborts on EFAULT). Every run ends, if it gets there, with

  wrong: errors: EAGAIN=<n> EFAULT=<n> EINVAL=<n> ENOMEM=<n> EOVERFLOW=<n>
  wrong: <case>: survived

and exits with the number of failed in-program checks ("wrong: FAILED: ..." lines):
the integrity checks after a detected mistake (the heap still works, a rejected free
left the block alone, a corrupted free list is not followed, ...).

The mistakes go through volatile accesses and `opaque` values, so the compiler
neither folds them away nor proves them undefined.
-----------------------------------------------------------------------------*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mimalloc.h>
#include <mimalloc/types.h>   /* MI_SEGMENT_SIZE, MI_SEGMENT_SLICE_SIZE, MI_SEGMENT_MASK */

/* glibc's own allocator, for "foreign" blocks. Not `__libc_malloc`: mimalloc's
   override exports that name too (as C mimalloc does on glibc); looked up in libc's
   own scope it is glibc's, even when malloc is overridden by us or a sanitizer. */
typedef void* (libc_malloc_fun_t)(size_t size);
typedef void  (libc_free_fun_t)(void* p);
static libc_malloc_fun_t* libc_malloc = NULL;
static libc_free_fun_t*   libc_free = NULL;

static bool find_libc_malloc(void) {
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (libc == NULL) { fprintf(stderr, "wrong: cannot find libc.so.6: %s\n", dlerror()); return false; }
  libc_malloc = (libc_malloc_fun_t*)dlsym(libc, "malloc");
  libc_free = (libc_free_fun_t*)dlsym(libc, "free");
  return (libc_malloc != NULL && libc_free != NULL);
}

/* ---------------------------------------------------------------------------
   Helpers
--------------------------------------------------------------------------- */

static int failures = 0;

#define CHECK(cond) do { \
    if (!(cond)) { \
      fprintf(stderr, "wrong: FAILED: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      failures++; \
    } \
  } while (0)

static size_t opaque(size_t x) {
  volatile size_t v = x;
  return v;
}

static void* launder(void* p) {
  void* volatile v = p;
  return v;
}

static void poke(void* p, size_t offset, uint8_t value) {
  volatile uint8_t* q = (volatile uint8_t*)launder(p);
  q[opaque(offset)] = value;
}

static uint8_t peek(void* p, size_t offset) {
  volatile uint8_t* q = (volatile uint8_t*)launder(p);
  return q[opaque(offset)];
}

static void poke_word(void* p, uintptr_t value) {
  volatile uintptr_t* q = (volatile uintptr_t*)launder(p);
  *q = value;
}

/* The block a mistake is made with comes from xmalloc and goes back with xfree: the
   mimalloc API, or, for the cases named "malloc-<case>", the standard names, which
   must then be ours (MI_OVERRIDE; checked, so a run where a tool intercepted malloc
   fails). */
static bool use_std = false;

static void* xmalloc(size_t size) {
  void* p;
  if (use_std) {
    p = malloc(opaque(size));
    CHECK(p == NULL || mi_is_in_heap_region(p));
  }
  else {
    p = mi_malloc(size);
  }
  return p;
}

static void* xrealloc(void* p, size_t size) {
  void* q = (use_std ? realloc(launder(p), opaque(size)) : mi_realloc(launder(p), opaque(size)));
  CHECK(q != NULL);
  return q;
}

static void xfree(void* p) {
  if (use_std) free(launder(p));
  else mi_free(launder(p));
}

/* errors seen by the registered handler, by code */
static volatile int err_eagain, err_efault, err_einval, err_enomem, err_eoverflow, err_other;
static bool have_handler = false;

static void on_error(int err, void* arg) {
  (void)arg;
  switch (err) {
    case EAGAIN:    err_eagain++; break;
    case EFAULT:    err_efault++; break;
    case EINVAL:    err_einval++; break;
    case ENOMEM:    err_enomem++; break;
    case EOVERFLOW: err_eoverflow++; break;
    default:        err_other++; break;
  }
}

static int errors_total(void) {
  return err_eagain + err_efault + err_einval + err_enomem + err_eoverflow + err_other;
}

/* allocate and free some blocks of several sizes: the heap still works */
static void heap_still_works(void) {
  void* ps[64];
  for (size_t i = 0; i < 64; i++) {
    size_t size = 1 + (i * 37) % 3000;
    ps[i] = mi_malloc(size);
    CHECK(ps[i] != NULL);
    if (ps[i] != NULL) memset(ps[i], (int)i, size);
  }
  for (size_t i = 0; i < 64; i++) mi_free(ps[i]);
}

/* allocate `n` blocks of `size` into `ps` (stopping early once `stop_on_error` and the
   handler saw an error); returns how many were allocated */
static size_t alloc_many(void** ps, size_t n, size_t size, bool stop_on_error) {
  size_t i;
  int before = errors_total();
  for (i = 0; i < n; i++) {
    ps[i] = mi_malloc(size);
    CHECK(ps[i] != NULL);
    if (ps[i] == NULL) break;
    memset(ps[i], 0x5A, size);
    if (stop_on_error && errors_total() != before) { i++; break; }
  }
  return i;
}

static void free_many(void** ps, size_t n) {
  for (size_t i = 0; i < n; i++) mi_free(ps[i]);
}

static int cmp_ptr(const void* a, const void* b) {
  uintptr_t x = (uintptr_t)*(void* const*)a, y = (uintptr_t)*(void* const*)b;
  return (x < y ? -1 : (x > y ? 1 : 0));
}

/* no block handed out twice, none overlapping [lo, hi) */
static void check_distinct(void** ps, size_t n, const void* lo, const void* hi) {
  void** sorted = (void**)mi_malloc(n * sizeof(void*));
  CHECK(sorted != NULL);
  if (sorted == NULL) return;
  memcpy(sorted, ps, n * sizeof(void*));
  qsort(sorted, n, sizeof(void*), cmp_ptr);
  size_t dups = 0, inside = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && sorted[i] == sorted[i-1]) dups++;
    if (lo != NULL && (uintptr_t)sorted[i] >= (uintptr_t)lo && (uintptr_t)sorted[i] < (uintptr_t)hi) inside++;
  }
  if (dups != 0) fprintf(stderr, "wrong: %zu blocks were handed out twice\n", dups);
  if (inside != 0) fprintf(stderr, "wrong: %zu blocks were handed out inside [%p,%p)\n", inside, lo, hi);
  CHECK(dups == 0);
  CHECK(inside == 0);
  mi_free(sorted);
}

static void fill(void* p, size_t size, uint8_t value) { memset(p, value, size); }

static bool all_bytes(const void* p, uint8_t value, size_t size) {
  const uint8_t* q = (const uint8_t*)p;
  for (size_t i = 0; i < size; i++) {
    if (q[i] != value) return false;
  }
  return true;
}

/* ---------------------------------------------------------------------------
   A correct program, and the promises every build keeps on bad input
--------------------------------------------------------------------------- */

/* everything allocated is freed; nothing read before it is written */
static void case_correct(void) {
  for (size_t i = 0; i < 2000; i++) {
    size_t size = 1 + (i * 131) % 5000;
    uint8_t* p = (uint8_t*)mi_malloc(size);
    CHECK(p != NULL);
    fill(p, size, (uint8_t)i);
    CHECK(p[size-1] == (uint8_t)i);
    mi_free(p);
  }
  uint8_t* z = (uint8_t*)mi_calloc(100, 10);
  CHECK(z != NULL && all_bytes(z, 0, 1000));
  z = (uint8_t*)mi_realloc(z, 100000);          /* grows into a large block */
  CHECK(z != NULL && all_bytes(z, 0, 1000));
  z = (uint8_t*)mi_realloc(z, 10);
  CHECK(z != NULL && all_bytes(z, 0, 10));
  mi_free(z);
  void* a = mi_malloc_aligned(200, 256);
  CHECK(a != NULL && ((uintptr_t)a % 256) == 0);
  fill(a, 200, 1);
  mi_free(a);
  void* big = mi_malloc(40u << 20);               /* a huge block (own segment) */
  CHECK(big != NULL);
  if (big != NULL) { fill(big, 40u << 20, 2); mi_free(big); }
  char* s = mi_strdup("mimalloc");
  CHECK(s != NULL && strcmp(s, "mimalloc") == 0);
  mi_free(s);
  mi_heap_t* heap = mi_heap_new();
  CHECK(heap != NULL);
  void* hp[100];
  for (int i = 0; i < 100; i++) { hp[i] = mi_heap_malloc(heap, 24); fill(hp[i], 24, 3); }
  for (int i = 0; i < 100; i += 2) mi_free(hp[i]);
  mi_heap_delete(heap);                            /* live blocks move to the default heap */
  for (int i = 1; i < 100; i += 2) mi_free(hp[i]);
  /* the standard names (ours with MI_OVERRIDE, else glibc's or the sanitizer's) */
  void* m = malloc(100);
  CHECK(m != NULL);
  fill(m, 100, 4);
  m = realloc(m, 1000);
  CHECK(m != NULL);
  free(m);
  heap_still_works();
}

static void* thread_promises(void* arg) {
  (void)arg;
  /* a thread that never allocated: frees of NULL and size queries are fine */
  mi_free(NULL);
  free(NULL);
  CHECK(mi_usable_size(NULL) == 0);
  return NULL;
}

/* what mimalloc promises for bad input in every build, release included */
/* the start of the segment of the first small block, if the 32 MiB below it are not
   ours (so that its "header" -- what free reads for it -- is foreign and likely not
   mapped); else NULL. The block stays allocated. */
static uint8_t* segment_start_below_foreign(void) {
  static void* first = NULL;
  if (first == NULL) first = mi_malloc(64);
  uintptr_t seg = ((uintptr_t)first - 1) & ~MI_SEGMENT_MASK;
  CHECK(mi_is_in_heap_region((void*)seg));
  if (mi_is_in_heap_region((void*)(seg - 1))) {
    fprintf(stderr, "wrong: the chunk below segment %p is ours: not tested\n", (void*)seg);
    return NULL;
  }
  return (uint8_t*)seg;
}

static void case_promises(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, &thread_promises, NULL) == 0);
  pthread_join(t, NULL);

  mi_free(NULL);
  free(NULL);
  mi_cfree(NULL);
  mi_free_size(NULL, 0);
  mi_free_aligned(NULL, 64);
  mi_free_size_aligned(NULL, 0, 64);
  CHECK(mi_usable_size(NULL) == 0);
  CHECK(!mi_is_in_heap_region(NULL));
  CHECK(!mi_check_owned(NULL));

  /* as in mimalloc, free ignores (without a message) pointers whose 32 MiB segment
     would be the first one or lie in the upper half of the address space: none of
     ours can be there, and the pointer is never read */
  mi_free(launder((void*)(uintptr_t)0x1000));
  mi_free(launder((void*)(uintptr_t)(32u << 20)));
  mi_free(launder((void*)(uintptr_t)0xFFFF800000001000ull));

  /* mi_cfree ignores what is not ours: stack, glibc heap, plain mmap */
  long stack_buf[8];
  memset(stack_buf, 0x11, sizeof(stack_buf));
  CHECK(!mi_is_in_heap_region(stack_buf));
  CHECK(!mi_check_owned(stack_buf));
  mi_cfree(launder(stack_buf));
  CHECK(all_bytes(stack_buf, 0x11, sizeof(stack_buf)));
  CHECK(find_libc_malloc());
  void* g = (libc_malloc != NULL ? libc_malloc(48) : NULL);
  CHECK(g != NULL);
  if (g != NULL) {
    CHECK(!mi_is_in_heap_region(g));
    mi_cfree(launder(g));
    libc_free(g);
  }
  void* m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  if (m != MAP_FAILED) {
    CHECK(!mi_is_in_heap_region(m));
    mi_cfree(launder((char*)m + 4096));
    munmap(m, 1 << 20);
  }

  /* sized and aligned frees with the right size */
  void* p = mi_malloc(40);
  CHECK(p != NULL && mi_usable_size(p) >= 40);
  CHECK(mi_is_in_heap_region(p) && mi_check_owned(p));
  fill(p, 40, 5);
  mi_free_size(p, 40);
  p = mi_malloc_aligned(40, 64);
  CHECK(p != NULL && ((uintptr_t)p % 64) == 0);
  fill(p, 40, 6);
  mi_free_size_aligned(p, 40, 64);
  p = mi_malloc_aligned(40, 128);
  CHECK(p != NULL);
  mi_free_aligned(p, 128);
  p = mi_malloc(10);
  mi_cfree(p);                                     /* mi_cfree of our block frees it */

  /* the start of one of our segments is no block; its header is that of the chunk
     below (free reads the segment of p - 1), which need not even be mapped: mi_cfree
     and mi_heap_contains_block must not read it */
  uint8_t* s = segment_start_below_foreign();
  if (s != NULL) {
    mi_cfree(launder(s));
    CHECK(!mi_heap_contains_block(mi_heap_get_default(), s));
  }

  /* impossible requests fail cleanly */
  errno = 0;
  CHECK(mi_malloc(opaque(SIZE_MAX)) == NULL && errno == ENOMEM);
  CHECK(mi_calloc(opaque(SIZE_MAX / 2), 3) == NULL);
  CHECK(mi_mallocn(opaque(SIZE_MAX / 2), 3) == NULL);
  CHECK(mi_reallocn(NULL, opaque(SIZE_MAX / 2), 3) == NULL);
  CHECK(mi_malloc_aligned(16, opaque(3)) == NULL);           /* not a power of two */
  void* q = NULL;
  CHECK(mi_posix_memalign(&q, opaque(3), 16) == EINVAL && q == NULL);
  p = mi_malloc(32);
  CHECK(mi_reallocf(p, opaque(SIZE_MAX)) == NULL);           /* and p is freed */
  p = mi_malloc(32);
  CHECK(mi_realloc(p, opaque(SIZE_MAX)) == NULL);             /* p stays valid */
  fill(p, 32, 7);
  mi_free(p);
  heap_still_works();
}

/* ---------------------------------------------------------------------------
   Overflows
--------------------------------------------------------------------------- */

/* write one byte at `at` of a `size`-byte block (past its end), then free the block
   with `release` */
static void overflow_at(size_t size, size_t at, void (*release)(void*)) {
  void* keep = mi_malloc(size);
  uint8_t* p = (uint8_t*)xmalloc(size);
  fill(p, size, 1);
  poke(p, at, 0x2A);
  release(p);
  heap_still_works();
  mi_free(keep);
}

/* write one byte past a 13-byte block (into the fill bytes of the padding; in a
   build without padding the byte is still inside the 16-byte block) */
static void case_overflow(void) { overflow_at(13, 13, &xfree); }

/* write one byte past a 16-byte block: the block has no slack (mi_malloc(16) in a
   padding build is a 24-byte block: 16 bytes and the canary), so the byte lands in
   the canary (and, without padding, in the next block) */
static void case_overflow_canary(void) { overflow_at(16, 16, &xfree); }

/* grow a 100-byte block to 103 bytes (in place: the block has room), then write one
   byte past the new size: the padding moved with the size */
static void case_overflow_grown(void) {
  void* keep = mi_malloc(100);
  uint8_t* p = (uint8_t*)xmalloc(100);
  fill(p, 100, 1);
  p = (uint8_t*)xrealloc(p, 103);
  CHECK(all_bytes(p, 1, 100));
  fill(p, 103, 2);
  poke(p, 103, 0x2A);
  xfree(p);
  heap_still_works();
  mi_free(keep);
}

/* skip 12 bytes past a 90-byte block and write one byte there (the 13th fill byte;
   padding and tracking builds only: without padding the byte is in the next block) */
static void case_overflow_skip(void) { overflow_at(90, 102, &xfree); }

/* read one byte past a 13-byte block */
static void case_overflow_read(void) {
  uint8_t* p = (uint8_t*)xmalloc(13);
  fill(p, 13, 1);
  fprintf(stderr, "wrong: read past the end: 0x%02x\n", peek(p, 13));
  xfree(p);
}

/* ---------------------------------------------------------------------------
   Bad frees
--------------------------------------------------------------------------- */

static void case_double_free(void) {
  void* keep = mi_malloc(32);                      /* keeps the page in use */
  void* p = xmalloc(32);
  fill(p, 32, 1);
  xfree(p);
  xfree(p);
  /* an undetected double free would hand the block out twice */
  void* ps[1000];
  size_t n = alloc_many(ps, 1000, 32, false);
  check_distinct(ps, n, NULL, NULL);
  free_many(ps, n);
  heap_still_works();
  mi_free(keep);
}

static void* free_from_thread(void* arg) {
  xfree(arg);
  return NULL;
}

/* xfree in a new thread (the cross-thread free path) */
static void xfree_remote(void* p) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, &free_from_thread, p) == 0);
  pthread_join(t, NULL);
}

/* free a pointer into the middle of a live block with `release`; the block must be
   left alone */
static void free_inside(size_t offset, void (*release)(void*)) {
  void* keep = mi_malloc(64);
  uint8_t* p = (uint8_t*)xmalloc(64);
  fill(p, 64, 0x77);
  release(p + offset);
  CHECK(all_bytes(p, 0x77, 64));
  /* a free that went through would let the interior pointer be handed out */
  void* ps[2000];
  size_t n = alloc_many(ps, 2000, 64, false);
  check_distinct(ps, n, p, p + 64);
  free_many(ps, n);
  CHECK(all_bytes(p, 0x77, 64));
  int before = errors_total();
  release(p);                                      /* the real free is fine */
  CHECK(errors_total() == before);
  heap_still_works();
  mi_free(keep);
}

static void case_free_interior(void)  { free_inside(16, &xfree); }
static void case_free_unaligned(void) { free_inside(1, &xfree); }
/* the same mistake made by another thread */
static void case_free_interior_remote(void) { free_inside(16, &xfree_remote); }

/* the overflow of case_overflow, freed by another thread (the cross-thread free path
   checks the padding -- the only check: the owner takes the block back unchecked --
   and frees the block) */
static void case_overflow_remote(void) { overflow_at(13, 13, &xfree_remote); }

static void case_free_stack(void) {
  long buf[8];
  memset(buf, 0x11, sizeof(buf));
  xfree(buf);
  CHECK(all_bytes(buf, 0x11, sizeof(buf)));
  heap_still_works();
}

static void case_free_mmap(void) {
  const size_t size = 1 << 20;
  uint8_t* m = (uint8_t*)mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  if (m == MAP_FAILED) return;
  memset(m, 0x11, size);
  xfree(m + 4096);
  CHECK(all_bytes(m, 0x11, size));
  munmap(m, size);
  heap_still_works();
}

static void case_free_libc(void) {
  CHECK(find_libc_malloc());
  uint8_t* g = (uint8_t*)(libc_malloc != NULL ? libc_malloc(48) : NULL);
  CHECK(g != NULL && !mi_is_in_heap_region(g));
  if (g == NULL || mi_is_in_heap_region(g)) return;
  memset(g, 0x11, 48);
  xfree(g);
  CHECK(all_bytes(g, 0x11, 48));
  libc_free(g);
  heap_still_works();
}

/* a pointer into one of our segments where no block is: the middle of the segment of
   the first small block (the rest of a fresh segment is free space) */
static void case_free_unused(void) {
  void* p = xmalloc(64);
  uintptr_t seg = ((uintptr_t)p - 1) & ~MI_SEGMENT_MASK;
  uint8_t* q = (uint8_t*)(seg + MI_SEGMENT_SIZE / 2 + 64);
  CHECK(mi_is_in_heap_region(q));
  xfree(q);
  heap_still_works();
  xfree(p);
}

/* a pointer at the start of one of our segments: not a block (an error), and the
   header of the chunk below, which free would read, is not ours */
static void case_free_segment_start(void) {
  uint8_t* s = segment_start_below_foreign();
  CHECK(s != NULL);
  if (s == NULL) return;
  xfree(s);
  heap_still_works();
}

static void case_usable_size_foreign(void) {
  long buf[8];
  memset(buf, 0x11, sizeof(buf));
  size_t n = mi_usable_size(launder(buf));
  fprintf(stderr, "wrong: mi_usable_size(stack) = %zu\n", n);
  CHECK(n == 0);
  heap_still_works();
}

/* ---------------------------------------------------------------------------
   Use after free, corrupted free lists
--------------------------------------------------------------------------- */

static void case_read_after_free(void) {
  void* keep = mi_malloc(32);
  uint8_t* p = (uint8_t*)xmalloc(32);
  fill(p, 32, 1);
  xfree(p);
  fprintf(stderr, "wrong: read after free: 0x%02x\n", peek(p, 16));
  mi_free(keep);
}

/* write into a freed block's data (not its free-list link) */
static void case_write_after_free_data(void) {
  void* keep = mi_malloc(32);
  uint8_t* p = (uint8_t*)xmalloc(32);
  fill(p, 32, 1);
  xfree(p);
  poke(p, 16, 0x2A);
  heap_still_works();
  mi_free(keep);
}

/* overwrite the first word of a freed block (its free-list link) with `value`, then
   allocate blocks of the same size until the block comes back (and the link is read) */
static void corrupt_link(uintptr_t value, const void* lo, const void* hi) {
  void* keep = mi_malloc(32);
  uint8_t* p = (uint8_t*)xmalloc(32);
  fill(p, 32, 1);
  xfree(p);
  poke_word(p, value);
  static void* ps[20000];
  size_t n = alloc_many(ps, 20000, 32, have_handler);
  fprintf(stderr, "wrong: allocated %zu blocks after the corruption\n", n);
  /* the corrupted link must not be followed: nothing handed out at the forged address */
  for (size_t i = 0; i < n; i++) {
    CHECK((uintptr_t)ps[i] != value);
  }
  check_distinct(ps, n, lo, hi);
  free_many(ps, n);
  heap_still_works();
  mi_free(keep);
}

/* a stray write after free: garbage in the link */
static void case_write_after_free(void) {
  corrupt_link((uintptr_t)0x4141414141414141ULL, NULL, NULL);
}

/* an attack: make the free list point at memory of the attacker's choosing (with a
   plain free list the allocator would hand out `target`) */
static long target[64];
static void case_corrupt_free_list(void) {
  memset(target, 0, sizeof(target));
  corrupt_link((uintptr_t)&target[8], target, target + 64);
}

/* lose the only pointer to a block. Not the first block of its page: the page's
   metadata (`page_start`, as in C mimalloc) points at that one, so Valgrind would
   count it as still reachable. */
static void __attribute__((noinline)) leak_one(void) {
  void* volatile p = xmalloc(64);
  fill(p, 64, 1);
  p = NULL;
}

static void case_leak(void) {
  void* first = mi_malloc(64);
  fill(first, 64, 1);
  leak_one();
  heap_still_works();
  mi_free(first);
}

/* ---------------------------------------------------------------------------
   Guard pages (secure)
--------------------------------------------------------------------------- */

static sigjmp_buf probe_jmp;

static void on_fault(int sig) {
  siglongjmp(probe_jmp, sig);
}

/* whether reading the byte at `p` faults */
static bool faults(const void* p) {
  struct sigaction sa, old_segv, old_bus;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = &on_fault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  volatile bool faulted = false;
  if (sigsetjmp(probe_jmp, 1) == 0) {
    (void)*(const volatile uint8_t*)p;
  }
  else {
    faulted = true;
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  return faulted;
}

static void case_guard_pages(void) {
  uint8_t* p = (uint8_t*)mi_malloc(64);
  CHECK(p != NULL);
  uintptr_t seg = ((uintptr_t)p - 1) & ~MI_SEGMENT_MASK;
  const uint8_t* header = (const uint8_t*)seg;
  const uint8_t* meta_guard = (const uint8_t*)(seg + MI_SEGMENT_SLICE_SIZE - 1);  /* the header is one slice */
  const uint8_t* end_guard = (const uint8_t*)(seg + MI_SEGMENT_SIZE - 1);
  bool f_header = faults(header), f_block = faults(p);
  bool f_meta = faults(meta_guard), f_end = faults(end_guard);
  fprintf(stderr, "wrong: segment header %s, block %s, guard behind the metadata %s, guard at the segment end %s\n",
          f_header ? "faults" : "readable", f_block ? "faults" : "readable",
          f_meta ? "faults" : "readable", f_end ? "faults" : "readable");
  CHECK(!f_header && !f_block);
  mi_free(p);
}

/* memory of a freed page that was purged: secure builds decommit it with PROT_NONE, so
   a use after free faults instead of reading zeros; allocating there again makes it
   read-write */
static void case_purged_noaccess(void) {
  mi_option_set(mi_option_purge_delay, 0);   /* purge as soon as a page is freed */
  void* keep = mi_malloc(64);                 /* keeps the segment */
  const size_t size = 1024 * 1024;            /* a page of its own, freed with the block */
  uint8_t* p = (uint8_t*)mi_malloc(size);
  CHECK(keep != NULL && p != NULL);
  memset(p, 0x5A, size);
  mi_free(p);
  bool f_freed = faults(p + size / 2);
  uint8_t* q = (uint8_t*)mi_malloc(size);
  CHECK(q != NULL);
  bool f_new = faults(q + size / 2);
  if (!f_new) memset(q, 0xA5, size);
  fprintf(stderr, "wrong: purged block %s, new block %s%s\n", f_freed ? "faults" : "readable",
          f_new ? "faults" : "readable", q == p ? " (the same memory)" : "");
  mi_free(q);
  mi_free(keep);
}

/* a heap bound to an arena of large OS pages (here: memory declared as such): secure
   builds place no segment in it, since no guard page fits in a large page, so the heap
   cannot allocate (as in C mimalloc); other builds allocate in the arena */
static void case_large_arena(void) {
  const size_t size = 2 * MI_SEGMENT_SIZE;
  uint8_t* raw = (uint8_t*)mmap(NULL, size + MI_SEGMENT_SIZE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(raw != MAP_FAILED);
  if (raw == MAP_FAILED) return;
  uint8_t* start = (uint8_t*)(((uintptr_t)raw + MI_SEGMENT_SIZE - 1) & ~MI_SEGMENT_MASK);
  mi_arena_id_t id = 0;
  CHECK(mi_manage_os_memory_ex(start, size, true /* committed */, true /* large */,
                               true /* zero */, -1, true /* exclusive */, &id));
  mi_heap_t* heap = mi_heap_new_in_arena(id);
  CHECK(heap != NULL);
  if (heap == NULL) return;
  uint8_t* p = (uint8_t*)mi_heap_malloc(heap, 64);
  fprintf(stderr, "wrong: heap in a large-page arena: %s\n",
          p == NULL ? "no block" : (p >= start && p < start + size) ? "block in the arena" : "block elsewhere");
  mi_free(p);
  mi_heap_delete(heap);
}

/* the process at its limit of memory mappings (vm.max_map_count), so that placing a
   guard page, which splits a mapping, fails with ENOMEM: secure builds warn (from level
   2 with a hint at the limit) and go on with the memory unguarded */
static void case_guard_enomem(void) {
  long limit = 0;
  FILE* f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld", &limit) != 1) limit = 0;
    fclose(f);
  }
  if (limit <= 0 || limit > 1000000) {
    fprintf(stderr, "wrong: map limit %ld: not tried\n", limit);
    return;
  }
  /* every other page of one mapping made inaccessible: two more mappings per page */
  const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  const size_t npages = 2 * (size_t)limit + 16;
  uint8_t* r = (uint8_t*)mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED);
  if (r == MAP_FAILED) return;
  size_t i = 1;
  while (i < npages && mprotect(r + i * ps, ps, PROT_NONE) == 0) i += 2;
  const bool reached = (i < npages && errno == ENOMEM);
  /* new segments: four 8 MiB blocks fill one */
  enum { N = 8 };
  uint8_t* blocks[N];
  for (int k = 0; k < N; k++) blocks[k] = (uint8_t*)mi_malloc(8 * 1024 * 1024);
  munmap(r, npages * ps);
  fprintf(stderr, "wrong: map limit %ld %s\n", limit, reached ? "reached" : "not reached");
  CHECK(reached);
  for (int k = 0; k < N; k++) {
    if (blocks[k] != NULL) {                  /* (NULL is fine: out of mappings) */
      blocks[k][0] = 1;
      blocks[k][8 * 1024 * 1024 - 1] = 1;
    }
    mi_free(blocks[k]);
  }
}

/* ---------------------------------------------------------------------------
   Main
--------------------------------------------------------------------------- */

typedef void (case_fun_t)(void);
static const struct { const char* name; case_fun_t* fun; } cases[] = {
  { "correct",              &case_correct },
  { "promises",             &case_promises },
  { "overflow",             &case_overflow },
  { "overflow-canary",      &case_overflow_canary },
  { "overflow-grown",       &case_overflow_grown },
  { "overflow-skip",        &case_overflow_skip },
  { "overflow-remote",      &case_overflow_remote },
  { "overflow-read",        &case_overflow_read },
  { "double-free",          &case_double_free },
  { "free-interior",        &case_free_interior },
  { "free-unaligned",       &case_free_unaligned },
  { "free-interior-remote", &case_free_interior_remote },
  { "free-stack",           &case_free_stack },
  { "free-mmap",            &case_free_mmap },
  { "free-libc",            &case_free_libc },
  { "free-unused",          &case_free_unused },
  { "free-segment-start",   &case_free_segment_start },
  { "usable-size-foreign",  &case_usable_size_foreign },
  { "read-after-free",      &case_read_after_free },
  { "write-after-free-data",&case_write_after_free_data },
  { "write-after-free",     &case_write_after_free },
  { "corrupt-free-list",    &case_corrupt_free_list },
  { "leak",                 &case_leak },
  { "guard-pages",          &case_guard_pages },
  { "purged-noaccess",      &case_purged_noaccess },
  { "large-arena",          &case_large_arena },
  { "guard-enomem",         &case_guard_enomem },
};

int main(int argc, char** argv) {
  const size_t ncases = sizeof(cases) / sizeof(cases[0]);
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "handler") != 0)) {
    fprintf(stderr, "usage: %s [malloc-]<case> [handler]\ncases:", argv[0]);
    for (size_t i = 0; i < ncases; i++) fprintf(stderr, " %s", cases[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  if (argc == 3) {
    mi_register_error(&on_error, NULL);
    have_handler = true;
  }
  const char* name = argv[1];
  if (strncmp(name, "malloc-", 7) == 0) {
    use_std = true;
    name += 7;
  }
  for (size_t i = 0; i < ncases; i++) {
    if (strcmp(name, cases[i].name) == 0) {
      fprintf(stderr, "wrong: %s%s%s\n", cases[i].name, use_std ? " (with malloc/free)" : "",
              have_handler ? " (error handler registered)" : "");
      cases[i].fun();
      if (have_handler) {
        fprintf(stderr, "wrong: errors: EAGAIN=%d EFAULT=%d EINVAL=%d ENOMEM=%d EOVERFLOW=%d other=%d\n",
                err_eagain, err_efault, err_einval, err_enomem, err_eoverflow, err_other);
      }
      fprintf(stderr, "wrong: %s: survived (%d failed checks)\n", cases[i].name, failures);
      return (failures > 255 ? 255 : failures);
    }
  }
  fprintf(stderr, "%s: unknown case '%s'\n", argv[0], argv[1]);
  return 2;
}
