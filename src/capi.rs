//! The C ABI of `mimalloc.h`: every `mi_*` function, exported unmangled. This layer only
//! translates C types and forwards to the core; the semantics live in the modules it
//! calls. `mimalloc.h` is checked against these signatures (see `cbindgen.toml`).
//!
//! # Safety
//! Each `unsafe` function here has the contract of its C declaration in `mimalloc.h`
//! (the pages of `doc/`): a pointer argument is NULL or what the C API allows there (a
//! live block of ours for `mi_free`/`mi_realloc`/..., a valid heap for `mi_heap_*`,
//! writable memory of the stated size for out-parameters). It is stated once here
//! rather than on each function.
#![allow(clippy::missing_safety_doc)]
#![allow(non_camel_case_types)]

use crate::aligned as al;
use crate::alloc as a;
use crate::arena;
use crate::free as f;
use crate::heap as h;
use crate::init;
use crate::options::{self, Opt};
use crate::output::{self, DeferredFreeFun, ErrorFun, OutputFun};
use crate::posix as px;
use crate::state::Heap;
use crate::types::*;
use core::ffi::c_void;
use libc::{c_char, c_int, c_long, c_uchar, c_ushort};

/// `mi_heap_t` (opaque to C).
pub type mi_heap_t = Heap;
/// `mi_arena_id_t`.
pub type mi_arena_id_t = c_int;
/// `mi_option_t` (a C enum).
pub type mi_option_t = c_int;

/// One page of a heap, as seen by `mi_heap_visit_blocks` (ABI of `mi_heap_area_t`).
#[repr(C)]
pub struct mi_heap_area_t {
    pub blocks: *mut c_void,
    pub reserved: usize,
    pub committed: usize,
    pub used: usize,
    pub block_size: usize,
    pub full_block_size: usize,
}

pub type mi_block_visit_fun = unsafe extern "C" fn(
    heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    block_size: usize,
    arg: *mut c_void,
) -> bool;

#[inline(always)]
fn dh() -> *mut Heap {
    init::get_default_heap()
}

// --- 1. standard malloc interface ------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_malloc(size: usize) -> *mut c_void {
    a::malloc(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1,2)
