//! `&Heap` as the allocator of collections: `allocator_api2::alloc::Allocator` (crate
//! feature `allocator-api2`, stable Rust; hashbrown and allocator-api2's own `Vec` and
//! `Box` take it) and the standard library's unstable `core::alloc::Allocator` (crate
//! feature `nightly`).
//!
//! ```
//! # #[cfg(feature = "allocator-api2")] {
//! use allocator_api2::vec::Vec;
//!
//! let heap = mimalloc::Heap::new();
//! let mut v = Vec::new_in(&heap);
//! v.extend(0..1000u32);
//! assert!(heap.contains(v.as_ptr() as *const u8));
//! # }
//! ```
//!
//! A collection borrows the heap it allocates from, so the heap cannot be destroyed
//! (or dropped) while the collection lives:
//!
//! ```compile_fail,E0505
//! use allocator_api2::vec::Vec;
//!
//! let heap = mimalloc::Heap::new();
//! let mut v = Vec::new_in(&heap);
//! v.push(1);
//! heap.destroy(); // error[E0505]: cannot move out of `heap` because it is borrowed
//! v.push(2);
//! ```

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use crate::api::{alloc_layout, realloc_layout, Heap};
use crate::free as free_block;

/// The block as a slice of the size asked for.
#[inline]
fn slice(p: *mut u8, layout: Layout) -> Option<NonNull<[u8]>> {
    NonNull::new(p).map(|p| NonNull::slice_from_raw_parts(p, layout.size()))
}

/// Resize the block at `p` (allocated with `old`) for `new`, in place when it can;
/// `zero` zeroes the bytes past the old size. `realloc_layout` moves the block when
/// its address does not have `new`'s alignment.
///
/// # Safety
/// As `Allocator::grow`/`shrink`: `p` is live, allocated by mimalloc with `old`; the
/// heap belongs to the calling thread.
#[inline]
unsafe fn resize(heap: &Heap, p: NonNull<u8>, old: Layout, new: Layout, zero: bool) -> *mut u8 {
    // SAFETY: per the contract.
    unsafe {
        let q = realloc_layout(heap.raw(), p.as_ptr(), new.align(), new.size());
        if zero && !q.is_null() && new.size() > old.size() {
            // (not realloc's own zeroing: it starts at the old usable size, and the bytes
            // between the old size and that are undefined)
            ptr::write_bytes(q.add(old.size()), 0, new.size() - old.size());
        }
        q
    }
}

macro_rules! impl_allocator {
    ($allocator:path, $error:path) => {
        // SAFETY: blocks are valid for their layout until deallocated (by any thread:
        // `free` accepts blocks of every heap); `Heap` is `!Send`/`!Sync`, so `&Heap`
        // allocates only on the heap's own thread; the borrow keeps the heap alive
        // while any collection using it is alive.
        unsafe impl $allocator for &Heap {
            #[inline]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the heap is live and belongs to this thread.
                slice(unsafe { alloc_layout(self.raw(), layout, false) }, layout).ok_or($error)
            }

            #[inline]
            fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: as in `allocate`.
                slice(unsafe { alloc_layout(self.raw(), layout, true) }, layout).ok_or($error)
            }

            #[inline]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
                // SAFETY: the trait's contract: `ptr` is a live block from this allocator.
                unsafe { free_block::free(ptr.as_ptr()) }
            }

            #[inline]
            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the trait's contract.
                slice(unsafe { resize(self, ptr, old, new, false) }, new).ok_or($error)
            }

            #[inline]
            unsafe fn grow_zeroed(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the trait's contract.
                slice(unsafe { resize(self, ptr, old, new, true) }, new).ok_or($error)
            }

            #[inline]
            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old: Layout,
                new: Layout,
            ) -> Result<NonNull<[u8]>, $error> {
                // SAFETY: the trait's contract.
                slice(unsafe { resize(self, ptr, old, new, false) }, new).ok_or($error)
            }
        }
    };
}

#[cfg(feature = "allocator-api2")]
impl_allocator!(
    allocator_api2::alloc::Allocator,
    allocator_api2::alloc::AllocError
);

#[cfg(feature = "nightly")]
impl_allocator!(core::alloc::Allocator, core::alloc::AllocError);
