//! Allocation: the malloc fast path and its variants (zeroed, counted, re-allocating,
//! string duplication).
//!
//! The fast path reads the thread's default heap, indexes its direct page table by word
//! size, and pops the page's free list; anything else (no free block, large size, first
//! call of a thread) goes to `page::malloc_generic`.

use crate::heap::Heap;
use crate::page::{self, Block, Page};
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
        return page::malloc_generic(heap, size, zero, 0);
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
        let stats = crate::heap::tld_stats(heap);
        let bsize = (*page).block_size;
        if bsize <= MEDIUM_OBJ_SIZE_MAX {
            stats.normal.increase(bsize);
            stats.normal_bins[crate::page_queue::bin(bsize)].increase(1);
        }
        stats.malloc.increase(size - PADDING_SIZE);
    }
    p
}

/// The padding trailer: a canary derived from the page keys and the distance from the
/// requested size to the end of the block, plus fill bytes after the request.
#[repr(C)]
pub struct Padding {
    pub canary: u32,
    pub delta: u32,
}

#[inline]
/// # Safety
/// `page` must be a live page.
pub unsafe fn padding_canary(page: *const Page, block: *const Block) -> u32 {
    page::ptr_encode(page as usize, block as *mut Block, &(*page).keys) as u32
}

/// The fill pattern as a word.
pub(crate) const PADDING_WORD: u64 = u64::from_ne_bytes([DEBUG_PADDING; 8]);

/// The bytes `0..n` of a little-endian word (`n <= 8`), without a shift by 64.
const fn low_bytes(n: usize) -> u64 {
    ((1u64 << (4 * n)) << (4 * n)).wrapping_sub(1)
}

/// `FILL_MASKS[d]`: which bytes of the 16-byte fill window (see `fill_window`) are fill
/// when `min(delta, 16) == d`, as masks of its two little-endian words.
static FILL_MASKS: [(u64, u64); MAX_ALIGN_SIZE + 1] = {
    let mut t = [(0u64, 0u64); MAX_ALIGN_SIZE + 1];
    let mut d = 0;
    while d <= MAX_ALIGN_SIZE {
        t[d] = if d < 8 {
            (!low_bytes(8 - d), 0) // the window starts 8 - d bytes before the fill
        } else {
            (!0, low_bytes(d - 8)) // the window starts at the fill
        };
        d += 1;
    }
    t
};

/// Where the fill bytes of a padded block are: the bytes `req..req + min(delta, 16)`
/// (`req = bsize - delta`), as a 16-byte window inside the block and a byte mask for
/// each of its two words. The window starts at `req` when `delta >= 8` (then it ends at
/// most at the block's end, the trailer included) and 8 bytes before the trailer
/// otherwise, so writing and checking the fill are branch-free word operations: with
/// random request sizes, loops over the fill bytes mispredict on almost every call.
///
/// # Safety
/// `block` must be a block whose usable size `bsize >= 8` precedes an 8-byte trailer,
/// and `delta <= bsize`.
#[inline(always)]
unsafe fn fill_window(block: *const Block, bsize: usize, delta: usize) -> (*mut u8, u64, u64) {
    debug_assert!(bsize >= INTPTR_SIZE && delta <= bsize);
    let (lo, hi) = FILL_MASKS[delta.min(MAX_ALIGN_SIZE)];
    ((block as *mut u8).add(bsize - delta.max(8)), lo, hi)
}

/// The two words of the fill window, each XORed with the pattern and masked: the bits
/// of fill bytes that changed.
///
/// # Safety
/// As `fill_window`.
#[inline(always)]
unsafe fn fill_changes(block: *const Block, bsize: usize, delta: usize) -> (*mut u8, u64, u64) {
    let (at, lo, hi) = fill_window(block, bsize, delta);
    let w0 = u64::from_le(ptr::read_unaligned(at as *const u64));
    let w1 = u64::from_le(ptr::read_unaligned(at.add(8) as *const u64));
    (at, (w0 ^ PADDING_WORD) & lo, (w1 ^ PADDING_WORD) & hi)
}

