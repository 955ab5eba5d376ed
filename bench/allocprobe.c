/* allocprobe: print the shared object that provides malloc and free in this
 * process, one per line ("malloc <path>", "free <path>"). run.sh and
 * callgrind.sh use it to verify that an LD_PRELOAD really replaced the
 * allocator (ld.so only warns when it cannot preload a library, and a library
 * that does not export malloc is silently ignored), so that no column of the
 * results is glibc under another name. It also does one malloc/free. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void show(const char *name) {
  void *f = dlsym(RTLD_DEFAULT, name);
  Dl_info info;
  if (f && dladdr(f, &info) && info.dli_fname) printf("%s %s\n", name, info.dli_fname);
  else printf("%s ?\n", name);
}

int main(void) {
  void *volatile p = malloc(100);
  if (!p) return 1;
  free(p);
  show("malloc");
  show("free");
  return 0;
}