#[no_mangle]
pub extern "C" fn mi_calloc(count: usize, size: usize) -> *mut c_void {
    // SAFETY: the default heap of the calling thread.
    unsafe { a::heap_calloc(dh(), count, size) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_realloc(p: *mut c_void, newsize: usize) -> *mut c_void {
    a::heap_realloc_zero(dh(), p as *mut u8, newsize, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_expand(p: *mut c_void, newsize: usize) -> *mut c_void {
    px::expand(p as *mut u8, newsize) as *mut c_void
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_free(p: *mut c_void) {
    f::free(p as *mut u8)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_strdup(s: *const c_char) -> *mut c_char {
    a::heap_strdup(dh(), s)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_strndup(s: *const c_char, n: usize) -> *mut c_char {
    a::heap_strndup(dh(), s, n)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_realpath(
    fname: *const c_char,
    resolved_name: *mut c_char,
) -> *mut c_char {
    a::heap_realpath(dh(), fname, resolved_name)
}

// --- 2. extended ---------------------------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_malloc_small(size: usize) -> *mut c_void {
    // SAFETY: the default heap. Sizes above SMALL_SIZE_MAX break the documented
    // precondition; they get an ordinary allocation rather than a too-small block.
    unsafe { a::heap_malloc_zero(dh(), size, false) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_zalloc_small(size: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe { a::heap_malloc_zero(dh(), size, true) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_zalloc(size: usize) -> *mut c_void {
    a::zalloc(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1,2)
#[no_mangle]
pub extern "C" fn mi_mallocn(count: usize, size: usize) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { a::heap_mallocn(dh(), count, size) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(2,3)
#[no_mangle]
pub unsafe extern "C" fn mi_reallocn(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    px::reallocn(p as *mut u8, count, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_reallocf(p: *mut c_void, newsize: usize) -> *mut c_void {
    mi_heap_reallocf(dh(), p, newsize)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_usable_size(p: *const c_void) -> usize {
    f::usable_size(p as *const u8)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_good_size(size: usize) -> usize {
    crate::state::good_size(size)
}

// --- 3. internals: callbacks, collection, statistics, process/thread ---------------------

/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_register_deferred_free(
    deferred_free: Option<DeferredFreeFun>,
    arg: *mut c_void,
) {
    output::register_deferred_free(deferred_free, arg)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_register_output(out: Option<OutputFun>, arg: *mut c_void) {
    output::register_output(out, arg)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_register_error(fun: Option<ErrorFun>, arg: *mut c_void) {
    output::register_error(fun, arg)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_collect(force: bool) {
    // SAFETY: the default heap of the calling thread.
    unsafe { h::collect(dh(), force) }
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_version() -> c_int {
    217
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_stats_reset() {
    crate::stats::reset(init::thread_stats());
    crate::stats::reset(&crate::stats::STATS_MAIN);
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_stats_merge() {
    init::stats_merge()
}
#[cfg(not(windows))]
extern "C" {
    static stdout: *mut libc::FILE;
    static stderr: *mut libc::FILE;
}

/// mimalloc treats the C streams `stdout`/`stderr` passed as an "output function" as a
/// request for the default output (old code passes them to `mi_stats_print`).
fn output_or_default(out: Option<OutputFun>) -> Option<OutputFun> {
    let addr = out.map_or(0, |f| f as usize);
    // SAFETY: reading the addresses held by libc's stream globals.
    #[cfg(not(windows))]
    let (so, se) = unsafe { (stdout as usize, stderr as usize) };
    #[cfg(windows)]
    let (so, se) = crate::prim::std_streams();
    if addr == 0 || addr == so || addr == se {
        None
    } else {
        out
    }
}

/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_stats_print(out: *mut c_void) {
    // The deprecated form: the argument is an output function, NULL, stdout or stderr.
    // SAFETY: C passes a function pointer (or one of the values filtered below) here.
    let out: Option<OutputFun> = unsafe { core::mem::transmute(out) };
    init::stats_print(output_or_default(out), core::ptr::null_mut())
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_stats_print_out(out: Option<OutputFun>, arg: *mut c_void) {
    init::stats_print(output_or_default(out), arg)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_thread_stats_print_out(out: Option<OutputFun>, arg: *mut c_void) {
    crate::stats::print_out(init::thread_stats(), output_or_default(out), arg)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_process_info(
    elapsed_msecs: *mut usize,
    user_msecs: *mut usize,
    system_msecs: *mut usize,
    current_rss: *mut usize,
    peak_rss: *mut usize,
    current_commit: *mut usize,
    peak_commit: *mut usize,
    page_faults: *mut usize,
) {
    let pi = crate::stats::process_info();
    let put = |p: *mut usize, v: usize| {
        if !p.is_null() {
            // SAFETY: the caller passes NULL or writable pointers.
            unsafe { *p = v };
        }
    };
    put(elapsed_msecs, pi.elapsed_msecs);
    put(user_msecs, pi.user_msecs);
    put(system_msecs, pi.system_msecs);
    put(current_rss, pi.current_rss);
    put(peak_rss, pi.peak_rss);
    put(current_commit, pi.current_commit);
    put(peak_commit, pi.peak_commit);
    put(page_faults, pi.page_faults);
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_process_init() {
    init::process_init()
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_thread_init() {
    init::thread_init()
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_thread_done() {
    init::thread_done()
}

// --- 4. aligned ------------------------------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2)
#[no_mangle]
pub extern "C" fn mi_malloc_aligned(size: usize, alignment: usize) -> *mut c_void {
    px::malloc_aligned(size, alignment) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_malloc_aligned_at(
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { al::heap_malloc_zero_aligned_at(dh(), size, alignment, offset, false) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2)
#[no_mangle]
pub extern "C" fn mi_zalloc_aligned(size: usize, alignment: usize) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { al::heap_malloc_zero_aligned_at(dh(), size, alignment, 0, true) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_zalloc_aligned_at(
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { al::heap_malloc_zero_aligned_at(dh(), size, alignment, offset, true) as *mut c_void }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1,2) mi_attr_alloc_align(3)
#[no_mangle]
pub extern "C" fn mi_calloc_aligned(count: usize, size: usize, alignment: usize) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { mi_heap_calloc_aligned(dh(), count, size, alignment) }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1,2)
#[no_mangle]
pub extern "C" fn mi_calloc_aligned_at(
    count: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    // SAFETY: the default heap.
    unsafe { mi_heap_calloc_aligned_at(dh(), count, size, alignment, offset) }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3)
#[no_mangle]
pub unsafe extern "C" fn mi_realloc_aligned(
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned(dh(), p as *mut u8, newsize, alignment, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_realloc_aligned_at(
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned_at(dh(), p as *mut u8, newsize, alignment, offset, false)
        as *mut c_void
}

// --- 5. heaps --------------------------------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
pub extern "C" fn mi_heap_new() -> *mut mi_heap_t {
    h::new_in_arena(0)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_delete(heap: *mut mi_heap_t) {
    h::delete(heap)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_destroy(heap: *mut mi_heap_t) {
    h::destroy(heap)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_set_default(heap: *mut mi_heap_t) -> *mut mi_heap_t {
    h::set_default(heap)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_heap_get_default() -> *mut mi_heap_t {
    init::heap_get_default()
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_heap_get_backing() -> *mut mi_heap_t {
    h::get_backing()
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_heap_collect(heap: *mut mi_heap_t, force: bool) {
    h::collect(heap, force)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_malloc(heap: *mut mi_heap_t, size: usize) -> *mut c_void {
    a::heap_malloc_zero(heap, size, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_zalloc(heap: *mut mi_heap_t, size: usize) -> *mut c_void {
    a::heap_malloc_zero(heap, size, true) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_calloc(
    heap: *mut mi_heap_t,
    count: usize,
    size: usize,
) -> *mut c_void {
    a::heap_calloc(heap, count, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_malloc_small(heap: *mut mi_heap_t, size: usize) -> *mut c_void {
    a::heap_malloc_zero(heap, size, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_mallocn(
    heap: *mut mi_heap_t,
    count: usize,
    size: usize,
) -> *mut c_void {
    a::heap_mallocn(heap, count, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_realloc(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
) -> *mut c_void {
    a::heap_realloc_zero(heap, p as *mut u8, newsize, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(3,4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_reallocn(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    count: usize,
    size: usize,
) -> *mut c_void {
    match mul_overflow(count, size) {
        Some(total) => a::heap_realloc_zero(heap, p as *mut u8, total, false) as *mut c_void,
        None => a::count_size_overflow(count, size) as *mut c_void,
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_reallocf(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
) -> *mut c_void {
    let newp = a::heap_realloc_zero(heap, p as *mut u8, newsize, false);
    if newp.is_null() && !p.is_null() {
        f::free(p as *mut u8);
    }
    newp as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_heap_strdup(heap: *mut mi_heap_t, s: *const c_char) -> *mut c_char {
    a::heap_strdup(heap, s)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_heap_strndup(
    heap: *mut mi_heap_t,
    s: *const c_char,
    n: usize,
) -> *mut c_char {
    a::heap_strndup(heap, s, n)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_heap_realpath(
    heap: *mut mi_heap_t,
    fname: *const c_char,
    resolved_name: *mut c_char,
) -> *mut c_char {
    a::heap_realpath(heap, fname, resolved_name)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_malloc_aligned(
    heap: *mut mi_heap_t,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    al::heap_malloc_zero_aligned_at(heap, size, alignment, 0, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_malloc_aligned_at(
    heap: *mut mi_heap_t,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    al::heap_malloc_zero_aligned_at(heap, size, alignment, offset, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_zalloc_aligned(
    heap: *mut mi_heap_t,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    al::heap_malloc_zero_aligned_at(heap, size, alignment, 0, true) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_zalloc_aligned_at(
    heap: *mut mi_heap_t,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    al::heap_malloc_zero_aligned_at(heap, size, alignment, offset, true) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3) mi_attr_alloc_align(4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_calloc_aligned(
    heap: *mut mi_heap_t,
    count: usize,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    mi_heap_calloc_aligned_at(heap, count, size, alignment, 0)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_calloc_aligned_at(
    heap: *mut mi_heap_t,
    count: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    match mul_overflow(count, size) {
        Some(total) => {
            al::heap_malloc_zero_aligned_at(heap, total, alignment, offset, true) as *mut c_void
        }
        None => a::count_size_overflow(count, size) as *mut c_void,
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_realloc_aligned(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned(heap, p as *mut u8, newsize, alignment, false) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_realloc_aligned_at(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned_at(heap, p as *mut u8, newsize, alignment, offset, false)
        as *mut c_void
}

// --- 6. zero-initialised re-allocation ------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_rezalloc(p: *mut c_void, newsize: usize) -> *mut c_void {
    mi_heap_rezalloc(dh(), p, newsize)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(2,3)
#[no_mangle]
pub unsafe extern "C" fn mi_recalloc(p: *mut c_void, newcount: usize, size: usize) -> *mut c_void {
    mi_heap_recalloc(dh(), p, newcount, size)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3)
#[no_mangle]
pub unsafe extern "C" fn mi_rezalloc_aligned(
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
) -> *mut c_void {
    mi_heap_rezalloc_aligned(dh(), p, newsize, alignment)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(2)
#[no_mangle]
pub unsafe extern "C" fn mi_rezalloc_aligned_at(
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    mi_heap_rezalloc_aligned_at(dh(), p, newsize, alignment, offset)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(2,3) mi_attr_alloc_align(4)
#[no_mangle]
pub unsafe extern "C" fn mi_recalloc_aligned(
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    mi_heap_recalloc_aligned(dh(), p, newcount, size, alignment)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(2,3)
#[no_mangle]
pub unsafe extern "C" fn mi_recalloc_aligned_at(
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    mi_heap_recalloc_aligned_at(dh(), p, newcount, size, alignment, offset)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_rezalloc(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
) -> *mut c_void {
    a::heap_realloc_zero(heap, p as *mut u8, newsize, true) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(3,4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_recalloc(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newcount: usize,
    size: usize,
) -> *mut c_void {
    match mul_overflow(newcount, size) {
        Some(total) => a::heap_realloc_zero(heap, p as *mut u8, total, true) as *mut c_void,
        None => a::count_size_overflow(newcount, size) as *mut c_void,
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_rezalloc_aligned(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned(heap, p as *mut u8, newsize, alignment, true) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size(3)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_rezalloc_aligned_at(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newsize: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    al::heap_realloc_zero_aligned_at(heap, p as *mut u8, newsize, alignment, offset, true)
        as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(3,4) mi_attr_alloc_align(5)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_recalloc_aligned(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    match mul_overflow(newcount, size) {
        Some(total) => {
            al::heap_realloc_zero_aligned(heap, p as *mut u8, total, alignment, true) as *mut c_void
        }
        None => a::count_size_overflow(newcount, size) as *mut c_void,
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(3,4)
#[no_mangle]
pub unsafe extern "C" fn mi_heap_recalloc_aligned_at(
    heap: *mut mi_heap_t,
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    match mul_overflow(newcount, size) {
        Some(total) => {
            al::heap_realloc_zero_aligned_at(heap, p as *mut u8, total, alignment, offset, true)
                as *mut c_void
        }
        None => a::count_size_overflow(newcount, size) as *mut c_void,
    }
}

// --- 7. analysis, heap walking, arenas ---------------------------------------------------

/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_contains_block(heap: *mut mi_heap_t, p: *const c_void) -> bool {
    h::contains_block(heap, p as *const u8)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_check_owned(heap: *mut mi_heap_t, p: *const c_void) -> bool {
    h::check_owned(heap, p as *const u8)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_check_owned(p: *const c_void) -> bool {
    h::check_owned(dh(), p as *const u8)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_heap_visit_blocks(
    heap: *const mi_heap_t,
    visit_all_blocks: bool,
    visitor: Option<mi_block_visit_fun>,
    arg: *mut c_void,
) -> bool {
    match visitor {
        Some(v) => h::visit_blocks(
            heap as *mut Heap,
            visit_all_blocks,
            &mut |heap, area: &h::Area, block, bsize| {
                let ca = mi_heap_area_t {
                    blocks: area.blocks as *mut c_void,
                    reserved: area.reserved,
                    committed: area.committed,
                    used: area.used,
                    block_size: area.block_size,
                    full_block_size: area.full_block_size,
                };
                // SAFETY: calling the user's visitor with valid pointers.
                unsafe { v(heap, &ca, block as *mut c_void, bsize, arg) }
            },
        ),
        None => false,
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_is_in_heap_region(p: *const c_void) -> bool {
    crate::segment_map::is_in_heap_region(p as *const u8) || arena::contains(p as *const u8)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
#[cfg(not(all(windows, feature = "override")))] // (Windows: in win_redirect)
pub extern "C" fn mi_is_redirected() -> bool {
    false
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_reserve_huge_os_pages_interleave(
    pages: usize,
    numa_nodes: usize,
    timeout_msecs: usize,
) -> c_int {
    arena::reserve_huge_os_pages_interleave(pages, numa_nodes, timeout_msecs)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_reserve_huge_os_pages_at(
    pages: usize,
    numa_node: c_int,
    timeout_msecs: usize,
) -> c_int {
    arena::reserve_huge_os_pages_at(pages, numa_node, timeout_msecs, false).0
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_reserve_huge_os_pages_at_ex(
    pages: usize,
    numa_node: c_int,
    timeout_msecs: usize,
    exclusive: bool,
    arena_id: *mut mi_arena_id_t,
) -> c_int {
    if !arena_id.is_null() {
        *arena_id = -1;
    }
    let (err, id) = arena::reserve_huge_os_pages_at(pages, numa_node, timeout_msecs, exclusive);
    if !arena_id.is_null() && err == 0 && id > 0 {
        *arena_id = id;
    }
    err
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_reserve_os_memory(size: usize, commit: bool, allow_large: bool) -> c_int {
    arena::reserve_os_memory(size, commit, allow_large, false).0
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_reserve_os_memory_ex(
    size: usize,
    commit: bool,
    allow_large: bool,
    exclusive: bool,
    arena_id: *mut mi_arena_id_t,
) -> c_int {
    let (err, id) = arena::reserve_os_memory(size, commit, allow_large, exclusive);
    if !arena_id.is_null() {
        *arena_id = id;
    }
    err
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_manage_os_memory(
    start: *mut c_void,
    size: usize,
    is_committed: bool,
    is_large: bool,
    is_zero: bool,
    numa_node: c_int,
) -> bool {
    mi_manage_os_memory_ex(
        start,
        size,
        is_committed,
        is_large,
        is_zero,
        numa_node,
        false,
        core::ptr::null_mut(),
    )
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_manage_os_memory_ex(
    start: *mut c_void,
    size: usize,
    is_committed: bool,
    is_large: bool,
    is_zero: bool,
    numa_node: c_int,
    exclusive: bool,
    arena_id: *mut mi_arena_id_t,
) -> bool {
    let id = arena::manage_os_memory(
        start as *mut u8,
        size,
        is_committed,
        is_large,
        is_zero,
        numa_node,
        exclusive,
    );
    if !arena_id.is_null() {
        *arena_id = id.max(0);
        if id < 0 {
            *arena_id = -1;
        }
    }
    id > 0
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_debug_show_arenas(show_inuse: bool, show_abandoned: bool, show_purge: bool) {
    crate::segment::debug_show_arenas(show_inuse, show_abandoned, show_purge)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub unsafe extern "C" fn mi_arena_area(arena_id: mi_arena_id_t, size: *mut usize) -> *mut c_void {
    let r = arena::area(arena_id);
    if !size.is_null() {
        *size = r.map_or(0, |(_, s)| s);
    }
    r.map_or(core::ptr::null_mut(), |(p, _)| p as *mut c_void)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
pub extern "C" fn mi_heap_new_in_arena(arena_id: mi_arena_id_t) -> *mut mi_heap_t {
    h::new_in_arena(arena_id)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_reserve_huge_os_pages(
    pages: usize,
    max_secs: f64,
    pages_reserved: *mut usize,
) -> c_int {
    crate::mi_warning!("mi_reserve_huge_os_pages is deprecated: use mi_reserve_huge_os_pages_interleave/at instead");
    if !pages_reserved.is_null() {
        *pages_reserved = 0;
    }
    let err = arena::reserve_huge_os_pages_interleave(pages, 0, (max_secs * 1000.0) as usize);
    if err == 0 && !pages_reserved.is_null() {
        *pages_reserved = pages;
    }
    err
}

// --- 9. options ------------------------------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_is_enabled(option: mi_option_t) -> bool {
    Opt::from_i32(option).is_some_and(options::is_enabled)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_enable(option: mi_option_t) {
    if let Some(o) = Opt::from_i32(option) {
        options::set(o, 1)
    }
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_disable(option: mi_option_t) {
    if let Some(o) = Opt::from_i32(option) {
        options::set(o, 0)
    }
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_set_enabled(option: mi_option_t, enable: bool) {
    if let Some(o) = Opt::from_i32(option) {
        options::set_enabled(o, enable)
    }
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_set_enabled_default(option: mi_option_t, enable: bool) {
    if let Some(o) = Opt::from_i32(option) {
        options::set_enabled_default(o, enable)
    }
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_get(option: mi_option_t) -> c_long {
    Opt::from_i32(option).map_or(0, |o| options::get(o) as c_long)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
#[allow(clippy::useless_conversion)] // `long` is 32-bit on Windows
pub extern "C" fn mi_option_get_clamp(option: mi_option_t, min: c_long, max: c_long) -> c_long {
    Opt::from_i32(option).map_or(0, |o| {
        options::get_clamp(o, min.into(), max.into()) as c_long
    })
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
#[no_mangle]
pub extern "C" fn mi_option_get_size(option: mi_option_t) -> usize {
    Opt::from_i32(option).map_or(0, options::get_size)
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
#[allow(clippy::useless_conversion)] // `long` is 32-bit on Windows
pub extern "C" fn mi_option_set(option: mi_option_t, value: c_long) {
    if let Some(o) = Opt::from_i32(option) {
        options::set(o, value.into())
    }
}
/// cbindgen:prefix=mi_decl_export
#[no_mangle]
#[allow(clippy::useless_conversion)] // `long` is 32-bit on Windows
pub extern "C" fn mi_option_set_default(option: mi_option_t, value: c_long) {
    if let Some(o) = Opt::from_i32(option) {
        options::set_default(o, value.into())
    }
}

// --- 10. POSIX / Unix / Windows / C++ names ----------------------------------------------

/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_cfree(p: *mut c_void) {
    px::cfree(p as *mut u8)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi__expand(p: *mut c_void, newsize: usize) -> *mut c_void {
    px::underscore_expand(p as *mut u8, newsize) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_malloc_size(p: *const c_void) -> usize {
    f::usable_size(p as *const u8)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub extern "C" fn mi_malloc_good_size(size: usize) -> usize {
    crate::state::good_size(size)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_malloc_usable_size(p: *const c_void) -> usize {
    f::usable_size(p as *const u8)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_posix_memalign(
    p: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    px::posix_memalign(p, alignment, size)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1)
#[no_mangle]
pub extern "C" fn mi_memalign(alignment: usize, size: usize) -> *mut c_void {
    px::memalign(alignment, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_valloc(size: usize) -> *mut c_void {
    px::valloc(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[no_mangle]
pub extern "C" fn mi_pvalloc(size: usize) -> *mut c_void {
    px::pvalloc(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1)
#[no_mangle]
pub extern "C" fn mi_aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    px::aligned_alloc(alignment, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept mi_attr_alloc_size2(2,3)
#[no_mangle]
pub unsafe extern "C" fn mi_reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    px::reallocarray(p as *mut u8, count, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_reallocarr(p: *mut c_void, count: usize, size: usize) -> c_int {
    px::reallocarr(p, count, size)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_aligned_recalloc(
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
) -> *mut c_void {
    mi_recalloc_aligned(p, newcount, size, alignment)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_aligned_offset_recalloc(
    p: *mut c_void,
    newcount: usize,
    size: usize,
    alignment: usize,
    offset: usize,
) -> *mut c_void {
    mi_recalloc_aligned_at(p, newcount, size, alignment, offset)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_wcsdup(s: *const c_ushort) -> *mut c_ushort {
    px::wcsdup(s)
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc
#[no_mangle]
pub unsafe extern "C" fn mi_mbsdup(s: *const c_uchar) -> *mut c_uchar {
    a::heap_strdup(dh(), s as *const c_char) as *mut c_uchar
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_dupenv_s(
    buf: *mut *mut c_char,
    size: *mut usize,
    name: *const c_char,
) -> c_int {
    px::dupenv_s(buf, size, name)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_wdupenv_s(
    buf: *mut *mut c_ushort,
    size: *mut usize,
    name: *const c_ushort,
) -> c_int {
    px::wdupenv_s(buf, size, name)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_free_size(p: *mut c_void, size: usize) {
    f::free_size(p as *mut u8, size)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_free_size_aligned(p: *mut c_void, size: usize, alignment: usize) {
    if DEBUG > 0 && alignment != 0 && (p as usize) % alignment != 0 {
        crate::mi_warning!(
            "mi_free_size_aligned: pointer {:p} is not aligned to {}",
            p,
            alignment
        );
    }
    f::free_size(p as *mut u8, size)
}
/// cbindgen:prefix=mi_decl_export
/// cbindgen:postfix=mi_attr_noexcept
#[no_mangle]
pub unsafe extern "C" fn mi_free_aligned(p: *mut c_void, alignment: usize) {
    if DEBUG > 0 && alignment != 0 && (p as usize) % alignment != 0 {
        crate::mi_warning!(
            "mi_free_aligned: pointer {:p} is not aligned to {}",
            p,
            alignment
        );
    }
    f::free(p as *mut u8)
}

// --- 10.1 C++ new wrappers ------------------------------------------------------------------

/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_malloc mi_attr_alloc_size(1)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn mi_new(size: usize) -> *mut c_void {
    px::new(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn mi_new_aligned(size: usize, alignment: usize) -> *mut c_void {
    px::new_aligned(size, alignment) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn mi_new_nothrow(size: usize) -> *mut c_void {
    px::new_nothrow(size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn mi_new_aligned_nothrow(size: usize, alignment: usize) -> *mut c_void {
    px::new_aligned_nothrow(size, alignment) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_malloc mi_attr_alloc_size2(1, 2)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn mi_new_n(count: usize, size: usize) -> *mut c_void {
    px::new_n(count, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_alloc_size(2)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn mi_new_realloc(p: *mut c_void, newsize: usize) -> *mut c_void {
    px::new_realloc(p as *mut u8, newsize) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export
/// cbindgen:postfix=mi_attr_alloc_size2(2, 3)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn mi_new_reallocn(
    p: *mut c_void,
    newcount: usize,
    size: usize,
) -> *mut c_void {
    px::new_reallocn(p as *mut u8, newcount, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_malloc mi_attr_alloc_size(2)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn mi_heap_alloc_new(heap: *mut mi_heap_t, size: usize) -> *mut c_void {
    px::heap_alloc_new(heap, size) as *mut c_void
}
/// cbindgen:prefix=mi_decl_nodiscard mi_decl_export mi_decl_restrict
/// cbindgen:postfix=mi_attr_malloc mi_attr_alloc_size2(2, 3)
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn mi_heap_alloc_new_n(
    heap: *mut mi_heap_t,
    count: usize,
    size: usize,
) -> *mut c_void {
    px::heap_alloc_new_n(heap, count, size) as *mut c_void
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn mi_heap_try_new(
    heap: *mut mi_heap_t,
    size: usize,
    nothrow: bool,
) -> *mut c_void {
    px::heap_try_new(heap, size, nothrow) as *mut c_void
}

// With the C shim, it defines the `new` wrappers (their retry loop may unwind a C++
// exception, which must not cross Rust frames); Rust code calls them through these.
#[cfg(feature = "c_shim")]
#[allow(improper_ctypes)] // `mi_heap_t` is opaque to C: only pointers to it pass
extern "C" {
    pub fn mi_new(size: usize) -> *mut c_void;
    pub fn mi_new_aligned(size: usize, alignment: usize) -> *mut c_void;
    pub fn mi_new_nothrow(size: usize) -> *mut c_void;
    pub fn mi_new_aligned_nothrow(size: usize, alignment: usize) -> *mut c_void;
    pub fn mi_new_n(count: usize, size: usize) -> *mut c_void;
    pub fn mi_new_realloc(p: *mut c_void, newsize: usize) -> *mut c_void;
    pub fn mi_new_reallocn(p: *mut c_void, newcount: usize, size: usize) -> *mut c_void;
    pub fn mi_heap_alloc_new(heap: *mut mi_heap_t, size: usize) -> *mut c_void;
    pub fn mi_heap_alloc_new_n(heap: *mut mi_heap_t, count: usize, size: usize) -> *mut c_void;
    pub fn mi_heap_try_new(heap: *mut mi_heap_t, size: usize, nothrow: bool) -> *mut c_void;
}

/// Called by the C++ shim when `new` fails and no new_handler is installed.
#[cfg(feature = "c_shim")]
#[no_mangle]
pub extern "C" fn _mi_rs_report_new_failure() {
    crate::mi_error!(ENOMEM, "out of memory in 'new'");
}
