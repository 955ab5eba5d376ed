/* A stand-in for bcryptprimitives.dll, which wine 8.0 lacks and Rust's std (1.96)
   imports for ProcessPrng: the test scripts (bin/test-windows.sh, bin/test-minject.sh)
   put it beside Rust programs they run under wine. It draws from RtlGenRandom. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
