/* early.dll: a DLL that allocates with the C runtime in its DllMain. Linked into an
   executable before mimalloc-override.dll, it is initialised first, so its blocks come
   from the runtime's own heap; the test then frees them after the redirect is in place
   (they must go back to the runtime, not to mimalloc). */
#include <windows.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_COUNT 100
static void* blocks[EARLY_COUNT];
static void* aligned_block;

__declspec(dllexport) void** early_blocks(size_t* count, void** aligned) {
  *count = EARLY_COUNT;
  *aligned = aligned_block;
  return blocks;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved) {
  (void)inst; (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) {
    for (int i = 0; i < EARLY_COUNT; i++) {
      size_t size = 16 + (size_t)i * 40;
      blocks[i] = malloc(size);
      if (blocks[i] != NULL) memset(blocks[i], (unsigned char)i, size);
    }
    aligned_block = _aligned_malloc(1000, 64);
    if (aligned_block != NULL) memset(aligned_block, 0x5a, 1000);
  }
  return TRUE;
}
