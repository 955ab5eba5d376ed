//! Allocation: the malloc fast path and its variants (zeroed, counted, re-allocating,
//! string duplication).
//!
//! The fast path reads the thread's default heap, indexes its direct page table by word
//! size, and pops the page's free list; anything else (no free block, large size, first
//! call of a thread) goes to `page::malloc_generic`.

use crate::padding::write_padding;
use crate::page;
use crate::state::{Block, Heap, Page};
use crate::types::*;
use core::ptr;

/// Pop a block from `page` (falling back to the slow path when its free list is empty)
/// and apply the build's extras: zeroing, debug fill, padding canary.
///
/// # Safety
/// `page` must be a page of `heap` (or the empty page), `size` the request + padding.
#[inline(always)]
pub unsafe fn page_malloc(heap: *mut Heap, page: *mut Page, size: usize, zero: bool) -> *mut u8 {
    let block = (*page).free;
    if block.is_null() {
        return malloc_generic(heap, size, zero, 0);
    }
    let next = page::block_next_unchecked(page, block);
    if !page::link_is_valid(page, next) {
        // (a tail call: the fast path then needs no saved registers)
        return page_malloc_corrupted(heap, page, block, next, size, zero);
    }
    (*page).free = next;
    if SECURE > 0 {
        // The free list is in random order, so the hardware cannot guess where the next
        // pop reads: start loading its link now.
        crate::prim::prefetch(next as *const u8);
    }
    page_malloc_finish(heap, page, block, size, zero)
}

/// `page_malloc` found the link of the block it pops corrupted: report it, drop the
/// rest of the free list (the page's other lists and unused capacity still serve), and
/// hand out the block, which was itself on the free list.
///
/// # Safety
/// As `page_malloc`; `block` is the head of `page`'s free list and `next` its link.
#[cold]
#[inline(never)]
unsafe fn page_malloc_corrupted(
    heap: *mut Heap,
    page: *mut Page,
    block: *mut Block,
    next: *mut Block,
    size: usize,
    zero: bool,
) -> *mut u8 {
    page::block_next_corrupted(page, block, next);
    (*page).free = ptr::null_mut();
    page_malloc_finish(heap, page, block, size, zero)
}

/// The rest of `page_malloc` once `block` is off the free list.
///
/// # Safety
/// As `page_malloc`; `block` was just popped from `page`'s free list.
#[inline(always)]
unsafe fn page_malloc_finish(
    heap: *mut Heap,
    page: *mut Page,
    block: *mut Block,
    size: usize,
    zero: bool,
) -> *mut u8 {
    (*page).used += 1;
    let p = block as *mut u8;
    if crate::track::ENABLED {
        crate::track::mem_undefined(p, (*page).block_size);
    }
    if zero {
        if (*page).free_is_zero {
            (*block).next = 0;
        } else {
            ptr::write_bytes(p, 0, (*page).usable_block_size());
        }
    } else if DEBUG > 0 && !(*page).is_huge {
        ptr::write_bytes(p, DEBUG_UNINIT, (*page).usable_block_size());
    } else if SECURE > 0 {
        // Do not leak the (encoded) free-list link.
        (*block).next = 0;
    }
    if PADDING {
        // A fresh request's bytes are undefined unless zeroed (or debug-filled), so the
        // fill may overwrite its tail instead of blending with it.
        let keep = zero || DEBUG > 0;
        write_padding(page, block, size - PADDING_SIZE, keep);
    }
    if crate::track::ENABLED {
        let req = if PADDING {
            size - PADDING_SIZE
        } else {
            (*page).usable_block_size()
        };
        crate::track::malloc(p, req, zero);
        crate::track::mem_noaccess(p.add(req), (*page).block_size - req);
    }
    if DEBUG > 0 {
        let stats = crate::state::tld_stats(heap);
        let bsize = (*page).block_size;
        if bsize <= MEDIUM_OBJ_SIZE_MAX {
            stats.normal.increase(bsize);
            stats.normal_bins[crate::state::bin(bsize)].increase(1);
        }
        stats.malloc.increase(size - PADDING_SIZE);
    }
    p
}

