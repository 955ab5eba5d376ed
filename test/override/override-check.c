/* ----------------------------------------------------------------------------
override-check.c -- the standard allocation interface of the process is mimalloc's.

  override-check [EXPECT_MODULE]

Built plain (run with LD_PRELOAD=libmimalloc.so) and linked with mimalloc.o,
libmimalloc.a or libmimalloc.so (OV_LINKED). Every block returned by malloc, calloc,
realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc, strdup, strndup,
reallocarray, the glibc __libc_* entry points, and by glibc itself (asprintf,
getline, open_memstream, realpath, wcsdup, scandir, getaddrinfo) must be a mimalloc block
(mi_is_in_heap_region), malloc_usable_size must agree with mi_usable_size, failure
sets errno to ENOMEM and free keeps errno; glibc's malloc_trim, mallinfo2 and
mallopt (not replaced) still work. With EXPECT_MODULE, the definition of
`malloc` that the process uses must live in a file whose name contains it.
-----------------------------------------------------------------------------*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"   /* a failed realloc leaves the block valid */
#endif
#endif

#include <dirent.h>
#include <malloc.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <wchar.h>

#include "ov-common.h"

/* glibc's own entry points (exported by glibc, and by mimalloc, which interposes them) */
extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void  __libc_free(void* p);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);

/* keep the compiler from folding sizes and optimising malloc/free pairs away */
static size_t opaque(size_t x) { volatile size_t v = x; return v; }
static void* volatile sink;

static bool aligned_to(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }

static void check_usable(void* p, size_t size) {
  OV_CHECK_OURS(p);
  if (p == NULL) return;
  size_t mu = ov_api.usable_size(p);
  size_t gu = malloc_usable_size(p);
  if (mu != gu) OV_FAIL("malloc_usable_size(%p) = %zu but mi_usable_size = %zu", p, gu, mu);
  if (mu < size) OV_FAIL("usable size %zu < requested %zu", mu, size);
  memset(p, 0x5a, size);
}

