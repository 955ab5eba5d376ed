/* The CRT redirect of mimalloc-override.dll, seen from a program that only uses the C
   runtime's malloc/free/realloc/_msize/_aligned_* (and, in the C++ part, operator new).
   It finds mimalloc through GetModuleHandle/GetProcAddress, so the same source serves
   for an executable linked with mimalloc-override.dll first, one linked without it (and
   later patched by minject), and one whose early.dll allocated before the redirect.

     test-redirect expect-redirect   malloc'd memory must be mimalloc's
     test-redirect expect-crt        the runtime keeps its own allocator (DLL absent or
                                     MIMALLOC_DISABLE_REDIRECT=1)
     test-redirect early             blocks early.dll allocated before the redirect are
                                     freed/reallocated correctly afterwards
     test-redirect threads           100 threads allocate and exit: their heaps are
                                     released (thread count back to 0, memory reused)
     test-redirect late              a DLL loaded (LoadLibrary) after the redirect
                                     allocates with mimalloc
     test-redirect late-crt          a C runtime DLL loaded after the redirect
                                     (msvcr120.dll) is redirected as it loads
     test-redirect dynamic           (without mimalloc linked) LoadLibrary of the
                                     override DLL redirects, FreeLibrary restores
     test-redirect errno             a failed allocation sets ENOMEM in the errno of the
                                     runtime called: msvcrt's, and ucrt's (ucrtbase.dll,
                                     loaded later), as the runtimes document

   Exit code 0 on success; each failure prints a line. */
#include <windows.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MI_LINK_OVERRIDE
/* a reference to the API keeps mimalloc-override.dll in the import table */
extern int mi_version(void);
#endif
#ifdef MI_LINK_EARLY
__declspec(dllimport) void** early_blocks(size_t* count, void** aligned);
#endif

#ifndef MI_OVERRIDE_DLL
#define MI_OVERRIDE_DLL "mimalloc-override.dll"   /* (mimalloc-override-debug.dll, ...) */
#endif

typedef bool (*is_in_heap_fn)(const void*);
typedef bool (*is_redirected_fn)(void);
typedef void (*output_fun)(const char* msg, void* arg);
typedef void (*stats_print_out_fn)(output_fun out, void* arg);
typedef void (*process_info_fn)(size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*, size_t*);
typedef void (*collect_fn)(bool);

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAILED (%s:%d): ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static HMODULE mi;
static is_in_heap_fn is_ours;

static void* mi_fn(const char* name) {
  return mi == NULL ? NULL : (void*)GetProcAddress(mi, name);
}

void cxx_checks(bool expect_ours, is_in_heap_fn is_ours);