/// Write the fill after a request of `bsize - delta` bytes. Bytes of the window outside
/// the fill (the end of the request, the trailer) keep their value, so a zeroed request
/// stays zero.
///
/// # Safety
/// As `fill_window`; the window must be writable.
#[inline(always)]
pub(crate) unsafe fn write_fill(block: *mut Block, bsize: usize, delta: usize) {
    let (at, lo, hi) = fill_window(block, bsize, delta);
    let w0 = u64::from_le(ptr::read_unaligned(at as *const u64));
    let w1 = u64::from_le(ptr::read_unaligned(at.add(8) as *const u64));
    ptr::write_unaligned(at as *mut u64, ((w0 & !lo) | (PADDING_WORD & lo)).to_le());
    ptr::write_unaligned(
        at.add(8) as *mut u64,
        ((w1 & !hi) | (PADDING_WORD & hi)).to_le(),
    );
}

/// `write_fill` for a request whose bytes are undefined: the whole window is set to the
/// pattern (the request's tail in it too), with no read and no masks.
///
/// # Safety
/// As `fill_window`; the window must be writable and its bytes outside the fill need
/// not be kept (the trailer is written afterwards).
#[inline(always)]
unsafe fn overwrite_fill(block: *mut Block, bsize: usize, delta: usize) {
    let (at, _, _) = fill_window(block, bsize, delta); // (the unused mask load folds away)
    ptr::write_unaligned(at as *mut [u64; 2], [PADDING_WORD; 2]);
}

/// Whether the fill written by `write_fill` is unchanged (one branch-free test).
///
/// # Safety
/// As `fill_window`.
#[inline(always)]
pub(crate) unsafe fn fill_is_intact(block: *const Block, bsize: usize, delta: usize) -> bool {
    let (_, x0, x1) = fill_changes(block, bsize, delta);
    x0 | x1 == 0
}

/// The offset from `block` of the first changed fill byte, if any (for reports).
///
/// # Safety
/// As `fill_window`.
pub(crate) unsafe fn first_changed_fill(
    block: *const Block,
    bsize: usize,
    delta: usize,
) -> Option<usize> {
    let (at, x0, x1) = fill_changes(block, bsize, delta);
    let in_window = if x0 != 0 {
        x0.trailing_zeros() as usize / 8
    } else if x1 != 0 {
        8 + x1.trailing_zeros() as usize / 8
    } else {
        return None;
    };
    Some(at as usize - block as usize + in_window)
}

