// ----------------------------------------------------------------------------
// threads-test.cpp -- thread life cycles and process exit with mimalloc as malloc.
//
//   threads-test                    the driver: runs the two modes below as child
//                                   processes and checks their exit status and output
//   threads-test work               the thread life cycle (see below)
//   threads-test exit-from-thread   a thread calls exit() while others allocate
//
// "work":
//   0. blocks allocated before mimalloc's initialisation (the executable's
//      .preinit_array, exit-helper's constructor) are mimalloc's and intact; a thread
//      started before it allocates after it;
//   1. threads created before the heavy allocation wait, the main thread allocates
//      150k blocks, then those threads allocate and exit leaving their blocks alive;
//   2. threads created after the heavy allocation free the orphaned blocks (whose
//      owner threads are gone), allocate and exit, leaving blocks too;
//   3. 400 short-lived threads in batches, 8 threads with the smallest stack allowed
//      (PTHREAD_STACK_MIN: the allocator's slow paths must fit), and 32 detached
//      threads, each leaving blocks for the main thread to free;
//   4. at thread exit: C++ thread_local objects and pthread key destructors (one
//      re-arms its key, so it runs several times) free, malloc and new, and leave
//      blocks for the main thread;
//   5. at process exit: the main thread's thread_local object, atexit handlers,
//      static C++ objects, ELF destructors (which, with mimalloc.o, run after
//      mimalloc's own teardown) and the exit handler of exit-helper.c (which runs
//      last of all, with LD_PRELOAD too) free blocks that are still alive and
//      allocate again.
// Every block is filled with a pattern and checked when it is freed.
// ----------------------------------------------------------------------------
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "ov-common.h"

extern "C" int exit_helper_keep(void* p, std::size_t size);
extern "C" int exit_helper_early(void*** blocks, int* count);
extern "C" int exit_helper_wake(void);
extern "C" char** environ;