/* plain C runtime calls, and whose memory they give */
static void basic_checks(bool expect_ours) {
  for (size_t size = 1; size < 4u << 20; size = size * 3 + 5) {
    char* p = (char*)malloc(size);
    CHECK(p != NULL, "malloc(%zu)", size);
    if (p == NULL) continue;
    memset(p, 0xab, size);
    CHECK(_msize(p) >= size, "_msize(%zu) = %zu", size, _msize(p));
    if (is_ours != NULL) CHECK(is_ours(p) == expect_ours, "malloc(%zu) from %s", size, expect_ours ? "the CRT, not mimalloc" : "mimalloc, not the CRT");
    char* q = (char*)realloc(p, size * 2 + 1);
    CHECK(q != NULL && (unsigned char)q[size - 1] == 0xab, "realloc keeps the contents");
    free(q);
  }
  int* z = (int*)calloc(1000, sizeof(int));
  CHECK(z != NULL, "calloc");
  for (int i = 0; z != NULL && i < 1000; i++) CHECK(z[i] == 0, "calloc zeroes");
  if (is_ours != NULL && z != NULL) CHECK(is_ours(z) == expect_ours, "calloc");
  /* (_recalloc is not in mingw's msvcrt import library: look it up) */
  void* (*recalloc_fn)(void*, size_t, size_t) = (void* (*)(void*, size_t, size_t))GetProcAddress(GetModuleHandleA("msvcrt.dll"), "_recalloc");
  if (recalloc_fn != NULL) {   /* (Windows' msvcrt.dll has it, wine's does not) */
    z = (int*)recalloc_fn(z, 2000, sizeof(int));
    for (int i = 0; z != NULL && i < 2000; i++) { if (z[i] != 0) { CHECK(false, "_recalloc zeroes"); break; } }
  }
  free(z);
  char* s = _strdup("a string from the runtime's strdup");
  CHECK(s != NULL && strcmp(s, "a string from the runtime's strdup") == 0, "_strdup");
  if (is_ours != NULL && s != NULL) CHECK(is_ours(s) == expect_ours, "_strdup (the runtime's internal malloc)");
  free(s);
  void* a = _aligned_malloc(100, 256);
  CHECK(a != NULL && ((uintptr_t)a & 255) == 0, "_aligned_malloc alignment");
  if (is_ours != NULL && a != NULL) CHECK(is_ours(a) == expect_ours, "_aligned_malloc");
  a = _aligned_realloc(a, 5000, 256);
  CHECK(a != NULL && ((uintptr_t)a & 255) == 0, "_aligned_realloc alignment");
  _aligned_free(a);
  CHECK(realloc(malloc(10), 0) == NULL, "realloc(p, 0) frees and returns NULL");
  /* the runtime's own (MSVC-named) operator new/delete, as an MSVC-built module calls them */
  HMODULE crt = GetModuleHandleA("msvcrt.dll");
  void* (*crt_new)(size_t) = (void* (*)(size_t))GetProcAddress(crt, "??2@YAPEAX_K@Z");
  void (*crt_delete)(void*) = (void (*)(void*))GetProcAddress(crt, "??3@YAXPEAX@Z");
  if (crt_new != NULL && crt_delete != NULL) {
    void* n = crt_new(48);
    CHECK(n != NULL, "msvcrt's operator new");
    if (is_ours != NULL && n != NULL) CHECK(is_ours(n) == expect_ours, "msvcrt's operator new");
    crt_delete(n);
  }
  free(NULL);
}

/* blocks early.dll allocated with the runtime before the redirect */
static void early_checks(void) {
  HMODULE early = GetModuleHandleA("early.dll");
  CHECK(early != NULL, "early.dll is loaded");
  if (early == NULL) return;
  void** (*early_blocks)(size_t*, void**) = (void** (*)(size_t*, void**))GetProcAddress(early, "early_blocks");
  size_t count = 0;
  void* aligned = NULL;
  void** blocks = early_blocks(&count, &aligned);
  for (size_t i = 0; i < count; i++) {
    unsigned char* p = (unsigned char*)blocks[i];
    size_t size = 16 + i * 40;
    CHECK(p != NULL && !is_ours(p), "early block %zu is the runtime's", i);
    CHECK(_msize(p) >= size, "_msize of an early block: %zu < %zu", _msize(p), size);
    if (i % 3 == 0) {
      p = (unsigned char*)realloc(p, size + 5000);   /* moves it into mimalloc */
      CHECK(p != NULL && p[size - 1] == (unsigned char)i && p[0] == (unsigned char)i, "realloc of an early block keeps its contents");
      CHECK(p != NULL && is_ours(p), "an early block realloc'ed is mimalloc's");
    }
    free(p);
  }
  CHECK(aligned != NULL && !is_ours(aligned) && ((unsigned char*)aligned)[999] == 0x5a, "early aligned block");
  _aligned_free(aligned);
  /* the runtime's heap must still be consistent */
  HANDLE crt_heap = (HANDLE)_get_heap_handle();
  CHECK(HeapValidate(crt_heap, 0, NULL), "the runtime's heap is valid after freeing early blocks");
}