/// Write the trailer and the fill after a request of `req` bytes.
///
/// # Safety
/// `block` must be a block of `page` in use, `req <= page.usable_block_size()`, and
/// `page` a page of a padding build. Unless `keep`, the request's bytes are undefined
/// and may be overwritten.
#[inline]
pub(crate) unsafe fn write_padding(page: *mut Page, block: *mut Block, req: usize, keep: bool) {
    let bsize = (*page).usable_block_size();
    let delta = bsize - req;
    // Fill first: its window may overlap the trailer.
    if keep {
        write_fill(block, bsize, delta);
    } else {
        overwrite_fill(block, bsize, delta);
    }
    let pad = (block as *mut u8).add(bsize) as *mut Padding;
    ptr::write_unaligned(
        pad,
        Padding {
            canary: padding_canary(page, block),
            delta: delta as u32,
        },
    );
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
    page::malloc_generic(
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
            let seg = crate::segment::ptr_segment(p);
            let page = crate::segment::page_of(seg, p);
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
    let seg = crate::segment::ptr_segment(p);
    let page = crate::segment::page_of(seg, p);
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
    if !resolved.is_null() {
        return libc::realpath(fname, resolved);
    }
    let mut buf = [0 as libc::c_char; libc::PATH_MAX as usize + 1];
    let r = libc::realpath(fname, buf.as_mut_ptr());
    if r.is_null() {
        return ptr::null_mut();
    }
    heap_strdup(heap, buf.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER: u8 = 0x11;

    /// Room for a fake block of up to 112 usable bytes and its 8-byte trailer, 8-aligned,
    /// after 8 guard bytes; every byte outside the fill must keep its value.
    struct Fake {
        buf: [u64; 16],
    }

    impl Fake {
        fn new() -> Fake {
            let mut f = Fake { buf: [0; 16] };
            for b in f.bytes_mut() {
                *b = OTHER;
            }
            f
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            // SAFETY: a plain array of words viewed as bytes.
            unsafe { core::slice::from_raw_parts_mut(self.buf.as_mut_ptr() as *mut u8, 128) }
        }
        fn block(&mut self) -> *mut Block {
            // 8 guard bytes before the block
            // SAFETY: within `buf`.
            unsafe { (self.buf.as_mut_ptr() as *mut u8).add(8) as *mut Block }
        }
    }

    /// Both fill writers set exactly the fill bytes; `write_fill` keeps every other byte,
    /// `overwrite_fill` every byte outside the block and its trailer.
    #[test]
    fn fill_covers_exactly_the_bytes_after_the_request() {
        type Writer = unsafe fn(*mut Block, usize, usize);
        for (write, keeps_block) in [(write_fill as Writer, true), (overwrite_fill, false)] {
            for bsize in [8usize, 16, 24, 40, 64, 104] {
                for delta in 0..=bsize {
                    let mut f = Fake::new();
                    let block = f.block();
                    // SAFETY: the fake block has bsize + 8 bytes inside `buf`.
                    unsafe { write(block, bsize, delta) };
                    let req = bsize - delta;
                    let fill = delta.min(MAX_ALIGN_SIZE);
                    for (i, &b) in f.bytes_mut().iter().enumerate() {
                        let off = i as isize - 8;
                        let what =
                            format!("keeps {keeps_block} bsize {bsize} delta {delta} byte {off}");
                        if off >= req as isize && off < (req + fill) as isize {
                            assert_eq!(b, DEBUG_PADDING, "{what}");
                        } else if keeps_block || off < 0 || off >= bsize as isize + 8 {
                            assert_eq!(b, OTHER, "{what}");
                        }
                    }
                    // SAFETY: as above.
                    unsafe {
                        assert!(fill_is_intact(block, bsize, delta));
                        assert_eq!(first_changed_fill(block, bsize, delta), None);
                    }
                }
            }
        }
    }

    #[test]
    fn every_changed_fill_byte_is_found_at_its_offset() {
        for bsize in [8usize, 16, 24, 40, 104] {
            for delta in 0..=bsize {
                let req = bsize - delta;
                let fill = delta.min(MAX_ALIGN_SIZE);
                for k in 0..fill {
                    let mut f = Fake::new();
                    let block = f.block();
                    // SAFETY: the fake block has bsize + 8 bytes inside `buf`.
                    unsafe { write_fill(block, bsize, delta) };
                    f.bytes_mut()[8 + req + k] = 0;
                    // a second change further on must not hide the first
                    if k + 1 < fill {
                        f.bytes_mut()[8 + req + fill - 1] = 1;
                    }
                    // SAFETY: as above.
                    unsafe {
                        assert!(
                            !fill_is_intact(block, bsize, delta),
                            "bsize {bsize} delta {delta} k {k}"
                        );
                        assert_eq!(first_changed_fill(block, bsize, delta), Some(req + k));
                    }
                }
                // Writes inside the request or to the trailer are not fill changes.
                let mut f = Fake::new();
                let block = f.block();
                // SAFETY: as above.
                unsafe { write_fill(block, bsize, delta) };
                if req > 0 {
                    f.bytes_mut()[8 + req - 1] = 0;
                }
                f.bytes_mut()[8 + bsize] = 0;
                // SAFETY: as above.
                unsafe { assert!(fill_is_intact(block, bsize, delta)) };
            }
        }
    }
}