static void check_malloc_family(void) {
  /* the issue's own example */
  void* p8 = malloc(opaque(8));
  OV_CHECK_OURS(p8);
  free(p8);

  /* sizes from 0 to huge (64 MiB) */
  static const size_t sizes[] = { 0, 1, 8, 15, 16, 17, 100, 128, 1000, 1024, 4000, 4096, 8192,
                                  10000, 65536, 100000, 262144, 1 << 20, 5 << 20, 33 << 20, 64 << 20 };
  void* blocks[sizeof(sizes) / sizeof(sizes[0])];
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    blocks[i] = malloc(opaque(sizes[i]));
    check_usable(blocks[i], sizes[i]);
  }
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) free(blocks[i]);

  /* calloc zeroes, also on a reused block */
  for (int round = 0; round < 2; round++) {
    unsigned char* c = (unsigned char*)calloc(opaque(1000), opaque(100));
    OV_CHECK_OURS(c);
    if (c != NULL) {
      size_t nz = 0;
      for (size_t i = 0; i < 100000; i++) nz += (c[i] != 0);
      if (nz != 0) OV_FAIL("calloc returned %zu non-zero bytes", nz);
      memset(c, 0xff, 100000);
    }
    free(c);
  }
  unsigned char* cbig = (unsigned char*)calloc(opaque(40), opaque(1 << 20));
  OV_CHECK_OURS(cbig);
  if (cbig != NULL) OV_CHECK(cbig[0] == 0 && cbig[(40 << 20) - 1] == 0 && cbig[20 << 20] == 0);
  free(cbig);

  /* realloc: from NULL, growing through all size classes (contents kept), shrinking */
  unsigned char* r = (unsigned char*)realloc(NULL, opaque(10));
  OV_CHECK_OURS(r);
  if (r != NULL) ov_fill(r, 10, 10);
  size_t have = 10;
  for (size_t n = 16; r != NULL && n <= ((size_t)48 << 20); n = n * 3 / 2) {
    unsigned char* q = (unsigned char*)realloc(r, opaque(n));
    OV_CHECK_OURS(q);
    if (q == NULL) break;
    r = q;
    if (!ov_check_fill(r, have, have)) OV_FAIL("realloc from %zu to %zu bytes lost the contents", have, n);
    check_usable(r, n);   /* (overwrites the block) */
    ov_fill(r, n, n);
    have = n;
  }
  for (size_t n = have / 3; r != NULL && n >= 100; n /= 3) {   /* shrinking keeps the prefix */
    unsigned char* q = (unsigned char*)realloc(r, opaque(n));
    OV_CHECK_OURS(q);
    if (q == NULL) break;
    r = q;
    if (!ov_check_fill_prefix(r, n, have, have)) OV_FAIL("realloc shrinking to %zu bytes lost the contents", n);
  }
  r = (unsigned char*)realloc(r, opaque(100));
  OV_CHECK_OURS(r);
  /* realloc(p, 0) returns a minimal block (mimalloc), which must be freed */
  r = (unsigned char*)realloc(r, opaque(0));
  OV_CHECK_OURS(r);
  free(r);

  /* aligned allocation */
  static const size_t aligns[] = { 8, 16, 32, 64, 128, 256, 1024, 4096, 65536, 1 << 20, 4 << 20, 16 << 20, 64 << 20 };
  for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
    size_t a = aligns[i];
    void* q = NULL;
    int err = posix_memalign(&q, a, opaque(a * 3 + 1));
    OV_CHECK(err == 0);
    OV_CHECK(aligned_to(q, a));
    check_usable(q, a * 3 + 1);
    free(q);
    q = aligned_alloc(a, opaque(a * 2));
    OV_CHECK(aligned_to(q, a));
    check_usable(q, a * 2);
    free(q);
    q = memalign(a, opaque(100));
    OV_CHECK(aligned_to(q, a));
    check_usable(q, 100);
    free(q);
    q = __libc_memalign(a, opaque(100));
    OV_CHECK(aligned_to(q, a));
    check_usable(q, 100);
    __libc_free(q);
  }
  void* q = NULL;
  OV_CHECK(posix_memalign(&q, 24, 100) == EINVAL);   /* not a power of two */
  OV_CHECK(q == NULL);
  q = aligned_alloc(64, opaque(100));   /* not a multiple of the alignment: glibc accepts it */
  OV_CHECK(aligned_to(q, 64));
  check_usable(q, 100);
  free(q);
  OV_CHECK(malloc_usable_size(NULL) == 0);

  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void* v = valloc(opaque(100));
  OV_CHECK(aligned_to(v, page));
  check_usable(v, 100);
  free(v);
  v = pvalloc(opaque(page + 1));
  OV_CHECK(aligned_to(v, page));
  check_usable(v, 2 * page);   /* rounded up to whole pages */
  free(v);
  v = __libc_valloc(opaque(10));
  OV_CHECK(aligned_to(v, page));
  check_usable(v, 10);
  __libc_free(v);
  v = __libc_pvalloc(opaque(10));
  OV_CHECK(aligned_to(v, page));
  check_usable(v, page);
  __libc_free(v);

  /* the glibc-internal names */
  void* l = __libc_malloc(opaque(100));
  check_usable(l, 100);
  l = __libc_realloc(l, opaque(100000));
  check_usable(l, 100000);
  __libc_free(l);
  l = __libc_calloc(opaque(10), opaque(10));
  check_usable(l, 100);
  free(l);
  /* cross-freeing between the names */
  l = malloc(opaque(50));
  __libc_free(l);
  l = __libc_malloc(opaque(50));
  free(l);

  /* strings */
  char* s = strdup("mimalloc override check");
  OV_CHECK_OURS(s);
  if (s != NULL) OV_CHECK(strcmp(s, "mimalloc override check") == 0);
  free(s);
  s = strndup("mimalloc override check", 8);
  OV_CHECK_OURS(s);
  if (s != NULL) OV_CHECK(strcmp(s, "mimalloc") == 0);
  free(s);

  /* reallocarray, and its overflow check */
  int* ra = (int*)reallocarray(NULL, opaque(100), sizeof(int));
  check_usable(ra, 100 * sizeof(int));