/* early.dll loaded now, after the redirect: what its DllMain allocated is mimalloc's */
static void late_checks(void) {
  CHECK(GetModuleHandleA("early.dll") == NULL, "early.dll is not loaded yet");
  HMODULE late = LoadLibraryA("early.dll");
  CHECK(late != NULL, "LoadLibrary(early.dll)");
  if (late == NULL) return;
  void** (*early_blocks)(size_t*, void**) = (void** (*)(size_t*, void**))GetProcAddress(late, "early_blocks");
  size_t count = 0;
  void* aligned = NULL;
  void** blocks = early_blocks(&count, &aligned);
  for (size_t i = 0; i < count; i++) {
    CHECK(blocks[i] != NULL && is_ours(blocks[i]), "a block of a DLL loaded after the redirect is mimalloc's");
    free(blocks[i]);
  }
  CHECK(aligned != NULL && is_ours(aligned), "an aligned block of a DLL loaded after the redirect is mimalloc's");
  _aligned_free(aligned);
}

/* a runtime DLL loaded after the redirect (Visual C++ 2013's) is patched as it loads */
static void late_crt_checks(void) {
  CHECK(GetModuleHandleA("msvcr120.dll") == NULL, "msvcr120.dll is not loaded yet");
  HMODULE crt = LoadLibraryA("msvcr120.dll");
  if (crt == NULL) { printf("late-crt: no msvcr120.dll on this system: not tested\n"); return; }
  void* (*crt_malloc)(size_t) = (void* (*)(size_t))GetProcAddress(crt, "malloc");
  void (*crt_free)(void*) = (void (*)(void*))GetProcAddress(crt, "free");
  size_t (*crt_msize)(void*) = (size_t (*)(void*))GetProcAddress(crt, "_msize");
  char* (*crt_strdup)(const char*) = (char* (*)(const char*))GetProcAddress(crt, "_strdup");
  CHECK(crt_malloc != NULL && crt_free != NULL && crt_msize != NULL && crt_strdup != NULL, "msvcr120.dll exports");
  if (crt_malloc == NULL || crt_free == NULL || crt_msize == NULL || crt_strdup == NULL) return;
  void* p = crt_malloc(100);
  CHECK(p != NULL && is_ours(p), "msvcr120.dll's malloc, loaded after the redirect, is mimalloc's");
  CHECK(crt_msize(p) >= 100, "msvcr120.dll's _msize");
  crt_free(p);
  char* s = crt_strdup("late");
  CHECK(s != NULL && is_ours(s) && strcmp(s, "late") == 0, "msvcr120.dll's _strdup is mimalloc's");
  crt_free(s);
  /* unloaded and loaded again (fresh code, maybe at the same address): patched again,
     every time (more cycles than the patch table could hold if unloads left entries) */
  for (int cycle = 1; cycle <= 12; cycle++) {
    CHECK(FreeLibrary(crt), "FreeLibrary(msvcr120.dll), cycle %d", cycle);
    CHECK(GetModuleHandleA("msvcr120.dll") == NULL, "msvcr120.dll is unloaded, cycle %d", cycle);
    crt = LoadLibraryA("msvcr120.dll");
    CHECK(crt != NULL, "LoadLibrary(msvcr120.dll) again, cycle %d", cycle);
    if (crt == NULL) return;
    crt_malloc = (void* (*)(size_t))GetProcAddress(crt, "malloc");
    crt_free = (void (*)(void*))GetProcAddress(crt, "free");
    void* (*crt_aligned_malloc)(size_t, size_t) = (void* (*)(size_t, size_t))GetProcAddress(crt, "_aligned_malloc");
    void (*crt_aligned_free)(void*) = (void (*)(void*))GetProcAddress(crt, "_aligned_free");
    CHECK(crt_malloc && crt_free && crt_aligned_malloc && crt_aligned_free, "msvcr120.dll exports, cycle %d", cycle);
    if (!(crt_malloc && crt_free && crt_aligned_malloc && crt_aligned_free)) return;
    p = crt_malloc(100);
    CHECK(p != NULL && is_ours(p), "msvcr120.dll's malloc, loaded again, is mimalloc's (cycle %d)", cycle);
    crt_free(p);
    p = crt_aligned_malloc(100, 64);
    CHECK(p != NULL && is_ours(p), "msvcr120.dll's _aligned_malloc, loaded again, is mimalloc's (cycle %d)", cycle);
    crt_aligned_free(p);
  }
  FreeLibrary(crt);
}

