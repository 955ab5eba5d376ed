//! The Rust global allocator: `#[global_allocator] static GLOBAL: MiMalloc = MiMalloc;`.

use crate::api::{alloc_layout, realloc_layout};
use crate::init::get_default_heap;
use core::alloc::{GlobalAlloc, Layout};

/// mimalloc as the Rust global allocator: every `Box`, `Vec`, `String`, ... of the
/// program comes from the calling thread's default heap.
///
/// ```
/// use mimalloc::MiMalloc;
///
/// #[global_allocator]
/// static GLOBAL: MiMalloc = MiMalloc;
///
/// fn main() {
///     let s = String::from("allocated by mimalloc");
///     // SAFETY: `s`'s buffer is a live block of the global allocator.
///     assert!(unsafe { mimalloc::usable_size(s.as_ptr()) } >= s.len());
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MiMalloc;

// SAFETY: every method returns blocks of at least `layout.size()` bytes aligned to
// `layout.align()` (small power-of-two alignments are natural; others are served by the
// aligned path), or null on failure; `dealloc` accepts exactly those blocks.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the calling thread's default heap.
        unsafe { alloc_layout(get_default_heap(), layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { alloc_layout(get_default_heap(), layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the trait's contract: a live block of this allocator.
        unsafe { crate::free::free(ptr) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the trait's contract; the calling thread's default heap.
        unsafe { realloc_layout(get_default_heap(), ptr, layout.align(), new_size) }
    }
}