#ifndef MI_XMALLOC
  errno = 0;
  void* ov = reallocarray(ra, opaque(SIZE_MAX / 2), 4);
  OV_CHECK(ov == NULL);
  OV_CHECK(errno == ENOMEM);
#endif
  free(ra);   /* still valid after the failed reallocarray */

  /* the BSD/macOS names are there too */
  void* (*reallocf_)(void*, size_t) = (void* (*)(void*, size_t))dlsym(RTLD_DEFAULT, "reallocf");
  size_t (*malloc_size_)(const void*) = (size_t (*)(const void*))dlsym(RTLD_DEFAULT, "malloc_size");
  size_t (*malloc_good_size_)(size_t) = (size_t (*)(size_t))dlsym(RTLD_DEFAULT, "malloc_good_size");
  void (*cfree_)(void*) = (void (*)(void*))dlsym(RTLD_DEFAULT, "cfree");
#ifndef OV_LINKED
  /* (a statically linked program exports only what shared libraries referenced) */
  OV_CHECK(reallocf_ != NULL && malloc_size_ != NULL && malloc_good_size_ != NULL && cfree_ != NULL);
#endif
  if (reallocf_ != NULL) {
    void* f = reallocf_(malloc(opaque(10)), opaque(1000));
    check_usable(f, 1000);
    if (malloc_size_ != NULL) OV_CHECK(f == NULL || malloc_size_(f) == ov_api.usable_size(f));
    if (cfree_ != NULL) cfree_(f); else free(f);
  }
  if (malloc_good_size_ != NULL) OV_CHECK(malloc_good_size_(100) >= 100);
  int (*reallocarr_)(void*, size_t, size_t) = (int (*)(void*, size_t, size_t))dlsym(RTLD_DEFAULT, "reallocarr");
  if (reallocarr_ != NULL) {   /* NetBSD's: takes the address of the pointer */
    int* arr = NULL;
    OV_CHECK(reallocarr_(&arr, opaque(50), sizeof(int)) == 0);
    check_usable(arr, 50 * sizeof(int));
    OV_CHECK(reallocarr_(&arr, opaque(5000), sizeof(int)) == 0);
    check_usable(arr, 5000 * sizeof(int));
    free(arr);
  }

  /* glibc's functions that mimalloc does not replace keep working */
  OV_CHECK(malloc_trim(0) >= 0);
  struct mallinfo2 mi = mallinfo2();
  (void)mi;
  (void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

static void check_errno(void) {
  /* failure: NULL and ENOMEM */
#ifndef MI_XMALLOC
  errno = 0;
  void* p = malloc(opaque(SIZE_MAX / 2 + 1));
  OV_CHECK(p == NULL);
  OV_CHECK(errno == ENOMEM);
  errno = 0;
  p = calloc(opaque(SIZE_MAX / 8), 16);   /* overflows */
  OV_CHECK(p == NULL);
  OV_CHECK(errno == ENOMEM);
  void* keep = malloc(opaque(16));
  errno = 0;
  p = realloc(keep, opaque(SIZE_MAX / 2 + 1));
  OV_CHECK(p == NULL);
  OV_CHECK(errno == ENOMEM);
  free(keep);   /* a failed realloc leaves the block alone */
  p = NULL;
  OV_CHECK(posix_memalign(&p, 64, opaque(SIZE_MAX / 2 + 1)) == ENOMEM);
  errno = 0;
  p = aligned_alloc(64, opaque(SIZE_MAX / 2 + 1));
  OV_CHECK(p == NULL && errno == ENOMEM);
#endif
  /* free (also of NULL) and successful calls keep errno */
  void* b = malloc(opaque(100));
  errno = 12345;
  free(b);
  OV_CHECK(errno == 12345);
  free(NULL);
  OV_CHECK(errno == 12345);
  b = malloc(opaque(1 << 26));
  errno = 12345;
  free(b);
  OV_CHECK(errno == 12345);
  b = malloc(opaque(10));
  OV_CHECK(errno == 12345);
  free(b);
}

/* glibc allocates with the process's malloc and lets the caller free */
static int scandir_all(const struct dirent* d) { (void)d; return 1; }
static void check_libc_allocations(void) {
  char* a = NULL;
  int n = asprintf(&a, "%s %d %0200d", "asprintf", 42, 7);
  OV_CHECK(n > 200);
  OV_CHECK_OURS(a);
  free(a);

  FILE* f = tmpfile();
  OV_CHECK(f != NULL);
  if (f != NULL) {
    for (int i = 0; i < 100; i++) fprintf(f, "line %d %0*d\n", i, i * 10, i);
    rewind(f);
    char* line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, f) > 0) lines++;
    OV_CHECK(lines == 100);
    OV_CHECK_OURS(line);
    free(line);
    fclose(f);
  }

  char* buf = NULL;
  size_t len = 0;
  FILE* m = open_memstream(&buf, &len);
  OV_CHECK(m != NULL);
  if (m != NULL) {
    for (int i = 0; i < 10000; i++) fprintf(m, "%d,", i);
    fclose(m);
    OV_CHECK(len > 10000);
    OV_CHECK_OURS(buf);
    free(buf);
  }

  char* rp = realpath(".", NULL);
  OV_CHECK_OURS(rp);
  free(rp);

  wchar_t* w = wcsdup(L"wide characters");
  OV_CHECK_OURS(w);
  free(w);

  /* glibc's name services (which dlopen their modules and cache with malloc) */
  struct passwd* pw = getpwuid(getuid());
  OV_CHECK(pw != NULL && pw->pw_name != NULL);
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = NULL;
  int gai = getaddrinfo("localhost", "80", &hints, &res);
  if (gai == 0) {
    OV_CHECK_OURS(res);
    freeaddrinfo(res);
  }
  else {
    fprintf(stderr, "(getaddrinfo(localhost) failed here: %s)\n", gai_strerror(gai));
  }

  struct dirent** list = NULL;
  int entries = scandir("/", &list, scandir_all, alphasort);
  OV_CHECK(entries > 2);
  if (entries > 0) {
    OV_CHECK_OURS(list);
    for (int i = 0; i < entries; i++) {
      OV_CHECK_OURS(list[i]);
      free(list[i]);
    }
    free(list);
  }
}