/* a failed allocation sets ENOMEM in the errno of the runtime whose function was called:
   this program's msvcrt, and ucrtbase.dll's own errno (what MSVC /MD programs read), which
   is not the msvcrt errno mimalloc-override.dll itself is linked with */
static void errno_checks(void) {
  volatile size_t huge = SIZE_MAX / 2, four = 4;   /* (volatile: no compile-time warning) */
  errno = 0;
  CHECK(malloc(huge) == NULL && errno == ENOMEM, "msvcrt: malloc of SIZE_MAX/2 sets errno to ENOMEM (got %d)", errno);
  errno = 0;
  CHECK(calloc(huge, four) == NULL && errno == ENOMEM, "msvcrt: calloc overflow sets errno to ENOMEM (got %d)", errno);
  HMODULE ucrt = LoadLibraryA("ucrtbase.dll");
  if (ucrt == NULL) { printf("errno: no ucrtbase.dll on this system: ucrt not tested\n"); return; }
  void* (*u_malloc)(size_t) = (void* (*)(size_t))GetProcAddress(ucrt, "malloc");
  void* (*u_calloc)(size_t, size_t) = (void* (*)(size_t, size_t))GetProcAddress(ucrt, "calloc");
  void* (*u_realloc)(void*, size_t) = (void* (*)(void*, size_t))GetProcAddress(ucrt, "realloc");
  void* (*u_aligned_malloc)(size_t, size_t) = (void* (*)(size_t, size_t))GetProcAddress(ucrt, "_aligned_malloc");
  void (*u_free)(void*) = (void (*)(void*))GetProcAddress(ucrt, "free");
  size_t (*u_msize)(void*) = (size_t (*)(void*))GetProcAddress(ucrt, "_msize");
  int* (*u_errno)(void) = (int* (*)(void))GetProcAddress(ucrt, "_errno");
  CHECK(u_malloc && u_calloc && u_realloc && u_aligned_malloc && u_free && u_msize && u_errno, "ucrtbase.dll exports");
  if (!(u_malloc && u_calloc && u_realloc && u_aligned_malloc && u_free && u_msize && u_errno)) return;
  CHECK(u_errno() != &errno, "ucrt's errno is not msvcrt's");
  void* p = u_malloc(100);
  CHECK(p != NULL && is_ours(p), "ucrtbase.dll's malloc, loaded after the redirect, is mimalloc's");
  *u_errno() = 0; errno = 0;
  CHECK(u_malloc(huge) == NULL && *u_errno() == ENOMEM, "ucrt: malloc of SIZE_MAX/2 sets ucrt's errno to ENOMEM (got %d)", *u_errno());
  *u_errno() = 0;
  CHECK(u_calloc(huge, four) == NULL && *u_errno() == ENOMEM, "ucrt: calloc overflow sets ucrt's errno (got %d)", *u_errno());
  *u_errno() = 0;
  CHECK(u_realloc(p, huge) == NULL && *u_errno() == ENOMEM, "ucrt: a failed realloc sets ucrt's errno (got %d)", *u_errno());
  *u_errno() = 0;
  CHECK(u_aligned_malloc(huge, 64) == NULL && *u_errno() == ENOMEM, "ucrt: _aligned_malloc sets ucrt's errno (got %d)", *u_errno());
  *u_errno() = 0; errno = 0;
  CHECK(u_msize(NULL) == (size_t)-1 && *u_errno() == EINVAL && errno == 0, "ucrt: _msize(NULL) sets ucrt's errno to EINVAL (got %d)", *u_errno());
  u_free(p);   /* (still valid after the failed realloc) */
}