namespace {

// ---------------------------------------------------------------------------
// blocks with a header: size and seed, checked on free
// ---------------------------------------------------------------------------

struct Header {
  std::size_t size;
  std::uintptr_t seed;
};

void* make_block(std::size_t size, std::uintptr_t seed) {
  if (size < sizeof(Header)) size = sizeof(Header);
  Header* h = (Header*)std::malloc(size);
  if (h == nullptr) OV_FATAL("out of memory (%zu bytes)", size);
  ov_fill(h + 1, size - sizeof(Header), seed);
  h->size = size;
  h->seed = seed;
  return h;
}

void free_block(void* p) {
  if (p == nullptr) return;
  Header* h = (Header*)p;
  if (!ov_ours(h)) OV_FAIL("block %p is not a mimalloc block", p);
  else if (!ov_check_fill(h + 1, h->size - sizeof(Header), h->seed)) OV_FAIL("block %p (%zu bytes) is corrupted", p, h->size);
  std::free(h);
}

// blocks whose allocating thread has gone (or is going), freed by others
std::mutex orphans_mutex;
std::vector<void*> orphans;

void orphan(void* p) {
  std::lock_guard<std::mutex> lock(orphans_mutex);
  orphans.push_back(p);
}

std::vector<void*> take_orphans(std::size_t max) {
  std::lock_guard<std::mutex> lock(orphans_mutex);
  std::vector<void*> out;
  while (!orphans.empty() && out.size() < max) {
    out.push_back(orphans.back());
    orphans.pop_back();
  }
  return out;
}

// ---------------------------------------------------------------------------
// thread-exit destructors
// ---------------------------------------------------------------------------

std::atomic<int> tls_dtor_runs{0};
std::atomic<int> key_dtor_runs{0};

struct TlsObject {
  std::vector<void*> blocks;
  std::string name;
  TlsObject() : name(std::string(100, 't')) {}
  ~TlsObject() {
    for (void* b : blocks) free_block(b);
    blocks.clear();
    int* late = new int[1000];     // new/delete during thread teardown
    late[999] = 1;
    delete[] late;
    orphan(make_block(3000, 0x77));   // and a block that outlives the thread
    tls_dtor_runs++;
  }
};
thread_local TlsObject tls_object;

struct KeyValue {
  int iteration;
  void* block;
};
pthread_key_t key_rearm;     // its destructor sets the key again (up to 3 times)
pthread_key_t key_simple;

void key_rearm_dtor(void* value) {
  KeyValue* kv = (KeyValue*)value;
  key_dtor_runs++;
  free_block(kv->block);
  int next = kv->iteration + 1;
  std::free(kv);
  orphan(make_block(500 + (std::size_t)next * 1000, (std::uintptr_t)next));
  if (next < 3) {   // glibc calls the destructors PTHREAD_DESTRUCTOR_ITERATIONS (4) times
    KeyValue* again = (KeyValue*)std::malloc(sizeof(KeyValue));
    again->iteration = next;
    again->block = make_block(20000, 0x55);
    pthread_setspecific(key_rearm, again);
  }
}

void key_simple_dtor(void* value) {
  std::free(value);
  void* p = std::malloc(64 << 10);
  std::memset(p, 1, 64 << 10);
  std::free(p);
}

void arm_thread_exit(std::uintptr_t seed) {
  tls_object.blocks.push_back(make_block(100 + seed % 1000, seed));
  tls_object.blocks.push_back(make_block(70000, seed + 1));
  KeyValue* kv = (KeyValue*)std::malloc(sizeof(KeyValue));
  kv->iteration = 0;
  kv->block = make_block(1000, 0x55);
  pthread_setspecific(key_rearm, kv);
  pthread_setspecific(key_simple, std::malloc(48));
}

// ---------------------------------------------------------------------------
// "work"
// ---------------------------------------------------------------------------

pthread_barrier_t early_barrier;
const int kEarly = 4;
const int kLate = 8;
const int kSmallStack = 8;

void* early_thread(void* arg) {
  std::uintptr_t id = (std::uintptr_t)arg;
  pthread_barrier_wait(&early_barrier);   // wait for the main thread's heavy allocation
  ov_rng_t r = { id * 1000003 };
  for (int i = 0; i < 5000; i++) {
    void* b = make_block(i == 100 ? (std::size_t)(5 << 20) : ov_rand_small(&r), ov_rand(&r));
    if (i % 2 == 0) orphan(b); else free_block(b);
  }
  arm_thread_exit(id);
  return nullptr;   // exits with 2500 blocks alive
}

void* late_thread(void* arg) {
  std::uintptr_t id = (std::uintptr_t)arg;
  ov_rng_t r = { id * 7 + 3 };
  // free blocks of threads that have exited
  for (void* b : take_orphans(kEarly * 2500 / kLate)) free_block(b);
  std::vector<void*> mine;
  for (int i = 0; i < 3000; i++) mine.push_back(make_block(ov_rand_small(&r), ov_rand(&r)));
  for (std::size_t i = 0; i < mine.size(); i++) {
    if (i % 3 == 0) orphan(mine[i]); else free_block(mine[i]);
  }
  arm_thread_exit(id + 100);
  return nullptr;
}

void* short_thread(void* arg) {
  std::uintptr_t id = (std::uintptr_t)arg;
  ov_rng_t r = { id };
  void* blocks[20];
  for (int i = 0; i < 20; i++) blocks[i] = make_block(ov_rand_small(&r), ov_rand(&r));
  for (int i = 0; i < 20; i++) {
    if (i % 2 == 0) free_block(blocks[i]); else orphan(blocks[i]);
  }
  if (id % 4 == 0) arm_thread_exit(id);
  return nullptr;
}

// threads with the smallest stack the C library allows: the allocator's slow paths
// (thread and heap set-up, fresh segments, huge blocks, thread teardown) must fit
void* small_stack_thread(void* arg) {
  std::uintptr_t id = (std::uintptr_t)arg;
  ov_rng_t r = { id };
  for (int i = 0; i < 200; i++) free_block(make_block(ov_rand_small(&r), ov_rand(&r)));
  free_block(make_block((std::size_t)40 << 20, id));
  void* aligned = nullptr;
  if (posix_memalign(&aligned, (std::size_t)1 << 20, 100000) != 0 || !ov_ours(aligned)) OV_FAIL("posix_memalign on a small stack");
  std::free(aligned);
  orphan(make_block(5000, id));
  arm_thread_exit(id);
  return nullptr;
}

std::atomic<int> detached_done{0};
void* detached_thread(void* arg) {
  std::uintptr_t id = (std::uintptr_t)arg;
  for (int i = 0; i < 50; i++) orphan(make_block(100 + (std::size_t)i * 37, id * 100 + (std::uintptr_t)i));
  arm_thread_exit(id);
  detached_done++;
  return nullptr;
}

// ---------------------------------------------------------------------------
// process exit
// ---------------------------------------------------------------------------

void* atexit_blocks[100];
void* static_dtor_block;
void* elf_dtor_blocks[50];

void atexit_handler() {
  for (void*& b : atexit_blocks) { free_block(b); b = nullptr; }
  for (int i = 0; i < 100; i++) free_block(make_block((std::size_t)i * 300 + 1, (std::uintptr_t)i));
}

struct StaticObject {
  std::vector<std::string> strings;
  StaticObject() {
    for (int i = 0; i < 100; i++) strings.push_back(std::string(30 + i, 's'));
  }
  ~StaticObject() {
    free_block(static_dtor_block);
    static_dtor_block = nullptr;
    strings.clear();
    strings.shrink_to_fit();
    std::string late(5000, 'l');
    if (late.size() != 5000) OV_FAIL("static destructor");
  }
} static_object;

std::atomic<bool> work_mode{false};

// the executable's .preinit_array runs before its constructors (with mimalloc.o:
// before mimalloc's)
void* preinit_block;
void preinit() {
  preinit_block = std::malloc(1234);
  if (preinit_block != nullptr) std::memset(preinit_block, 0x21, 1234);
}
__attribute__((section(".preinit_array"), used)) void (*preinit_entry)() = preinit;

__attribute__((destructor)) void elf_destructor() {
  if (!work_mode) return;
  for (void*& b : elf_dtor_blocks) { free_block(b); b = nullptr; }
  void* blocks[100];
  for (int i = 0; i < 100; i++) blocks[i] = make_block((std::size_t)i * 500 + 1, (std::uintptr_t)i);
  for (int i = 0; i < 100; i++) free_block(blocks[i]);
  std::string s(10000, 'd');
  char buf[96];
  int n = std::snprintf(buf, sizeof(buf), "elf destructor: %s\n", ov_failed() ? "FAILED" : "ok");
  if (write(1, buf, (std::size_t)n) != n) std::abort();
  if (ov_failed()) _exit(3);   // the exit status reports failures found during exit
}

void say(const char* what) {
  std::printf("%s\n", what);
  std::fflush(stdout);
}

int work() {
  work_mode = true;
  if (pthread_key_create(&key_rearm, key_rearm_dtor) != 0) OV_FATAL("pthread_key_create");
  if (pthread_key_create(&key_simple, key_simple_dtor) != 0) OV_FATAL("pthread_key_create");
  if (pthread_barrier_init(&early_barrier, nullptr, kEarly + 1) != 0) OV_FATAL("pthread_barrier_init");

  // 0. what was allocated before mimalloc's initialisation, and a thread started then
  unsigned char* pre = (unsigned char*)preinit_block;
  if (!ov_ours(pre) || pre[0] != 0x21 || pre[1233] != 0x21) OV_FAIL("the .preinit_array block is bad");
  std::free(pre);
  void** early_blocks = nullptr;
  int early_count = 0;
  int early_bad = exit_helper_early(&early_blocks, &early_count);
  if (early_bad != 0) OV_FAIL("exit-helper's constructor had %d problems", early_bad);
  for (int i = 0; i < early_count; i++) {
    if (!ov_ours(early_blocks[i])) OV_FAIL("exit-helper's early block %d (%p) is not a mimalloc block", i, early_blocks[i]);
  }
  int woken = exit_helper_wake();
  if (woken != 0) OV_FAIL("the thread started by exit-helper's constructor: %d", woken);
  say("stage 0 ok: blocks and threads from before mimalloc's initialisation");

  // 1. threads created before the heavy allocation
  pthread_t early[kEarly];
  for (int i = 0; i < kEarly; i++) {
    if (pthread_create(&early[i], nullptr, early_thread, (void*)(std::uintptr_t)(i + 1)) != 0) OV_FATAL("pthread_create");
  }
  ov_rng_t r = { 12345 };
  std::vector<void*> heavy;
  heavy.reserve(150000);
  for (int i = 0; i < 150000; i++) {
    heavy.push_back(make_block(i % 50000 == 0 ? (std::size_t)(40 << 20) : ov_rand_small(&r), ov_rand(&r)));
  }
  for (std::size_t i = 0; i < heavy.size(); i += 2) { free_block(heavy[i]); heavy[i] = nullptr; }
  pthread_barrier_wait(&early_barrier);
  for (int i = 0; i < kEarly; i++) pthread_join(early[i], nullptr);
  say("stage 1 ok: early threads exited with blocks alive");

  // 2. threads created after the heavy allocation free the orphans
  pthread_t late[kLate];
  for (int i = 0; i < kLate; i++) {
    if (pthread_create(&late[i], nullptr, late_thread, (void*)(std::uintptr_t)(i + 1)) != 0) OV_FATAL("pthread_create");
  }
  for (int i = 0; i < kLate; i++) pthread_join(late[i], nullptr);
  for (std::size_t i = 1; i < heavy.size(); i += 2) free_block(heavy[i]);
  heavy.clear();
  heavy.shrink_to_fit();
  say("stage 2 ok: late threads freed blocks of exited threads");

  // 3. many short-lived threads, and detached ones
  for (int batch = 0; batch < 50; batch++) {
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
      if (pthread_create(&t[i], nullptr, short_thread, (void*)(std::uintptr_t)(batch * 8 + i + 1000)) != 0) OV_FATAL("pthread_create");
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], nullptr);
    if (batch % 10 == 0) for (void* b : take_orphans(1000)) free_block(b);
  }
  long stack_min = sysconf(_SC_THREAD_STACK_MIN);
  if (stack_min < 16384) stack_min = 16384;
  for (int i = 0; i < kSmallStack; i++) {
    pthread_attr_t small;
    pthread_attr_init(&small);
    if (pthread_attr_setstacksize(&small, (std::size_t)stack_min) != 0) OV_FATAL("pthread_attr_setstacksize(%ld)", stack_min);
    pthread_t t;
    if (pthread_create(&t, &small, small_stack_thread, (void*)(std::uintptr_t)(i + 3000)) != 0) OV_FATAL("pthread_create");
    pthread_join(t, nullptr);
    pthread_attr_destroy(&small);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < 32; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, detached_thread, (void*)(std::uintptr_t)(i + 5000)) != 0) OV_FATAL("pthread_create");
  }
  pthread_attr_destroy(&attr);
  while (detached_done.load() < 32) usleep(1000);
  usleep(20000);   // let them finish exiting (their destructors leave blocks too)
  say("stage 3 ok: short-lived, small-stack and detached threads");

  // 4. what the thread-exit destructors left behind
  int threads_with_dtors = kEarly + kLate + 50 * 8 / 4 + kSmallStack + 32;
  for (int wait = 0; wait < 30000 && key_dtor_runs.load() < 3 * threads_with_dtors; wait++) usleep(1000);
  if (tls_dtor_runs.load() != threads_with_dtors) OV_FAIL("thread_local destructors ran %d times, expected %d", tls_dtor_runs.load(), threads_with_dtors);
  if (key_dtor_runs.load() != 3 * threads_with_dtors) OV_FAIL("re-arming key destructor ran %d times, expected %d", key_dtor_runs.load(), 3 * threads_with_dtors);
  for (void* b : take_orphans(SIZE_MAX)) free_block(b);
  say("stage 4 ok: thread-exit destructors");

  // 5. blocks for the exit path
  arm_thread_exit(1);   // the main thread's thread_local object (destroyed in exit())
  for (void*& b : atexit_blocks) b = make_block(200, 0x33);
  if (std::atexit(atexit_handler) != 0) OV_FATAL("atexit");
  static_dtor_block = make_block(100000, 0x44);
  for (void*& b : elf_dtor_blocks) b = make_block(1000, 0x66);
  for (int i = 0; i < 200; i++) {
    std::size_t n = 10 + (std::size_t)i * 100;
    if (!exit_helper_keep(std::malloc(n), n)) OV_FAIL("exit_helper_keep");
  }
  if (ov_failed()) {
    std::fprintf(stderr, "threads-test work: %d checks FAILED\n", ov_failed());
    return 1;
  }
  say("threads-test: work done");
  return 0;
}

