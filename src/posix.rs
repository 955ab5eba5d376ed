//! POSIX, BSD, Windows and C++ flavoured entry points, expressed with the core API.

use crate::aligned;
use crate::alloc;
use crate::free;
use crate::init::get_default_heap;
use crate::state::Heap;
use crate::types::*;
use core::ffi::c_void;
use core::ptr;
use libc::{c_char, c_int};

#[inline]
fn heap() -> *mut Heap {
    get_default_heap()
}

/// `mi_malloc_aligned` on the default heap.
pub fn malloc_aligned(size: usize, alignment: usize) -> *mut u8 {
    // SAFETY: the calling thread's default heap.
    unsafe { aligned::heap_malloc_zero_aligned_at(heap(), size, alignment, 0, false) }
}

/// `posix_memalign`: error codes, never errno, `*p` untouched on error.
///
/// # Safety
/// `p` must be null or writable.
pub unsafe fn posix_memalign(p: *mut *mut c_void, alignment: usize, size: usize) -> c_int {
    if p.is_null() {
        return EINVAL;
    }
    if alignment % core::mem::size_of::<*mut c_void>() != 0
        || alignment == 0
        || !is_power_of_two(alignment)
    {
        return EINVAL;
    }
    let saved = get_errno();
    let q = malloc_aligned(size, alignment);
    if q.is_null() && size != 0 {
        set_errno(saved);
        return ENOMEM;
    }
    *p = q as *mut c_void;
    0
}

pub fn memalign(alignment: usize, size: usize) -> *mut u8 {
    malloc_aligned(size, alignment)
}

pub fn valloc(size: usize) -> *mut u8 {
    malloc_aligned(size, crate::prim::page_size())
}

pub fn pvalloc(size: usize) -> *mut u8 {
    let ps = crate::prim::page_size();
    if size >= usize::MAX - ps {
        set_errno(ENOMEM);
        return ptr::null_mut();
    }
    malloc_aligned(align_up(size, ps), ps)
}

pub fn aligned_alloc(alignment: usize, size: usize) -> *mut u8 {
    malloc_aligned(size, alignment)
}

/// `mi_reallocn`: overflow → NULL, `p` untouched.
///
/// # Safety
/// `p` must be null or a live block.
pub unsafe fn reallocn(p: *mut u8, count: usize, size: usize) -> *mut u8 {
    match mul_overflow(count, size) {
        Some(total) => alloc::heap_realloc_zero(heap(), p, total, false),
        None => alloc::count_size_overflow(count, size),
    }
}

/// # Safety
/// `p` must be null or a live block.
pub unsafe fn reallocarray(p: *mut u8, count: usize, size: usize) -> *mut u8 {
    let newp = reallocn(p, count, size);
    if newp.is_null() {
        set_errno(ENOMEM);
    }
    newp
}

/// NetBSD `reallocarr`: `p` is the address of the pointer.
///
/// # Safety
/// `p` must be null or point to a pointer that is null or a live block.
pub unsafe fn reallocarr(p: *mut c_void, count: usize, size: usize) -> c_int {
    if p.is_null() {
        set_errno(EINVAL);
        return EINVAL;
    }
    let op = p as *mut *mut c_void;
    let newp = reallocarray(*op as *mut u8, count, size);
    if newp.is_null() {
        return get_errno();
    }
    *op = newp as *mut c_void;
    0
}

/// `mi_expand`: succeed only if the block already has room (never in padding builds,
/// where the exact size is tracked).
///
/// # Safety
/// `p` must be null or a live block of ours.
pub unsafe fn expand(p: *mut u8, newsize: usize) -> *mut u8 {
    if PADDING || p.is_null() || newsize > free::usable_size(p) {
        return ptr::null_mut();
    }
    p
}

/// # Safety
/// As `expand`.
pub unsafe fn underscore_expand(p: *mut u8, newsize: usize) -> *mut u8 {
    let r = expand(p, newsize);
    if r.is_null() {
        set_errno(ENOMEM);
    }
    r
}

/// Checked free: only pointers in our heap region are freed.
///
/// # Safety
/// `p` must be null, a pointer outside our heap region, or a live block of ours.
pub unsafe fn cfree(p: *mut u8) {
    // (the segment `free` reads, not the chunk of `p`: they differ for a pointer at a
    // chunk's start)
    if crate::segment_map::is_live_segment(crate::state::ptr_segment(p)) {
        free::free(p);
    }
}

/// # Safety
/// `s` must be null or a 0-terminated string of 16-bit units.
pub unsafe fn wcsdup(s: *const u16) -> *mut u16 {
    if s.is_null() {
        return ptr::null_mut();
    }
    let mut len = 0usize;
    while *s.add(len) != 0 {
        len += 1;
    }
    let size = (len + 1) * 2;
    let p = alloc::malloc(size) as *mut u16;
    if !p.is_null() {
        ptr::copy_nonoverlapping(s, p, len + 1);
    }
    p
}

