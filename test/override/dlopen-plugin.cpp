// ----------------------------------------------------------------------------
// dlopen-plugin.cpp -- a shared library that dlopen-test loads and unloads again and
// again. It allocates while it is being loaded (an ELF constructor and a C++ static
// object), hands blocks to the program, frees the program's blocks, runs threads
// (with C++ thread_local objects and pthread keys whose destructors free), and frees
// what it still holds when it is unloaded.
// ----------------------------------------------------------------------------
#include <pthread.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>


namespace {

// allocated by the ELF constructor, freed by the ELF destructor
const int kCtorBlocks = 100;
void* ctor_blocks[kCtorBlocks];
bool  ctor_ran = false;

__attribute__((constructor)) void plugin_ctor() {
  for (int i = 0; i < kCtorBlocks; i++) {
    ctor_blocks[i] = std::malloc(16 + (std::size_t)i * 97);
    std::memset(ctor_blocks[i], i, 16);
  }
  ctor_ran = true;
}

__attribute__((destructor)) void plugin_dtor() {
  for (int i = 0; i < kCtorBlocks; i++) {
    unsigned char* p = (unsigned char*)ctor_blocks[i];
    if (p[0] != (unsigned char)i || p[15] != (unsigned char)i) std::abort();
    std::free(p);
  }
}

// a C++ static object: constructed at load, destroyed at unload
struct Registry {
  std::map<std::string, std::vector<std::string>> entries;
  Registry() {
    for (int i = 0; i < 200; i++) {
      entries["key" + std::to_string(i)] = std::vector<std::string>(10, std::string(40 + i, 'r'));
    }
  }
} registry;

// thread-exit destructors inside the plugin
struct TlsObject {
  std::vector<char*> strings;
  ~TlsObject() {
    for (char* s : strings) std::free(s);
    void* late = std::malloc(1000);   // allocate during thread teardown too
    std::free(late);
  }
};
thread_local TlsObject tls_object;

pthread_key_t key;
bool key_created = false;
void key_destructor(void* value) {
  std::free(value);
  std::free(std::malloc(77));
}

struct ThreadArg {
  int id;
  std::vector<void*>* give;   // blocks this thread leaves for the program
};

void* plugin_thread(void* p) {
  ThreadArg* arg = (ThreadArg*)p;
  for (int i = 0; i < 50; i++) tls_object.strings.push_back(strdup("thread-local string"));
  pthread_setspecific(key, std::malloc(128));
  std::vector<std::string> work;
  for (int i = 0; i < 2000; i++) work.push_back(std::string(arg->id + i % 300, 'w'));
  for (int i = 0; i < 20; i++) {
    void* b = std::malloc(64 + (std::size_t)i * 1000);
    std::memset(b, 0xab, 64);
    arg->give->push_back(b);   // these live on after the thread has exited
  }
  return nullptr;
}

}  // namespace

extern "C" {

// 1 if the constructors ran and the blocks they allocated are mimalloc blocks
// (`ours` is mi_is_in_heap_region, passed in: a statically linked program does not
// export it)
__attribute__((visibility("default"))) int plugin_check(bool (*ours)(const void*)) {
  if (!ctor_ran) return 0;
  for (int i = 0; i < kCtorBlocks; i++) {
    if (!ours(ctor_blocks[i])) return 0;
  }
  if (!ours(registry.entries["key7"][3].data())) return 0;
  return 1;
}

// allocate `count` blocks of `size` bytes filled with `fill` for the program
__attribute__((visibility("default"))) void plugin_alloc(void** out, int count, std::size_t size, int fill) {
  for (int i = 0; i < count; i++) {
    out[i] = (i % 3 == 0 ? ::operator new(size) : std::malloc(size));   // operator new ends in malloc's heap too
    std::memset(out[i], fill, size);
  }
}

// free blocks the program allocated (after checking their contents)
__attribute__((visibility("default"))) int plugin_free(void** blocks, int count, std::size_t size, int fill) {
  int bad = 0;
  for (int i = 0; i < count; i++) {
    unsigned char* b = (unsigned char*)blocks[i];
    if (b[0] != (unsigned char)fill || b[size - 1] != (unsigned char)fill) bad++;
    std::free(b);
    blocks[i] = nullptr;
  }
  return bad;
}

// run `n` threads; returns (in out/count) the blocks they left behind
__attribute__((visibility("default"))) int plugin_threads(int n, void** out, int max_out) {
  if (!key_created) {
    if (pthread_key_create(&key, key_destructor) != 0) return -1;
    key_created = true;
  }
  std::vector<void*> give[16];
  ThreadArg args[16];
  pthread_t t[16];
  if (n > 16) n = 16;
  for (int i = 0; i < n; i++) {
    args[i].id = i;
    args[i].give = &give[i];
    if (pthread_create(&t[i], nullptr, plugin_thread, &args[i]) != 0) return -1;
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], nullptr);
  int count = 0;
  for (int i = 0; i < n; i++) {
    for (void* b : give[i]) {
      if (count < max_out) out[count++] = b;
      else std::free(b);
    }
  }
  return count;
}

__attribute__((visibility("default"))) void plugin_fini(void) {
  if (key_created) {
    pthread_key_delete(key);
    key_created = false;
  }
}

}  // extern "C"
