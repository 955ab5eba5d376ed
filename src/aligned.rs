//! Aligned allocation: blocks whose address (plus an offset) is a multiple of a power of
//! two. Small blocks of power-of-two bins are naturally aligned; otherwise we
//! over-allocate and return an interior pointer (the page is marked `has_aligned` so
//! `free` finds the block start). Alignments above 16 MiB get a huge segment of their
//! own.

use crate::alloc;
use crate::state::{Block, Heap, Page};
use crate::types::*;
use core::ptr;

/// # Safety
/// `heap` must be the calling thread's heap.
pub unsafe fn heap_malloc_zero_aligned_at(
    heap: *mut Heap,
    size: usize,
    alignment: usize,
    offset: usize,
    zero: bool,
) -> *mut u8 {
    if alignment == 0 || !is_power_of_two(alignment) {
        if DEBUG > 0 {
            crate::mi_error!(EOVERFLOW, "aligned allocation requires the alignment to be a power-of-two (size {}, alignment {})", size, alignment);
        }
        // An invalid argument, not a lack of memory: EINVAL, as POSIX and glibc's
        // `aligned_alloc`/`memalign` report it (`posix_memalign` returns it instead).
        set_errno(EINVAL);
        return ptr::null_mut();
    }
    if size > MAX_ALLOC_SIZE - PADDING_SIZE {
        if DEBUG > 0 {
            crate::mi_error!(
                EOVERFLOW,
                "aligned allocation request is too large (size {}, alignment {})",
                size,
                alignment
            );
        }
        set_errno(ENOMEM);
        return ptr::null_mut();
    }
    let align_mask = alignment - 1;
    let padsize = size + PADDING_SIZE;
    // Fast path: a small block that happens to be aligned already.
    if size <= SMALL_SIZE_MAX && alignment <= size {
        let page: *mut Page = (*heap).pages_free_direct[wsize_from_size(padsize)];
        let is_aligned = ((*page).free as usize + offset) & align_mask == 0;
        if !(*page).free.is_null() && is_aligned {
            return alloc::page_malloc(heap, page, padsize, zero);
        }
    }
    malloc_zero_aligned_at_generic(heap, size, alignment, offset, zero)
}

/// # Safety
/// `heap` must be a heap of the calling thread (or the empty heap), `alignment` a power
/// of two and `size` at most `MAX_ALLOC_SIZE - PADDING_SIZE` (as
/// `heap_malloc_zero_aligned_at` checks before it calls).
#[inline(never)]
unsafe fn malloc_zero_aligned_at_generic(
    heap: *mut Heap,
    size: usize,
    alignment: usize,
    offset: usize,
    zero: bool,
) -> *mut u8 {
    // Naturally aligned: blocks up to 128 KiB are aligned to their (power-of-two part of
    // the) block size.
    if offset == 0 && alignment <= size && alignment <= MAX_ALIGN_GUARANTEE {
        let bsize = crate::state::good_size(size);
        if alignment <= MAX_ALIGN_SIZE
            || (bsize <= MAX_ALIGN_GUARANTEE && bsize & (alignment - 1) == 0)
        {
            let p = alloc::heap_malloc_zero(heap, size, zero);
            if p.is_null() || (p as usize) & (alignment - 1) == 0 {
                return p;
            }
            // Should not happen; fall back to over-allocation.
            crate::free::free(p);
        }
    }
    overalloc(heap, size, alignment, offset, zero)
}

/// # Safety
/// As `malloc_zero_aligned_at_generic`.
unsafe fn overalloc(
    heap: *mut Heap,
    size: usize,
    alignment: usize,
    offset: usize,
    zero: bool,
) -> *mut u8 {
    let p;
    let oversize;
    if alignment > BLOCK_ALIGNMENT_MAX {
        // A dedicated huge segment whose block can hold an aligned pointer.
        if offset != 0 {
            crate::mi_error!(EOVERFLOW, "aligned allocation with a very large alignment cannot be used with an alignment offset (size {}, alignment {}, offset {})", size, alignment, offset);
            set_errno(ENOMEM);
            return ptr::null_mut();
        }
        oversize = if size <= SMALL_SIZE_MAX {
            SMALL_SIZE_MAX + 1
        } else {
            size
        };
        p = alloc::heap_malloc_zero_ex(heap, oversize, zero, alignment);
    } else {
        oversize = size + alignment - 1;
        p = alloc::heap_malloc_zero(heap, oversize, zero);
    }
    if p.is_null() {
        return ptr::null_mut();
    }
    let align_mask = alignment - 1;
    let poffset = (p as usize + offset) & align_mask;
    let adjust = if poffset == 0 { 0 } else { alignment - poffset };
    let aligned = p.add(adjust);
    if aligned != p {
        let seg = crate::state::ptr_segment(p);
        let page = crate::state::page_of(seg, p);
        (*page).set_has_aligned(true);
        if PADDING {
            // Record the request relative to the block start so overflow checks work.
            let bsize = (*page).usable_block_size();
            let old_req = oversize.min(bsize);
            crate::track::mem_undefined(p.add(old_req), (*page).block_size - old_req);
            if zero {
                // The fill bytes written after the over-allocated request may now lie
                // inside the caller's (zeroed) range.
                ptr::write_bytes(p.add(old_req), 0, (bsize - old_req).min(16));
            }
            let req = (adjust + size).min(bsize);
            crate::padding::write_padding(page, p as *mut Block, req, true);
            if crate::track::ENABLED {
                crate::track::resize(p, old_req, req);
                crate::track::mem_noaccess(p.add(req), (*page).block_size - req);
            }
        }
    }
    debug_assert!((aligned as usize + offset) & align_mask == 0);
    aligned
}

/// # Safety
/// `heap` must be the calling thread's heap; `p` null or a live block.
pub unsafe fn heap_realloc_zero_aligned_at(
    heap: *mut Heap,
    p: *mut u8,
    newsize: usize,
    alignment: usize,
    offset: usize,
    zero: bool,
) -> *mut u8 {
    if alignment <= INTPTR_SIZE {
        return alloc::heap_realloc_zero(heap, p, newsize, zero);
    }
    if p.is_null() {
        return heap_malloc_zero_aligned_at(heap, newsize, alignment, offset, zero);
    }
    let size = crate::free::usable_size(p);
    if newsize <= size && newsize >= size - size / 2 && (p as usize + offset) % alignment == 0 {
        return p;
    }
    let newp = heap_malloc_zero_aligned_at(heap, newsize, alignment, offset, false);
    if newp.is_null() {
        return ptr::null_mut();
    }
    if zero && newsize > size {
        // Up to the end of the usable block (see `alloc::heap_realloc_zero`).
        let start = size.saturating_sub(INTPTR_SIZE);
        let end = crate::free::usable_size(newp).max(newsize);
        ptr::write_bytes(newp.add(start), 0, end - start);
    }
    ptr::copy_nonoverlapping(p, newp, size.min(newsize));
    crate::free::free(p);
    newp
}

/// # Safety
/// As `heap_realloc_zero_aligned_at`.
pub unsafe fn heap_realloc_zero_aligned(
    heap: *mut Heap,
    p: *mut u8,
    newsize: usize,
    alignment: usize,
    zero: bool,
) -> *mut u8 {
    if alignment <= INTPTR_SIZE {
        return alloc::heap_realloc_zero(heap, p, newsize, zero);
    }
    let offset = (p as usize) % alignment;
    heap_realloc_zero_aligned_at(heap, p, newsize, alignment, offset, zero)
}
