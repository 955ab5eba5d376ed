/* ----------------------------------------------------------------------------
testhelper.h -- a small harness for the C/C++ test programs.

A check is a function `bool f(void)`; `run_check(name, f)` clears errno, runs it,
prints `test: <name>... ok.` or a FAILED line, and counts. `check_summary()` prints
the totals (`succeeded: N` / `failed   : N`) and returns the number of failures,
which the test programs return from main (ctest: exit code 0 = pass).
-----------------------------------------------------------------------------*/
#ifndef MI_TESTHELPER_H
#define MI_TESTHELPER_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

typedef bool (check_fun_t)(void);

static int checks_passed = 0;
static int checks_failed = 0;

static void run_check_at(const char* name, check_fun_t* check, const char* file, int line) {
  fprintf(stderr, "test: %s...  ", name);
  errno = 0;
  if (check()) {
    checks_passed++;
    fprintf(stderr, "ok.\n");
  }
  else {
    checks_failed++;
    fprintf(stderr, "\n  FAILED: %s: %s:%d\n", name, file, line);
  }
}

#define run_check(name, check)  run_check_at(name, check, __FILE__, __LINE__)

static int check_summary(void) {
  fprintf(stderr, "\n\n---------------------------------------------\n");
  fprintf(stderr, "succeeded: %i\nfailed   : %i\n\n", checks_passed, checks_failed);
  return checks_failed;
}

/* true if `p` is aligned to `align` (NULL counts as aligned where a check allows it) */
static inline bool is_aligned(const void* p, size_t align) {
  return (align == 0 ? false : ((size_t)p % align) == 0);
}

/* true if all `size` bytes at `p` equal `value` (false for NULL) */
static inline bool all_bytes(const void* p, int value, size_t size) {
  if (p == NULL) return false;
  const unsigned char* q = (const unsigned char*)p;
  for (size_t i = 0; i < size; i++) {
    if (q[i] != (unsigned char)value) return false;
  }
  return true;
}

#endif /* MI_TESTHELPER_H */