/* mimalloc-override.dll loaded with LoadLibrary and unloaded with FreeLibrary: while it is
   loaded the runtime is redirected; afterwards the runtime's code is as it was */
static void dynamic_checks(void) {
  CHECK(GetModuleHandleA(MI_OVERRIDE_DLL) == NULL, "%s is not loaded yet", MI_OVERRIDE_DLL);
  unsigned char before[16], after[16];
  void* crt_malloc = (void*)GetProcAddress(GetModuleHandleA("msvcrt.dll"), "malloc");
  memcpy(before, crt_malloc, sizeof(before));
  void* early = malloc(1000);                    /* the runtime's */
  HMODULE dll = LoadLibraryA(MI_OVERRIDE_DLL);
  CHECK(dll != NULL, "LoadLibrary(%s)", MI_OVERRIDE_DLL);
  if (dll == NULL) return;
  is_in_heap_fn ours = (is_in_heap_fn)GetProcAddress(dll, "mi_is_in_heap_region");
  is_redirected_fn redirected = (is_redirected_fn)GetProcAddress(dll, "mi_is_redirected");
  CHECK(redirected(), "redirected after LoadLibrary");
  CHECK(memcmp(before, crt_malloc, sizeof(before)) != 0, "msvcrt!malloc is patched");
  void* p = malloc(1000);
  CHECK(p != NULL && ours(p) && !ours(early), "malloc is mimalloc's while the DLL is loaded");
  free(p);
  early = realloc(early, 2000);                  /* moves the runtime's block into mimalloc */
  CHECK(early != NULL && ours(early), "realloc of a runtime block");
  free(early);
  CHECK(FreeLibrary(dll), "FreeLibrary(%s)", MI_OVERRIDE_DLL);
  memcpy(after, crt_malloc, sizeof(after));
  CHECK(memcmp(before, after, sizeof(before)) == 0, "msvcrt!malloc is restored after FreeLibrary");
  p = malloc(1000);
  CHECK(p != NULL && _msize(p) >= 1000, "the runtime's malloc works again");
  free(p);
}

/* 100 threads allocate and exit; their heaps must be released */
#define THREADS 100
#define BATCH 10
static DWORD WINAPI thread_main(LPVOID arg) {
  void* keep = NULL;
  void* blocks[1000];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 1000; i++) blocks[i] = malloc(16 + (size_t)(i % 64) * 16);  /* ~0.5 MiB */
    for (int i = 0; i < 1000; i++) {
      if (i == 7 && round == 0) keep = blocks[i]; else free(blocks[i]);
    }
  }
  ((void**)arg)[0] = keep;   /* freed later by the main thread (a cross-thread free) */
  return 0;
}

static const char* stats_text;
static char stats_buf[16384];
static size_t stats_len;
static void stats_out(const char* msg, void* arg) {
  (void)arg;
  size_t n = strlen(msg);
  if (stats_len + n < sizeof(stats_buf)) { memcpy(stats_buf + stats_len, msg, n); stats_len += n; stats_buf[stats_len] = 0; }
}

/* the `current` column of a row of mi_stats_print_out ("  threads: peak alloc freed current") */
static long stats_current(const char* label) {
  stats_len = 0; stats_buf[0] = 0;
  ((stats_print_out_fn)mi_fn("mi_stats_print_out"))(stats_out, NULL);
  stats_text = stats_buf;
  const char* row = strstr(stats_buf, label);
  if (row == NULL) return -1;
  long peak, alloc, freed, current;
  if (sscanf(row + strlen(label), " %ld %ld %ld %ld", &peak, &alloc, &freed, &current) != 4) return -1;
  return current;
}