// ---------------------------------------------------------------------------
// "exit-from-thread"
// ---------------------------------------------------------------------------

std::atomic<bool> running{true};
void* busy_thread(void* arg) {
  ov_rng_t r = { (std::uintptr_t)arg };
  void* keep[64] = {};
  while (running.load(std::memory_order_relaxed)) {
    std::size_t i = ov_rand(&r) % 64;
    std::free(keep[i]);
    keep[i] = std::malloc(ov_rand_small(&r));
  }
  return nullptr;
}
void* exiting_thread(void*) {
  usleep(50000);
  std::vector<std::string> v(1000, std::string(100, 'x'));
  say("exit-from-thread: calling exit");
  std::exit(0);   // the other threads keep allocating during exit
}

int exit_from_thread() {
  pthread_t t[5];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], nullptr, busy_thread, (void*)(std::uintptr_t)(i + 1));
  pthread_create(&t[4], nullptr, exiting_thread, nullptr);
  for (int i = 0; i < 5; i++) pthread_join(t[i], nullptr);   // never returns: exit() ends the process
  return 1;
}

// ---------------------------------------------------------------------------
// the driver
// ---------------------------------------------------------------------------

bool run_child(const char* self, const char* mode, const std::vector<std::string>& expect) {
  int fds[2];
  if (pipe(fds) != 0) OV_FATAL("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  char* argv[] = { (char*)self, (char*)mode, nullptr };
  pid_t pid;
  int err = posix_spawn(&pid, self, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err != 0) OV_FATAL("posix_spawn: %s", std::strerror(err));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
    if (n < 0) { if (errno == EINTR) continue; break; }
    out.append(buf, (std::size_t)n);
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  std::fprintf(stderr, "---- threads-test %s: output ----\n%s---- end ----\n", mode, out.c_str());
  bool good = true;
  if (WIFSIGNALED(status)) {
    OV_FAIL("threads-test %s was killed by signal %d", mode, WTERMSIG(status));
    good = false;
  }
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    OV_FAIL("threads-test %s exited with status %d", mode, WEXITSTATUS(status));
    good = false;
  }
  for (const std::string& e : expect) {
    if (out.find(e) == std::string::npos) {
      OV_FAIL("threads-test %s: the output lacks \"%s\"", mode, e.c_str());
      good = false;
    }
  }
  return good;
}

}  // namespace

int main(int argc, char** argv) {
  ov_init();
  if (argc > 1 && std::strcmp(argv[1], "work") == 0) return work();
  if (argc > 1 && std::strcmp(argv[1], "exit-from-thread") == 0) return exit_from_thread();

  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) OV_FATAL("readlink /proc/self/exe");
  self[n] = 0;
  run_child(self, "work", { "stage 0 ok", "stage 1 ok", "stage 2 ok", "stage 3 ok", "stage 4 ok", "threads-test: work done",
                            "elf destructor: ok", "exit-helper: last exit handler ok" });
  run_child(self, "exit-from-thread", { "exit-from-thread: calling exit", "exit-helper: last exit handler ok" });
  if (ov_failed()) {
    std::fprintf(stderr, "threads-test: %d checks FAILED\n", ov_failed());
    return 1;
  }
  std::fprintf(stderr, "threads-test: all ok\n");
  return 0;
}