/// The allocation slow path: initialise the thread if needed, run deferred work, find
/// or make a page with a free block, and allocate from it. `size` includes padding.
/// Sets errno to ENOMEM and returns null on failure. (C has it in `page.c`; it drives
/// the heap, collection and deferred frees, so it lives here, above the heap layer.)
///
/// # Safety
/// `heap` must be the calling thread's heap (or the empty heap).
#[cold]
#[inline(never)]
pub(crate) unsafe fn malloc_generic(
    heap: *mut Heap,
    size: usize,
    zero: bool,
    huge_alignment: usize,
) -> *mut u8 {
    let mut heap = heap;
    if !crate::state::is_initialized(heap) {
        heap = crate::init::heap_get_default();
        if !crate::state::is_initialized(heap) {
            set_errno(ENOMEM);
            return ptr::null_mut();
        }
    }
    crate::heap::deferred_free(heap, false);
    crate::heap::delayed_free_partial(heap);

    let mut page = crate::page_alloc::find_page(heap, size, huge_alignment);
    if page.is_null() {
        // Free what we can and try once more.
        crate::heap::collect(heap, true);
        page = crate::page_alloc::find_page(heap, size, huge_alignment);
    }
    if page.is_null() {
        let req_size = size.saturating_sub(PADDING_SIZE);
        crate::mi_error!(ENOMEM, "unable to allocate memory ({} bytes)", req_size);
        set_errno(ENOMEM);
        return ptr::null_mut();
    }
    debug_assert!((*page).immediate_available());
    if zero && (*page).is_huge {
        // Huge blocks may be only partly dirty: zero after allocating, skipping the
        // memory that is known to be fresh.
        let p = page_malloc(heap, page, size, false);
        if !(*page).is_zero_init {
            // Only what the caller may use: in padding builds the trailer follows.
            let n = if PADDING {
                size - PADDING_SIZE
            } else {
                (*page).usable_block_size()
            };
            ptr::write_bytes(p, 0, n);
        } else {
            (*(p as *mut Block)).next = 0;
        }
        p
    } else {
        page_malloc(heap, page, size, zero)
    }
}

/// Allocate a small block (`size <= SMALL_SIZE_MAX`) from `heap`.
///
/// # Safety
/// `heap` must be the calling thread's heap or the empty heap.
#[inline(always)]
pub unsafe fn heap_malloc_small_zero(heap: *mut Heap, size: usize, zero: bool) -> *mut u8 {
    debug_assert!(size <= SMALL_SIZE_MAX);
    let size = if PADDING && size == 0 {
        INTPTR_SIZE
    } else {
        size
    };
    let padsize = size + PADDING_SIZE;
    let page = (*heap).pages_free_direct[wsize_from_size(padsize)];
    page_malloc(heap, page, padsize, zero)
}

/// Allocate `size` bytes from `heap`.
///
/// # Safety
/// `heap` must be the calling thread's heap or the empty heap.
#[inline(always)]
pub unsafe fn heap_malloc_zero(heap: *mut Heap, size: usize, zero: bool) -> *mut u8 {
    if size <= SMALL_SIZE_MAX {
        heap_malloc_small_zero(heap, size, zero)
    } else {
        heap_malloc_zero_ex(heap, size, zero, 0)
    }
}

/// The general case, also used for huge alignments.
///
/// # Safety
/// As `heap_malloc_zero`.
#[inline(never)]
pub unsafe fn heap_malloc_zero_ex(
    heap: *mut Heap,
    size: usize,
    zero: bool,
    huge_alignment: usize,
) -> *mut u8 {
    let size = if PADDING && size == 0 {
        INTPTR_SIZE
    } else {
        size
    };
    // Requests above MAX_ALLOC_SIZE are reported by the slow path (after a collection
    // and a retry, like mimalloc); saturate so the size stays recognisable.
    malloc_generic(
        heap,
        size.saturating_add(PADDING_SIZE),
        zero,
        huge_alignment,
    )
}

/// `mi_malloc`: the calling thread's default heap.
#[inline(always)]
pub fn malloc(size: usize) -> *mut u8 {
    // SAFETY: the default heap of the calling thread.
    unsafe { heap_malloc_zero(crate::init::get_default_heap(), size, false) }
}

#[inline(always)]
pub fn zalloc(size: usize) -> *mut u8 {
    // SAFETY: as in `malloc`.
    unsafe { heap_malloc_zero(crate::init::get_default_heap(), size, true) }
}

/// Report a `count * size` overflow: NULL with ENOMEM (and a message in debug builds).
#[cold]
pub fn count_size_overflow(count: usize, size: usize) -> *mut u8 {
    if DEBUG > 0 {
        crate::mi_error!(
            EOVERFLOW,
            "allocation request is too large ({} * {} bytes)",
            count,
            size
        );
    }
    set_errno(ENOMEM);
    ptr::null_mut()
}

/// # Safety
/// `heap` must be the calling thread's heap.
pub unsafe fn heap_calloc(heap: *mut Heap, count: usize, size: usize) -> *mut u8 {
    match mul_overflow(count, size) {
        Some(total) => heap_malloc_zero(heap, total, true),
        None => count_size_overflow(count, size),
    }
}

/// # Safety
/// `heap` must be the calling thread's heap.
pub unsafe fn heap_mallocn(heap: *mut Heap, count: usize, size: usize) -> *mut u8 {
    match mul_overflow(count, size) {
        Some(total) => heap_malloc_zero(heap, total, false),
        None => count_size_overflow(count, size),
    }
}

// --- re-allocation -------------------------------------------------------------------------

