//! The Rust global allocator: `#[global_allocator] static GLOBAL: MiMalloc = MiMalloc;`.

use crate::types::*;
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
        if layout.align() <= MAX_ALIGN_SIZE && layout.align() <= layout.size() {
            crate::alloc::malloc(layout.size())
        } else {
            crate::posix::malloc_aligned(layout.size(), layout.align())
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MAX_ALIGN_SIZE && layout.align() <= layout.size() {
            crate::alloc::zalloc(layout.size())
        } else {
            crate::aligned::heap_malloc_zero_aligned_at(
                crate::init::get_default_heap(),
                layout.size(),
                layout.align(),
                0,
                true,
            )
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        crate::free::free(ptr)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let heap = crate::init::get_default_heap();
        if layout.align() <= MAX_ALIGN_SIZE && layout.align() <= new_size {
            crate::alloc::heap_realloc_zero(heap, ptr, new_size, false)
        } else {
            crate::aligned::heap_realloc_zero_aligned_at(
                heap,
                ptr,
                new_size,
                layout.align(),
                0,
                false,
            )
        }
    }
}