/* the mimalloc API itself is not fooled: foreign memory is not ours */
static void check_foreign(void) {
  int local = 0;
  static int global = 0;
  OV_CHECK(!ov_api.is_in_heap_region(&local));
  OV_CHECK(!ov_api.is_in_heap_region(&global));
  void* m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  OV_CHECK(m != MAP_FAILED);
  if (m != MAP_FAILED) {
    OV_CHECK(!ov_api.is_in_heap_region(m));
    munmap(m, 1 << 20);
  }
}

static void check_module(const char* expect) {
  void* sym = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  memset(&info, 0, sizeof(info));
  if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL) {
    OV_FAIL("cannot locate the definition of malloc");
    return;
  }
  if (strstr(info.dli_fname, expect) == NULL) {
    OV_FAIL("malloc is defined in %s, expected a file name containing '%s'", info.dli_fname, expect);
  }
  else {
    fprintf(stderr, "malloc comes from %s\n", info.dli_fname);
  }
}

int main(int argc, char** argv) {
  ov_init();
  sink = malloc(1);
  free(sink);
  if (argc > 1) check_module(argv[1]);
  check_foreign();
  check_malloc_family();
  check_errno();
  check_libc_allocations();
  if (ov_failed()) {
    fprintf(stderr, "override-check: %d checks FAILED\n", ov_failed());
    return 1;
  }
  fprintf(stderr, "override-check: all checks passed (mimalloc %d)\n", ov_api.version());
  return 0;
}
