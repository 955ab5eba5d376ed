/* ----------------------------------------------------------------------------
test-header.c -- compile-time check that mimalloc.h is the interface of
mimalloc 2.1.7: a program written against 2.1.7's header compiles unchanged.

Every function is declared again below with its exact 2.1.7 prototype (C: a
conflicting type is an error; C++: so is a different exception specification);
the enum values, constants, struct layout, callback types, typed-allocation
macros and (in C++) the STL allocators are checked as well. Built as C11 and as
C++17 (test-header-cxx.cpp); running it only prints "header ok".
-----------------------------------------------------------------------------*/
#include <stddef.h>
#include <stdio.h>
#include <mimalloc.h>
#include <mimalloc-override.h>

#ifdef __cplusplus
#include <type_traits>
#include <vector>
#define MI_STATIC_ASSERT(cond)  static_assert(cond, #cond)
extern "C" {
#else
#define MI_STATIC_ASSERT(cond)  _Static_assert(cond, #cond)
#endif

/* the 133 functions of mimalloc 2.1.7's mimalloc.h, in its order */
void* mi_malloc(size_t size) mi_attr_noexcept;
void* mi_calloc(size_t count, size_t size) mi_attr_noexcept;
void* mi_realloc(void* p, size_t newsize) mi_attr_noexcept;
void* mi_expand(void* p, size_t newsize) mi_attr_noexcept;
void mi_free(void* p) mi_attr_noexcept;
char* mi_strdup(const char* s) mi_attr_noexcept;
char* mi_strndup(const char* s, size_t n) mi_attr_noexcept;
char* mi_realpath(const char* fname, char* resolved_name) mi_attr_noexcept;
void* mi_malloc_small(size_t size) mi_attr_noexcept;
void* mi_zalloc_small(size_t size) mi_attr_noexcept;
void* mi_zalloc(size_t size) mi_attr_noexcept;
void* mi_mallocn(size_t count, size_t size) mi_attr_noexcept;
void* mi_reallocn(void* p, size_t count, size_t size) mi_attr_noexcept;
void* mi_reallocf(void* p, size_t newsize) mi_attr_noexcept;
size_t mi_usable_size(const void* p) mi_attr_noexcept;
size_t mi_good_size(size_t size) mi_attr_noexcept;
void mi_register_deferred_free(mi_deferred_free_fun* deferred_free, void* arg) mi_attr_noexcept;
void mi_register_output(mi_output_fun* out, void* arg) mi_attr_noexcept;
void mi_register_error(mi_error_fun* fun, void* arg);
void mi_collect(bool force) mi_attr_noexcept;
int mi_version(void) mi_attr_noexcept;
void mi_stats_reset(void) mi_attr_noexcept;
void mi_stats_merge(void) mi_attr_noexcept;
void mi_stats_print(void* out) mi_attr_noexcept;
void mi_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;
void mi_process_init(void) mi_attr_noexcept;
void mi_thread_init(void) mi_attr_noexcept;
void mi_thread_done(void) mi_attr_noexcept;
void mi_thread_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;
void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs, size_t* current_rss, size_t* peak_rss, size_t* current_commit, size_t* peak_commit, size_t* page_faults) mi_attr_noexcept;
void* mi_malloc_aligned(size_t size, size_t alignment) mi_attr_noexcept;
void* mi_malloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_zalloc_aligned(size_t size, size_t alignment) mi_attr_noexcept;
void* mi_zalloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_calloc_aligned(size_t count, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_calloc_aligned_at(size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_realloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept;
void* mi_realloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept;
mi_heap_t* mi_heap_new(void);
void mi_heap_delete(mi_heap_t* heap);
void mi_heap_destroy(mi_heap_t* heap);
mi_heap_t* mi_heap_set_default(mi_heap_t* heap);
mi_heap_t* mi_heap_get_default(void);
mi_heap_t* mi_heap_get_backing(void);
void mi_heap_collect(mi_heap_t* heap, bool force) mi_attr_noexcept;
void* mi_heap_malloc(mi_heap_t* heap, size_t size) mi_attr_noexcept;
void* mi_heap_zalloc(mi_heap_t* heap, size_t size) mi_attr_noexcept;
void* mi_heap_calloc(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept;
void* mi_heap_mallocn(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept;
void* mi_heap_malloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept;
void* mi_heap_realloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept;
void* mi_heap_reallocn(mi_heap_t* heap, void* p, size_t count, size_t size) mi_attr_noexcept;
void* mi_heap_reallocf(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept;
char* mi_heap_strdup(mi_heap_t* heap, const char* s) mi_attr_noexcept;
char* mi_heap_strndup(mi_heap_t* heap, const char* s, size_t n) mi_attr_noexcept;
char* mi_heap_realpath(mi_heap_t* heap, const char* fname, char* resolved_name) mi_attr_noexcept;
void* mi_heap_malloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_heap_malloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_heap_zalloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_heap_zalloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_heap_calloc_aligned(mi_heap_t* heap, size_t count, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_heap_calloc_aligned_at(mi_heap_t* heap, size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_heap_realloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept;
void* mi_heap_realloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_rezalloc(void* p, size_t newsize) mi_attr_noexcept;
void* mi_recalloc(void* p, size_t newcount, size_t size) mi_attr_noexcept;
void* mi_rezalloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept;
void* mi_rezalloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_recalloc_aligned(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_recalloc_aligned_at(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_heap_rezalloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept;
void* mi_heap_recalloc(mi_heap_t* heap, void* p, size_t newcount, size_t size) mi_attr_noexcept;
void* mi_heap_rezalloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept;
void* mi_heap_rezalloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept;
void* mi_heap_recalloc_aligned(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_heap_recalloc_aligned_at(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
bool mi_heap_contains_block(mi_heap_t* heap, const void* p);
bool mi_heap_check_owned(mi_heap_t* heap, const void* p);
bool mi_check_owned(const void* p);
bool mi_heap_visit_blocks(const mi_heap_t* heap, bool visit_all_blocks, mi_block_visit_fun* visitor, void* arg);
bool mi_is_in_heap_region(const void* p) mi_attr_noexcept;
bool mi_is_redirected(void) mi_attr_noexcept;
int mi_reserve_huge_os_pages_interleave(size_t pages, size_t numa_nodes, size_t timeout_msecs) mi_attr_noexcept;
int mi_reserve_huge_os_pages_at(size_t pages, int numa_node, size_t timeout_msecs) mi_attr_noexcept;
int mi_reserve_os_memory(size_t size, bool commit, bool allow_large) mi_attr_noexcept;
bool mi_manage_os_memory(void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node) mi_attr_noexcept;
void mi_debug_show_arenas(bool show_inuse, bool show_abandoned, bool show_purge) mi_attr_noexcept;
void* mi_arena_area(mi_arena_id_t arena_id, size_t* size);
int mi_reserve_huge_os_pages_at_ex(size_t pages, int numa_node, size_t timeout_msecs, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
int mi_reserve_os_memory_ex(size_t size, bool commit, bool allow_large, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
bool mi_manage_os_memory_ex(void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
mi_heap_t* mi_heap_new_in_arena(mi_arena_id_t arena_id);
int mi_reserve_huge_os_pages(size_t pages, double max_secs, size_t* pages_reserved) mi_attr_noexcept;
bool mi_option_is_enabled(mi_option_t option);
void mi_option_enable(mi_option_t option);
void mi_option_disable(mi_option_t option);
void mi_option_set_enabled(mi_option_t option, bool enable);
void mi_option_set_enabled_default(mi_option_t option, bool enable);
long mi_option_get(mi_option_t option);
long mi_option_get_clamp(mi_option_t option, long min, long max);
size_t mi_option_get_size(mi_option_t option);
void mi_option_set(mi_option_t option, long value);
void mi_option_set_default(mi_option_t option, long value);
void mi_cfree(void* p) mi_attr_noexcept;
void* mi__expand(void* p, size_t newsize) mi_attr_noexcept;
size_t mi_malloc_size(const void* p) mi_attr_noexcept;
size_t mi_malloc_good_size(size_t size) mi_attr_noexcept;
size_t mi_malloc_usable_size(const void *p) mi_attr_noexcept;
int mi_posix_memalign(void** p, size_t alignment, size_t size) mi_attr_noexcept;
void* mi_memalign(size_t alignment, size_t size) mi_attr_noexcept;
void* mi_valloc(size_t size) mi_attr_noexcept;
void* mi_pvalloc(size_t size) mi_attr_noexcept;
void* mi_aligned_alloc(size_t alignment, size_t size) mi_attr_noexcept;
void* mi_reallocarray(void* p, size_t count, size_t size) mi_attr_noexcept;
int mi_reallocarr(void* p, size_t count, size_t size) mi_attr_noexcept;
void* mi_aligned_recalloc(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept;
void* mi_aligned_offset_recalloc(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
unsigned short* mi_wcsdup(const unsigned short* s) mi_attr_noexcept;
unsigned char* mi_mbsdup(const unsigned char* s) mi_attr_noexcept;
int mi_dupenv_s(char** buf, size_t* size, const char* name) mi_attr_noexcept;
int mi_wdupenv_s(unsigned short** buf, size_t* size, const unsigned short* name) mi_attr_noexcept;
void mi_free_size(void* p, size_t size) mi_attr_noexcept;
void mi_free_size_aligned(void* p, size_t size, size_t alignment) mi_attr_noexcept;
void mi_free_aligned(void* p, size_t alignment) mi_attr_noexcept;
void* mi_new(size_t size);
void* mi_new_aligned(size_t size, size_t alignment);
void* mi_new_nothrow(size_t size) mi_attr_noexcept;
void* mi_new_aligned_nothrow(size_t size, size_t alignment) mi_attr_noexcept;
void* mi_new_n(size_t count, size_t size);
void* mi_new_realloc(void* p, size_t newsize);
void* mi_new_reallocn(void* p, size_t newcount, size_t size);
void* mi_heap_alloc_new(mi_heap_t* heap, size_t size);
void* mi_heap_alloc_new_n(mi_heap_t* heap, size_t count, size_t size);

#ifdef __cplusplus
}
#endif

/* version and constants */
MI_STATIC_ASSERT(MI_MALLOC_VERSION == 217);
MI_STATIC_ASSERT(MI_SMALL_WSIZE_MAX == 128);
MI_STATIC_ASSERT(MI_SMALL_SIZE_MAX == 128*sizeof(void*));

/* option values */
MI_STATIC_ASSERT(mi_option_show_errors == 0);
MI_STATIC_ASSERT(mi_option_show_stats == 1);
MI_STATIC_ASSERT(mi_option_verbose == 2);
MI_STATIC_ASSERT(mi_option_eager_commit == 3);
MI_STATIC_ASSERT(mi_option_arena_eager_commit == 4);
MI_STATIC_ASSERT(mi_option_purge_decommits == 5);
MI_STATIC_ASSERT(mi_option_allow_large_os_pages == 6);
MI_STATIC_ASSERT(mi_option_reserve_huge_os_pages == 7);
MI_STATIC_ASSERT(mi_option_reserve_huge_os_pages_at == 8);
MI_STATIC_ASSERT(mi_option_reserve_os_memory == 9);
MI_STATIC_ASSERT(mi_option_deprecated_segment_cache == 10);
MI_STATIC_ASSERT(mi_option_deprecated_page_reset == 11);
MI_STATIC_ASSERT(mi_option_abandoned_page_purge == 12);
MI_STATIC_ASSERT(mi_option_deprecated_segment_reset == 13);
MI_STATIC_ASSERT(mi_option_eager_commit_delay == 14);
MI_STATIC_ASSERT(mi_option_purge_delay == 15);
MI_STATIC_ASSERT(mi_option_use_numa_nodes == 16);
MI_STATIC_ASSERT(mi_option_disallow_os_alloc == 17);
MI_STATIC_ASSERT(mi_option_os_tag == 18);
MI_STATIC_ASSERT(mi_option_max_errors == 19);
MI_STATIC_ASSERT(mi_option_max_warnings == 20);
MI_STATIC_ASSERT(mi_option_max_segment_reclaim == 21);
MI_STATIC_ASSERT(mi_option_destroy_on_exit == 22);
MI_STATIC_ASSERT(mi_option_arena_reserve == 23);
MI_STATIC_ASSERT(mi_option_arena_purge_mult == 24);
MI_STATIC_ASSERT(mi_option_purge_extend_delay == 25);
MI_STATIC_ASSERT(mi_option_abandoned_reclaim_on_free == 26);
MI_STATIC_ASSERT(mi_option_disallow_arena_alloc == 27);
MI_STATIC_ASSERT(mi_option_retry_on_oom == 28);
MI_STATIC_ASSERT(_mi_option_last == 29);
MI_STATIC_ASSERT(mi_option_large_os_pages == 6);
MI_STATIC_ASSERT(mi_option_eager_region_commit == 4);
MI_STATIC_ASSERT(mi_option_reset_decommits == 5);
MI_STATIC_ASSERT(mi_option_reset_delay == 15);
MI_STATIC_ASSERT(mi_option_abandoned_page_reset == 12);
MI_STATIC_ASSERT(mi_option_limit_os_alloc == 17);
MI_STATIC_ASSERT(sizeof(mi_option_t) == sizeof(int));

/* mi_heap_area_t layout */
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, blocks) == 0);
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, reserved) == 1*sizeof(size_t));
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, committed) == 2*sizeof(size_t));
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, used) == 3*sizeof(size_t));
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, block_size) == 4*sizeof(size_t));
MI_STATIC_ASSERT(offsetof(mi_heap_area_t, full_block_size) == 5*sizeof(size_t));
MI_STATIC_ASSERT(sizeof(mi_heap_area_t) == 6*sizeof(size_t));
MI_STATIC_ASSERT(sizeof(mi_arena_id_t) == sizeof(int));

/* callbacks: function types, used through pointers */
static void my_deferred_free(bool force, unsigned long long heartbeat, void* arg) { (void)force; (void)heartbeat; (void)arg; }
static void my_output(const char* msg, void* arg) { (void)msg; (void)arg; }
static void my_error(int err, void* arg) { (void)err; (void)arg; }
static bool my_visit(const mi_heap_t* heap, const mi_heap_area_t* area, void* block, size_t block_size, void* arg) {
  (void)heap; (void)area; (void)block; (void)block_size; (void)arg; return true;
}
static mi_deferred_free_fun* const the_deferred = &my_deferred_free;
static mi_output_fun*        const the_output   = &my_output;
static mi_error_fun*         const the_error    = &my_error;
static mi_block_visit_fun*   const the_visitor  = &my_visit;

/* attribute macros are usable by programs */
mi_decl_nodiscard static int my_nodiscard(void) mi_attr_noexcept { return 1; }
static void* my_alloc(size_t n) mi_attr_malloc mi_attr_alloc_size(1);
static void* my_alloc(size_t n) { return mi_malloc(n); }

struct point { int x, y; };

#ifdef __cplusplus
/* STL allocators */
MI_STATIC_ASSERT((std::is_same<mi_stl_allocator<int>::value_type, int>::value));
MI_STATIC_ASSERT((std::is_same<mi_stl_allocator<int>::rebind<long>::other, mi_stl_allocator<long> >::value));
MI_STATIC_ASSERT((mi_stl_allocator<int>::is_always_equal::value));
MI_STATIC_ASSERT((!mi_heap_stl_allocator<int>::is_always_equal::value));
MI_STATIC_ASSERT((std::is_same<mi_heap_stl_allocator<int>::rebind<char>::other, mi_heap_stl_allocator<char> >::value));
MI_STATIC_ASSERT((std::is_same<mi_heap_destroy_stl_allocator<int>::rebind<char>::other, mi_heap_destroy_stl_allocator<char> >::value));
#if !defined(MI_HAS_HEAP_STL_ALLOCATOR) || MI_HAS_HEAP_STL_ALLOCATOR != 1
#error "MI_HAS_HEAP_STL_ALLOCATOR must be 1 in C++11 and later"
#endif
#else
#ifdef MI_HAS_HEAP_STL_ALLOCATOR
#error "MI_HAS_HEAP_STL_ALLOCATOR must not be defined in C"
#endif
#endif

int main(void) {
  /* typed allocation macros */
  mi_heap_t* heap = mi_heap_get_default();
  struct point* p1 = mi_malloc_tp(struct point);
  struct point* p2 = mi_zalloc_tp(struct point);
  struct point* p3 = mi_calloc_tp(struct point, 4);
  struct point* p4 = mi_mallocn_tp(struct point, 4);
  p4 = mi_reallocn_tp(p4, struct point, 8);
  p3 = mi_recalloc_tp(p3, struct point, 8);
  struct point* h1 = mi_heap_malloc_tp(heap, struct point);
  struct point* h2 = mi_heap_zalloc_tp(heap, struct point);
  struct point* h3 = mi_heap_calloc_tp(heap, struct point, 4);
  struct point* h4 = mi_heap_mallocn_tp(heap, struct point, 4);
  h4 = mi_heap_reallocn_tp(heap, h4, struct point, 8);
  h3 = mi_heap_recalloc_tp(heap, h3, struct point, 8);
  mi_free(p1); mi_free(p2); mi_free(p3); mi_free(p4);
  mi_free(h1); mi_free(h2); mi_free(h3); mi_free(h4);

  /* the override macros */
  char* s = strdup("override");
  s = (char*)realloc(s, 100);
  free(s);
  void* q = NULL;
  if (posix_memalign(&q, 64, 100) != 0) return 1;
  free(q);

  mi_register_output(the_output, NULL);
  mi_register_output(NULL, NULL);
  mi_register_deferred_free(the_deferred, NULL);
  mi_register_deferred_free(NULL, NULL);
  mi_register_error(the_error, NULL);
  mi_register_error(NULL, NULL);
  (void)mi_heap_visit_blocks(heap, true, the_visitor, NULL);
  int v = my_nodiscard();
  void* a = my_alloc(10);
  mi_free(a);

#ifdef __cplusplus
  {
    std::vector<int, mi_stl_allocator<int> > v1(3, 1);
    std::vector<int, mi_heap_stl_allocator<int> > v2(3, 2);
    std::vector<int, mi_heap_destroy_stl_allocator<int> > v3(3, 3);
    if (v1[0] + v2[0] + v3[0] != 6) return 1;
  }
#endif
  printf("header ok (version %d)\n", mi_version());
  return (v == 1 && mi_version() == MI_MALLOC_VERSION ? 0 : 1);
}
