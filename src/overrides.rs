//! The standard allocation interface (`malloc`, `free`, ..., glibc's `__libc_*`, and the
//! C++ `operator new`/`delete` family under their Itanium mangled names), exported when
//! the `override` feature is on, so that linking or preloading the library replaces the
//! system allocator. Each forwards to the same core function as its `mi_` twin; where
//! POSIX/glibc semantics differ from mimalloc's only by accident (errno on failure) we
//! follow POSIX.
//!
//! # Safety
//! Each `unsafe` function has the contract of the C (or C++) function it replaces: a
//! pointer argument is NULL or a live block of the allocator, as for `free`/`realloc`.
#![allow(clippy::missing_safety_doc)]

use crate::capi::*;
use crate::types::*;
use crate::{alloc as a, free as f};
use core::ffi::c_void;
use libc::c_char;

#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    a::malloc(size) as *mut c_void
}
#[no_mangle]
pub extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    mi_calloc(count, size)
}
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, newsize: usize) -> *mut c_void {
    mi_realloc(p, newsize)
}
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    f::free(p as *mut u8)
}
#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    mi_free(p)
}
#[no_mangle]
pub unsafe extern "C" fn vfree(p: *mut c_void) {
    mi_free(p)
}
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    p: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> libc::c_int {
    mi_posix_memalign(p, alignment, size)
}
#[no_mangle]
pub extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    mi_memalign(alignment, size)
}
#[no_mangle]
pub extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    mi_aligned_alloc(alignment, size)
}
/// Note the (alignment, size) order, as mimalloc 2.1.7 exports it.
#[no_mangle]
pub extern "C" fn _aligned_malloc(alignment: usize, size: usize) -> *mut c_void {
    mi_aligned_alloc(alignment, size)
}
#[no_mangle]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    mi_valloc(size)
}
#[no_mangle]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    mi_pvalloc(size)
}
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *const c_void) -> usize {
    mi_usable_size(p)
}
#[no_mangle]
pub unsafe extern "C" fn malloc_size(p: *const c_void) -> usize {
    mi_usable_size(p)
}
#[no_mangle]
pub extern "C" fn malloc_good_size(size: usize) -> usize {
    mi_good_size(size)
}
#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    mi_reallocarray(p, count, size)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub unsafe extern "C" fn reallocarr(p: *mut c_void, count: usize, size: usize) -> libc::c_int {
    mi_reallocarr(p, count, size)
}
#[no_mangle]
pub unsafe extern "C" fn reallocf(p: *mut c_void, newsize: usize) -> *mut c_void {
    mi_reallocf(p, newsize)
}
#[no_mangle]
pub unsafe extern "C" fn strdup(s: *const c_char) -> *mut c_char {
    mi_strdup(s)
}
#[no_mangle]
pub unsafe extern "C" fn strndup(s: *const c_char, n: usize) -> *mut c_char {
    mi_strndup(s, n)
}

// glibc's internal names, for code that calls them directly.
#[no_mangle]
pub extern "C" fn __libc_malloc(size: usize) -> *mut c_void {
    mi_malloc(size)
}
#[no_mangle]
pub extern "C" fn __libc_calloc(count: usize, size: usize) -> *mut c_void {
    mi_calloc(count, size)
}
#[no_mangle]
pub unsafe extern "C" fn __libc_realloc(p: *mut c_void, newsize: usize) -> *mut c_void {
    mi_realloc(p, newsize)
}
#[no_mangle]
pub unsafe extern "C" fn __libc_free(p: *mut c_void) {
    mi_free(p)
}
#[no_mangle]
pub unsafe extern "C" fn __libc_cfree(p: *mut c_void) {
    mi_free(p)
}
#[no_mangle]
pub extern "C" fn __libc_valloc(size: usize) -> *mut c_void {
    mi_valloc(size)
}
#[no_mangle]
pub extern "C" fn __libc_pvalloc(size: usize) -> *mut c_void {
    mi_pvalloc(size)
}
#[no_mangle]
pub extern "C" fn __libc_memalign(alignment: usize, size: usize) -> *mut c_void {
    mi_memalign(alignment, size)
}
#[no_mangle]
pub unsafe extern "C" fn __posix_memalign(
    p: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> libc::c_int {
    mi_posix_memalign(p, alignment, size)
}

// C++ operators (Itanium ABI, 64-bit: size_t = m, std::align_val_t = St11align_val_t).
#[no_mangle]
pub unsafe extern "C" fn _ZdlPv(p: *mut c_void) {
    f::free(p as *mut u8)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPv(p: *mut c_void) {
    f::free(p as *mut u8)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdlPvm(p: *mut c_void, size: usize) {
    f::free_size(p as *mut u8, size)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPvm(p: *mut c_void, size: usize) {
    f::free_size(p as *mut u8, size)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdlPvSt11align_val_t(p: *mut c_void, alignment: usize) {
    mi_free_aligned(p, alignment)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPvSt11align_val_t(p: *mut c_void, alignment: usize) {
    mi_free_aligned(p, alignment)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdlPvmSt11align_val_t(p: *mut c_void, size: usize, alignment: usize) {
    mi_free_size_aligned(p, size, alignment)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPvmSt11align_val_t(p: *mut c_void, size: usize, alignment: usize) {
    mi_free_size_aligned(p, size, alignment)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdlPvRKSt9nothrow_t(p: *mut c_void, _nt: *const c_void) {
    mi_free(p)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPvRKSt9nothrow_t(p: *mut c_void, _nt: *const c_void) {
    mi_free(p)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdlPvSt11align_val_tRKSt9nothrow_t(
    p: *mut c_void,
    alignment: usize,
    _nt: *const c_void,
) {
    mi_free_aligned(p, alignment)
}
#[no_mangle]
pub unsafe extern "C" fn _ZdaPvSt11align_val_tRKSt9nothrow_t(
    p: *mut c_void,
    alignment: usize,
    _nt: *const c_void,
) {
    mi_free_aligned(p, alignment)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _Znwm(size: usize) -> *mut c_void {
    crate::posix::new(size) as *mut c_void
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _Znam(size: usize) -> *mut c_void {
    crate::posix::new(size) as *mut c_void
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnwmRKSt9nothrow_t(size: usize, _nt: *const c_void) -> *mut c_void {
    mi_new_nothrow(size)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnamRKSt9nothrow_t(size: usize, _nt: *const c_void) -> *mut c_void {
    mi_new_nothrow(size)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnwmSt11align_val_t(size: usize, alignment: usize) -> *mut c_void {
    mi_new_aligned(size, alignment)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnamSt11align_val_t(size: usize, alignment: usize) -> *mut c_void {
    mi_new_aligned(size, alignment)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnwmSt11align_val_tRKSt9nothrow_t(
    size: usize,
    alignment: usize,
    _nt: *const c_void,
) -> *mut c_void {
    mi_new_aligned_nothrow(size, alignment)
}
#[cfg(not(feature = "c_shim"))]
#[no_mangle]
pub extern "C" fn _ZnamSt11align_val_tRKSt9nothrow_t(
    size: usize,
    alignment: usize,
    _nt: *const c_void,
) -> *mut c_void {
    mi_new_aligned_nothrow(size, alignment)
}

const _: () = assert!(
    INTPTR_SIZE == 8,
    "the mangled names above are for 64-bit size_t"
);