/// # Safety
/// `buf` and `name` must be null or valid; `size` null or writable.
pub unsafe fn dupenv_s(buf: *mut *mut c_char, size: *mut usize, name: *const c_char) -> c_int {
    if buf.is_null() || name.is_null() {
        return EINVAL;
    }
    if !size.is_null() {
        *size = 0;
    }
    let v = libc::getenv(name);
    if v.is_null() {
        *buf = ptr::null_mut();
    } else {
        *buf = alloc::heap_strdup(heap(), v);
        if (*buf).is_null() {
            return ENOMEM;
        }
        if !size.is_null() {
            *size = libc::strlen(v);
        }
    }
    0
}

/// # Safety
/// As `dupenv_s`; wide environments do not exist on Linux.
pub unsafe fn wdupenv_s(buf: *mut *mut u16, size: *mut usize, name: *const u16) -> c_int {
    if buf.is_null() || name.is_null() {
        return EINVAL;
    }
    if !size.is_null() {
        *size = 0;
    }
    *buf = ptr::null_mut();
    EINVAL
}

// --- C++ new -------------------------------------------------------------------------------

/// The failure protocol of `operator new` without a C++ runtime (the C library's shim
/// replaces the functions that call this with ones that call the `std::new_handler` or
/// throw `std::bad_alloc`): report, then abort unless `nothrow`. Never retries.
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
fn try_new_handler(nothrow: bool) -> bool {
    crate::mi_error!(ENOMEM, "out of memory in 'new'");
    if !nothrow {
        // SAFETY: abort never returns.
        unsafe { libc::abort() };
    }
    false
}

/// `mi_heap_try_new`: the retry loop of `operator new` on a heap.
///
/// # Safety
/// `heap` must be the calling thread's heap.
#[cold]
#[inline(never)]
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub unsafe fn heap_try_new(heap: *mut Heap, size: usize, nothrow: bool) -> *mut u8 {
    loop {
        let p = alloc::heap_malloc_zero(heap, size, false);
        if !p.is_null() || !try_new_handler(nothrow) {
            return p;
        }
    }
}

/// # Safety
/// `heap` must be the calling thread's heap.
#[inline]
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub unsafe fn heap_alloc_new(heap: *mut Heap, size: usize) -> *mut u8 {
    let p = alloc::heap_malloc_zero(heap, size, false);
    if p.is_null() {
        return heap_try_new(heap, size, false);
    }
    p
}

#[inline]
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub fn new(size: usize) -> *mut u8 {
    // SAFETY: the default heap.
    unsafe { heap_alloc_new(heap(), size) }
}

#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub fn new_nothrow(size: usize) -> *mut u8 {
    let p = alloc::malloc(size);
    if p.is_null() {
        // SAFETY: the default heap.
        return unsafe { heap_try_new(heap(), size, true) };
    }
    p
}

#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub fn new_aligned(size: usize, alignment: usize) -> *mut u8 {
    loop {
        let p = malloc_aligned(size, alignment);
        if !p.is_null() || !try_new_handler(false) {
            return p;
        }
    }
}

#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub fn new_aligned_nothrow(size: usize, alignment: usize) -> *mut u8 {
    loop {
        let p = malloc_aligned(size, alignment);
        if !p.is_null() || !try_new_handler(true) {
            return p;
        }
    }
}

/// # Safety
/// `heap` must be the calling thread's heap.
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub unsafe fn heap_alloc_new_n(heap: *mut Heap, count: usize, size: usize) -> *mut u8 {
    match mul_overflow(count, size) {
        Some(total) => heap_alloc_new(heap, total),
        None => {
            try_new_handler(false);
            ptr::null_mut()
        }
    }
}

#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub fn new_n(count: usize, size: usize) -> *mut u8 {
    // SAFETY: the default heap.
    unsafe { heap_alloc_new_n(heap(), count, size) }
}

/// # Safety
/// `p` must be null or a live block.
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub unsafe fn new_realloc(p: *mut u8, newsize: usize) -> *mut u8 {
    loop {
        let q = alloc::heap_realloc_zero(heap(), p, newsize, false);
        if !q.is_null() || !try_new_handler(false) {
            return q;
        }
    }
}

/// # Safety
/// `p` must be null or a live block.
#[cfg(not(feature = "c_shim"))] // the C shim has these (see capi.rs)
pub unsafe fn new_reallocn(p: *mut u8, count: usize, size: usize) -> *mut u8 {
    match mul_overflow(count, size) {
        Some(total) => new_realloc(p, total),
        None => {
            try_new_handler(false);
            ptr::null_mut()
        }
    }
}