static void thread_checks(void) {
  process_info_fn process_info = (process_info_fn)mi_fn("mi_process_info");
  collect_fn collect = (collect_fn)mi_fn("mi_collect");
  void* kept[THREADS][1];
  size_t commit_after_first = 0;
  for (int t = 0; t < THREADS; t += BATCH) {
    HANDLE h[BATCH];
    for (int i = 0; i < BATCH; i++) h[i] = CreateThread(NULL, 0, thread_main, kept[t + i], 0, NULL);
    WaitForMultipleObjects(BATCH, h, TRUE, INFINITE);
    for (int i = 0; i < BATCH; i++) CloseHandle(h[i]);
    if (t == 0) {
      size_t e, u, s, rss, prss, commit, pcommit, faults;
      process_info(&e, &u, &s, &rss, &prss, &commit, &pcommit, &faults);
      commit_after_first = commit;
    }
  }
  for (int t = 0; t < THREADS; t++) {
    CHECK(kept[t][0] != NULL && is_ours(kept[t][0]), "a thread's block is mimalloc's");
    free(kept[t][0]);
  }
  long threads = stats_current("threads:");
  const char* row = strstr(stats_text, "threads:");
  if (row != NULL) printf("stats row: %.*s\n", (int)(strchr(row, '\n') != NULL ? strchr(row, '\n') - row : 60), row);
  CHECK(threads == 0, "after 100 threads exited, %ld threads still hold a heap:\n%s", threads, stats_text);
  collect(true);
  size_t e, u, s, rss, prss, commit, pcommit, faults;
  process_info(&e, &u, &s, &rss, &prss, &commit, &pcommit, &faults);
  /* each thread touched ~0.5 MiB of small blocks; without teardown and reclaim of the
     abandoned segments 100 threads would hold 100 of them */
  CHECK(commit <= commit_after_first + (8u << 20), "committed memory grew from %zu to %zu bytes over 100 threads", commit_after_first, commit);
  printf("threads: committed %zu KiB after the first %d threads, %zu KiB after %d (peak %zu KiB)\n",
         commit_after_first / 1024, BATCH, commit / 1024, THREADS, pcommit / 1024);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "expect-redirect";
#ifdef MI_LINK_OVERRIDE
  printf("linked with mimalloc-override.dll (mimalloc %d)\n", mi_version());
#endif
#ifdef MI_LINK_EARLY
  { size_t n; void* a; printf("linked with early.dll (%p)\n", (void*)early_blocks(&n, &a)); }
#endif
  if (strcmp(mode, "dynamic") == 0) {   /* (the plain program: loads the DLL itself) */
    dynamic_checks();
    printf("test-redirect %s: %s\n", mode, failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
  }
  mi = GetModuleHandleA(MI_OVERRIDE_DLL);
  is_ours = (is_in_heap_fn)mi_fn("mi_is_in_heap_region");
  is_redirected_fn is_redirected = (is_redirected_fn)mi_fn("mi_is_redirected");
  bool expect = strcmp(mode, "expect-crt") != 0;
  if (expect) {
    CHECK(mi != NULL && is_ours != NULL && is_redirected != NULL, "%s is loaded", MI_OVERRIDE_DLL);
    if (failures) return 1;
    CHECK(is_redirected(), "mi_is_redirected()");
  } else if (is_redirected != NULL) {
    CHECK(!is_redirected(), "mi_is_redirected() is false");
  }
  basic_checks(expect);
  cxx_checks(expect, is_ours);
  if (strcmp(mode, "early") == 0) early_checks();
  if (strcmp(mode, "threads") == 0) thread_checks();
  if (strcmp(mode, "late") == 0) late_checks();
  if (strcmp(mode, "late-crt") == 0) late_crt_checks();
  if (strcmp(mode, "errno") == 0) errno_checks();
  printf("test-redirect %s: %s\n", mode, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