/// `mi_realloc` semantics on `heap`: keep the block if the new size fits and is not
/// less than half; otherwise allocate, copy and free. `realloc(p, 0)` returns a fresh
/// minimal block. On failure returns null and leaves `p` untouched.
///
/// # Safety
/// `heap` must be the calling thread's heap; `p` null or a live block.
pub unsafe fn heap_realloc_zero(
    heap: *mut Heap,
    p: *mut u8,
    newsize: usize,
    zero: bool,
) -> *mut u8 {
    let size = crate::free::usable_size(p);
    if newsize <= size && newsize >= size / 2 && newsize > 0 {
        // (padding builds keep the old exact size, as mimalloc does)
        crate::track::resize(p, size, newsize);
        return p;
    }
    if PADDING && newsize > size && !p.is_null() && grow_in_block(p, size, newsize, zero) {
        return p;
    }
    if !p.is_null()
        && newsize > size
        && size > MEDIUM_OBJ_SIZE_MAX
        && !zero
        && crate::segment::try_grow_large(p, newsize + PADDING_SIZE)
    {
        crate::track::resize(p, size, newsize);
        if PADDING {
            let seg = crate::state::ptr_segment(p);
            let page = crate::state::page_of(seg, p);
            crate::track::mem_undefined(p.add(newsize), (*page).block_size - newsize);
            write_padding(page, p as *mut Block, newsize, true);
            crate::track::mem_noaccess(p.add(newsize), (*page).block_size - newsize);
        }
        return p;
    }
    let newp = heap_malloc_zero(heap, newsize, false);
    if newp.is_null() {
        return ptr::null_mut();
    }
    if zero && newsize > size {
        // Zero the tail up to the end of the usable block, so that a later zeroing
        // re-allocation can rely on it (and the last word of the copied part, which may
        // be padding).
        let start = size.saturating_sub(INTPTR_SIZE);
        let end = crate::free::usable_size(newp).max(newsize);
        ptr::write_bytes(newp.add(start), 0, end - start);
    } else if newsize == 0 {
        *newp = 0; // programs expect zero-size reallocations to be zeroed
    }
    if !p.is_null() {
        let copy = size.min(newsize);
        ptr::copy_nonoverlapping(p, newp, copy);
        crate::free::free(p);
    }
    newp
}

/// Padding builds: `mi_usable_size` is the exact request, so growing a block would
/// always copy. Instead, while the new size fits the block, move the trailer and fill
/// (zeroing the added bytes for the zeroing variants).
///
/// # Safety
/// `p` must be a live block of ours with `usable_size(p) == size < newsize`.
#[cold]
unsafe fn grow_in_block(p: *mut u8, size: usize, newsize: usize, zero: bool) -> bool {
    let seg = crate::state::ptr_segment(p);
    let page = crate::state::page_of(seg, p);
    let block = if (*page).has_aligned() {
        crate::free::page_ptr_unalign(page, p)
    } else {
        p as *mut Block
    };
    let offset = p as usize - block as usize;
    let bsize = (*page).usable_block_size();
    if offset + newsize > bsize {
        return false;
    }
    crate::track::mem_undefined(p.add(size), (*page).block_size - offset - size);
    crate::track::resize(p, size, newsize);
    if zero {
        ptr::write_bytes(p.add(size), 0, newsize - size);
    }
    write_padding(page, block, offset + newsize, true);
    crate::track::mem_noaccess(p.add(newsize), (*page).block_size - offset - newsize);
    true
}

// --- strings -------------------------------------------------------------------------------

/// # Safety
/// `s` must be null or a NUL-terminated string; `heap` the calling thread's heap.
pub unsafe fn heap_strdup(heap: *mut Heap, s: *const libc::c_char) -> *mut libc::c_char {
    if s.is_null() {
        return ptr::null_mut();
    }
    let n = libc::strlen(s);
    let t = heap_malloc_zero(heap, n + 1, false) as *mut libc::c_char;
    if !t.is_null() {
        ptr::copy_nonoverlapping(s, t, n + 1);
    }
    t
}

/// # Safety
/// `s` must be null or readable up to `n` bytes or its NUL.
pub unsafe fn heap_strndup(heap: *mut Heap, s: *const libc::c_char, n: usize) -> *mut libc::c_char {
    if s.is_null() {
        return ptr::null_mut();
    }
    let len = libc::strnlen(s, n);
    let t = heap_malloc_zero(heap, len + 1, false) as *mut libc::c_char;
    if !t.is_null() {
        ptr::copy_nonoverlapping(s, t, len);
        *t.add(len) = 0;
    }
    t
}

/// `realpath` into our heap.
///
/// # Safety
/// `fname` must be a NUL-terminated path; `resolved` null or a PATH_MAX buffer.
pub unsafe fn heap_realpath(
    heap: *mut Heap,
    fname: *const libc::c_char,
    resolved: *mut libc::c_char,
) -> *mut libc::c_char {
    #[cfg(windows)]
    use crate::prim::realpath;
    #[cfg(not(windows))]
    use libc::{realpath, PATH_MAX};
    #[cfg(windows)]
    const PATH_MAX: i32 = 260; // MAX_PATH
    if !resolved.is_null() {
        return realpath(fname, resolved);
    }
    let mut buf = [0 as libc::c_char; PATH_MAX as usize + 1];
    let r = realpath(fname, buf.as_mut_ptr());
    if r.is_null() {
        return ptr::null_mut();
    }
    heap_strdup(heap, buf.as_ptr())
}
