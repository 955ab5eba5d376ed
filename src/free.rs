//! Freeing: the local fast path (push on the page's `local_free`), the generic local
//! path (full pages, aligned blocks), and the cross-thread path (one CAS on the page's
//! `xthread_free`, or the owning heap's delayed list for full pages).

use crate::heap;
use crate::page;
use crate::segment;
use crate::state::{Block, Delayed, Heap, Page, Segment, SegmentKind};
use crate::sync::{thread_id, Ordering};
use crate::types::*;
use core::ptr;

/// Whether frees validate their pointer (segment, block start, double free): debug
/// builds and secure level 4.
const CHECKED: bool = DEBUG > 0 || SECURE >= 4;

/// Checked padding builds let the padding canary vouch for the block start: a pointer
/// into the middle of a block finds no valid canary one block size further, so the
/// division by the block size is only needed to word the report. (Tracking builds use
/// the division: their block-tail accesses must stay inside the block.)
const START_BY_CANARY: bool = CHECKED && PADDING && !crate::track::ENABLED;

/// `mi_free`.
///
/// # Safety
/// `p` must be null or a live block of ours (any thread's).
#[inline(always)]
pub unsafe fn free(p: *mut u8) {
    // One test for null and, as in mimalloc, for any pointer whose segment would lie in
    // the first 32 MiB or in the upper half of the address space: no segment of ours is
    // there, so such a pointer is ignored (and the null test costs nothing extra).
    let seg = crate::state::ptr_segment_unchecked(p);
    if !crate::state::seg_may_be_ours(seg) {
        if DEBUG > 0 && (p as usize) & (INTPTR_SIZE - 1) != 0 {
            report_unaligned(p, "mi_free");
        }
        return;
    }
    if CHECKED && !check_pointer(seg, p, "mi_free") {
        return;
    }
    // SAFETY: `p` is (by the caller's contract, verified in checked builds) a pointer
    // into a live segment of ours, so the page lookup is in bounds.
    unsafe {
        let page = crate::state::page_of(seg, p);
        // Relaxed: comparing with our own id; only we could have stored it.
        let is_local = (*seg).thread_id.load(Ordering::Relaxed) == thread_id();
        // (`flags` is atomic: read it once)
        if is_local && (*page).flags() == 0 {
            if !CHECKED && !PADDING {
                // The fast path: not full, no aligned blocks, owned by us.
                let block = p as *mut Block;
                page::block_set_next(page, block, (*page).local_free);
                (*page).local_free = block;
                (*page).used -= 1;
                if (*page).used == 0 {
                    page_retire_cold(page);
                }
            } else {
                // Checked and padding builds: the same case, with the checks of
                // `free_block_local` (which also validate that `p` starts a block).
                free_block_local(page, p as *mut Block, false, true);
            }
        } else {
            free_generic(seg, page, is_local, p);
        }
    }
}

/// # Safety
/// `page` must be owned by the calling thread, linked in its heap's queue, and all free.
#[cold]
#[inline(never)]
unsafe fn page_retire_cold(page: *mut Page) {
    crate::page_alloc::retire(page)
}

/// Free a block of a page owned by the calling thread. In checked builds `block` is
/// only known to lie in `page`'s segment: it is validated here. Every check has a cheap
/// inline test; anything suspicious leaves through one cold call that redoes the checks
/// in full and reports, so the common path needs no saved registers.
///
/// # Safety
/// `page` must be a live page owned by the calling thread and `block` a pointer into its
/// segment (validated here in checked builds; in others it must be a live block of `page`).
#[inline(always)]
unsafe fn free_block_local(page: *mut Page, block: *mut Block, check_full: bool, tracked: bool) {
    if CHECKED && !block_start_plausible(page, block as *const u8, (*page).capacity, false) {
        return free_block_local_checked(page, block, check_full, tracked);
    }
    if crate::track::ENABLED && tracked {
        // Our checks read the whole block (link word, trailer).
        crate::track::mem_defined(block as *const u8, (*page).block_size);
    }
    if (CHECKED && link_may_be_free(page, block)) || (PADDING && !padding_is_intact(page, block)) {
        return free_block_local_checked(page, block, check_full, tracked);
    }
    free_block_local_unchecked(page, block, check_full, tracked)
}

/// `free_block_local` after a cheap test failed: the exact checks, with reports.
///
/// # Safety
/// As `free_block_local`.
#[cold]
#[inline(never)]
unsafe fn free_block_local_checked(
    page: *mut Page,
    block: *mut Block,
    check_full: bool,
    tracked: bool,
) {
    if CHECKED {
        if !block_start_plausible(page, block as *const u8, (*page).capacity, false) {
            report_invalid_block(block as *const u8, "mi_free");
            return;
        }
        if crate::track::ENABLED && tracked {
            crate::track::mem_defined(block as *const u8, (*page).block_size);
        }
        if link_may_be_free(page, block) && is_on_free_list(page, block) {
            return;
        }
    }
    if PADDING && !padding_is_intact(page, block) && !padding_failed(page, block, (*page).capacity)
    {
        return;
    }
    free_block_local_unchecked(page, block, check_full, tracked)
}

/// The part of a local free after the checks.
///
/// # Safety
/// `page` must be a live page owned by the calling thread and `block` a live block of it.
#[inline(always)]
unsafe fn free_block_local_unchecked(
    page: *mut Page,
    block: *mut Block,
    check_full: bool,
    tracked: bool,
) {
    if DEBUG > 0 {
        if tracked {
            // (a block from the delayed list was counted by the thread that freed it)
            free_stats(page, block);
        }
        // Not a huge page (as 2.1.7): its memory may be decommitted already, and filling
        // a block of many GiB would touch all of it.
        if !(*page).is_huge {
            ptr::write_bytes(block as *mut u8, DEBUG_FREED, (*page).usable_block_size());
        }
    }
    if crate::track::ENABLED && tracked {
        crate::track::free(block as *mut u8, (*page).usable_block_size());
        crate::track::mem_noaccess(block as *const u8, (*page).block_size);
    }
    page::block_set_next(page, block, (*page).local_free);
    (*page).local_free = block;
    (*page).used -= 1;
    if (*page).used == 0 {
        crate::page_alloc::retire(page);
    } else if check_full && (*page).is_in_full() {
        crate::page_queue::unfull(page);
    }
}

/// Full pages, pages with aligned blocks, and frees from other threads.
///
/// # Safety
/// `seg` must be the live segment of `p`, `page` the page of `p`, `is_local` whether the
/// calling thread owns the segment, and `p` a pointer into a live block of `page`.
#[cold]
#[inline(never)]
unsafe fn free_generic(seg: *mut Segment, page: *mut Page, is_local: bool, p: *mut u8) {
    if is_local {
        let block = if (*page).has_aligned() {
            page_ptr_unalign(page, p)
        } else {
            p as *mut Block
        };
        free_block_local(page, block, true, true);
    } else {
        // Another thread's page: read only what cannot change while one of its blocks
        // is in use (block size, start, reserved count, the aligned flag); `capacity`
        // is the owner's to change, so the checked bound is `reserved`. The aligned flag
        // was set before any aligned block of the page was handed out, so a pointer
        // into such a block (passed to us with the synchronisation that any hand-over
        // needs) finds it set. Release builds unalign anyway, as mimalloc does (a
        // stray interior pointer then frees its block rather than corrupting the
        // page); checked builds report it: by the canary, or by the exact test.
        let has_aligned = (*page).has_aligned();
        if CHECKED && !block_start_plausible(page, p, (*page).reserved, has_aligned) {
            report_invalid_block(p, "mi_free");
            return;
        }
        let block = if has_aligned || !CHECKED {
            page_ptr_unalign(page, p)
        } else {
            p as *mut Block
        };
        free_block_mt(seg, page, block);
    }
}

/// The start of the block containing `p` (for interior pointers of aligned blocks).
///
/// # Safety
/// `p` must point into a block of `page`.
#[inline]
pub unsafe fn page_ptr_unalign(page: *const Page, p: *const u8) -> *mut Block {
    let diff = (p as usize).wrapping_sub((*page).page_start as usize);
    let bsize = (*page).block_size;
    let adjust = if (*page).block_size_shift != 0 {
        diff & ((1usize << (*page).block_size_shift) - 1)
    } else if diff <= u32::MAX as usize && bsize <= u32::MAX as usize {
        ((diff as u32) % (bsize as u32)) as usize // a 32-bit division is much cheaper
    } else {
        diff % bsize
    };
    p.wrapping_sub(adjust) as *mut Block
}

/// A free from a thread that does not own the page.
///
/// # Safety
/// `seg` must be the live segment of `block` and `page` its page, owned by another thread
/// (or abandoned); `block` a live block of `page` that the caller gives up.
unsafe fn free_block_mt(seg: *mut Segment, page: *mut Page, block: *mut Block) {
    // Free into an abandoned segment: try to take it over and free locally.
    // Relaxed: a hint; `try_reclaim_on_free` claims the segment through the abandoned map.
    if (*seg).thread_id.load(Ordering::Relaxed) == 0 && segment::may_reclaim_on_free(seg) {
        // As 2.1.7, a thread that has not allocated yet gets its heap now: a new thread
        // whose first act is to free what an exited thread left behind takes that
        // memory over and frees locally from then on, instead of freeing remotely into
        // a segment that nobody owns.
        let heap = crate::init::heap_get_default();
        if crate::state::is_initialized(heap) && segment::try_reclaim_on_free(seg, heap) {
            free_block_local(page, block, false, true);
            return;
        }
    }
    if crate::track::ENABLED {
        crate::track::mem_defined(block as *const u8, (*page).block_size);
    }
    // The only check of the trailer: the owner takes the block back unchecked (from the
    // thread-free list, or the heap's delayed list).
    if PADDING && !padding_is_intact(page, block) && !padding_failed(page, block, (*page).reserved)
    {
        return;
    }
    if DEBUG > 0 {
        free_stats(page, block);
    }
    // The bytes the program could use (in padding builds the trailer follows them and
    // is checked again when the owner frees the block locally).
    let usable = if PADDING {
        padded_size(page, block)
    } else {
        (*page).usable_block_size()
    };
    if (*seg).kind == SegmentKind::Huge {
        // Return the memory now; the owner frees the segment when it notices.
        segment::huge_page_reset(block as *mut u8, usable);
    } else if DEBUG > 0 {
        ptr::write_bytes(block as *mut u8, DEBUG_FREED, usable);
    }
    if crate::track::ENABLED {
        crate::track::free(block as *mut u8, usable);
        crate::track::mem_noaccess(block as *const u8, (*page).block_size);
    }
    // Push on the page's thread-free list, or signal the owner through its heap.
    let xtf = &(*page).xthread_free;
    if page::tf_push(xtf, block as usize, |next| {
        page::block_set_next(page, block, next as *mut Block)
    }) {
        // Acquire: the heap pointer was published with release by the owner.
        let heap: *mut Heap = (*page).xheap.load(Ordering::Acquire);
        if !heap.is_null() {
            heap::push_delayed(heap, block);
        }
        page::tf_delayed_done(xtf);
    }
}

/// Free a block that another thread put on this thread's delayed list. Returns false if
/// its page is busy (the block must be re-queued).
///
/// # Safety
/// `block` must come from the caller's heap's delayed list.
pub unsafe fn free_delayed_block(block: *mut Block) -> bool {
    let seg = crate::state::ptr_segment(block as *const u8);
    let page = crate::state::page_of(seg, block as *const u8);
    // Make sure no remote free is using the heap's list for this page any more; then
    // collect the page's thread-free list so `used` is exact before we free.
    if !page::use_delayed_free(page, Delayed::UseDelayedFree, false) {
        return false;
    }
    page::free_collect(page, false);
    // A full page leaves the full queue when the block is freed below (`unfull` ends the
    // notifications). One that is not full goes back to the state of an owned page now:
    // a small or medium page needs no notification of remote frees, since its owner
    // collects them when it looks for free blocks in the page's queue. (2.1.7 leaves it
    // at `UseDelayedFree`, so that every other remote free into the page goes through the
    // heap's delayed list: half of them in `prodcons`, a quarter in `pool`.)
    if !(*page).is_in_full() {
        page::use_delayed_free(page, page::owned_state((*page).block_size), false);
    }
    // The remote freer already checked the block and told the tracker; its link word now
    // holds our delayed-list link, which the checks would misread.
    free_block_local_unchecked(page, block, true, false);
    true
}

// --- sizes -----------------------------------------------------------------------------------

/// Usable bytes from `p` to the end of its block (byte-exact in padding builds).
///
/// # Safety
/// `p` must be null or point into a live block of ours.
pub unsafe fn usable_size(p: *const u8) -> usize {
    let seg = crate::state::ptr_segment(p);
    if seg.is_null() {
        return 0;
    }
    if (DEBUG > 0 || SECURE >= 4) && !check_pointer(seg, p as *mut u8, "mi_usable_size") {
        return 0;
    }
    // SAFETY: `p` is a live block of ours (caller's contract).
    unsafe {
        let page = crate::state::page_of(seg, p);
        let block = if (*page).has_aligned() {
            page_ptr_unalign(page, p)
        } else {
            p as *mut Block
        };
        let adjust = p as usize - block as usize;
        let size = if PADDING {
            padded_size(page, block)
        } else {
            (*page).usable_block_size()
        };
        size.saturating_sub(adjust)
    }
}

/// The requested size recorded in the padding trailer.
///
/// # Safety
/// `page` must be a live page of a padded build and `block` a block of it.
unsafe fn padded_size(page: *const Page, block: *const Block) -> usize {
    let bsize = (*page).usable_block_size();
    let pad_at = (block as *const u8).add(bsize);
    crate::track::link_open(pad_at);
    let pad = crate::padding::read_padding(block, bsize);
    crate::track::link_close(pad_at);
    bsize - (pad.delta as usize).min(bsize)
}

// --- checks (debug / secure) -------------------------------------------------------------

/// Validate a pointer passed to free/usable_size: it must be in one of our segments
/// (segment map, then the segment's cookie) and, in debug builds, word aligned.
#[inline(always)]
fn check_pointer(seg: *mut Segment, p: *mut u8, msg: &str) -> bool {
    if DEBUG > 0 && (p as usize) & (INTPTR_SIZE - 1) != 0 {
        report_unaligned(p, msg);
        return false;
    }
    // (the map before the cookie: the header of a segment that is not ours may not be
    // mapped)
    let valid = crate::segment_map::is_live_segment(seg);
    if !valid {
        report_invalid_space(p, msg);
    }
    valid
}

#[cold]
#[inline(never)]
fn report_unaligned(p: *mut u8, msg: &str) {
    crate::mi_error!(EINVAL, "{}: invalid (unaligned) pointer: {:p}", msg, p);
}

#[cold]
#[inline(never)]
fn report_invalid_space(p: *mut u8, msg: &str) {
    crate::mi_error!(
        EINVAL,
        "{}: pointer does not point to a valid heap space: {:p}",
        msg,
        p
    );
}

#[cold]
#[inline(never)]
fn report_invalid_block(p: *const u8, msg: &str) {
    crate::mi_error!(
        EINVAL,
        "{}: pointer does not point to a valid heap block: {:p}",
        msg,
        p
    );
}

/// Checked frees: `p` may be a block of `page` among its first `count` blocks
/// (`capacity` for the owner; `reserved` for other threads, as the owner changes
/// `capacity`). With `START_BY_CANARY` this is the bounds test that makes the trailer
/// readable -- the whole block that would start at `p` lies in the area, unless
/// `interior` pointers are allowed (pages with aligned blocks, before unaligning) -- and
/// the canary settles the rest; otherwise it is the exact test.
///
/// # Safety
/// `page` must be the page descriptor of `p` in a live segment.
#[inline(always)]
unsafe fn block_start_plausible(
    page: *const Page,
    p: *const u8,
    count: u32,
    interior: bool,
) -> bool {
    if !START_BY_CANARY {
        return is_block_start(page, p, count);
    }
    // (a free span has block size 0 and so an empty area)
    let off = (p as usize).wrapping_sub((*page).page_start as usize);
    let area = count as usize * (*page).block_size;
    // (`off < area` keeps the sum from wrapping: areas are far below 2^63)
    off < area && (interior || off + (*page).block_size <= area)
}

/// The padding check of a free failed: tell an interior pointer (reported and ignored:
/// returns false) from a real overflow (reported; the block is still freed, as mimalloc
/// does: returns true). `count` bounds the blocks as in `block_start_plausible`.
///
/// # Safety
/// `page` must be a live page and `block` a block of it.
#[cold]
#[inline(never)]
unsafe fn padding_failed(page: *const Page, block: *const Block, count: u32) -> bool {
    if START_BY_CANARY && !is_block_start(page, block as *const u8, count) {
        report_invalid_block(block as *const u8, "mi_free");
        return false;
    }
    report_overflow(page, block);
    true
}

/// The exact block-start test: `p` points at one of the first `count` blocks of `page`
/// (anywhere in it if the page holds aligned blocks, else at its start) -- not into the
/// middle of a block, not into free space of a segment (a span without blocks has block
/// size 0).
///
/// # Safety
/// `page` must be the page descriptor of `p` in a live segment.
#[inline]
unsafe fn is_block_start(page: *const Page, p: *const u8, count: u32) -> bool {
    let off = (p as usize).wrapping_sub((*page).page_start as usize);
    off < count as usize * (*page).block_size
        && ((*page).has_aligned() || page_ptr_unalign(page, p) as *const u8 == p)
}

/// Double free detection, the cheap half: a block whose link word decodes to null or to
/// a block of the same page may be free already (`is_on_free_list` settles it).
///
/// # Safety
/// `block` must be a block of `page`.
#[inline(always)]
unsafe fn link_may_be_free(page: *const Page, block: *const Block) -> bool {
    let n = page::ptr_decode(page as usize, (*block).next, &(*page).keys);
    n.is_null() || page::is_block_area_of(page, n as *const u8)
}

/// Search the page's three free lists for `block`; report a double free if it is there.
///
/// # Safety
/// `page` must be a live page owned by the calling thread and `block` a block of it.
#[cold]
#[inline(never)]
unsafe fn is_on_free_list(page: *const Page, block: *const Block) -> bool {
    if list_contains(page, (*page).free, block)
        || list_contains(page, (*page).local_free, block)
        // Relaxed: a diagnostic walk of our own page's remote list.
        || list_contains(page, ((*page).xthread_free.load(Ordering::Relaxed) & !3) as *mut Block, block)
    {
        crate::mi_error!(
            EAGAIN,
            "double free detected of block {:p} with size {}",
            block,
            (*page).usable_block_size()
        );
        return true;
    }
    false
}

/// # Safety
/// `page` must be a live page owned by the calling thread and `list` one of its free lists
/// (whose links may be damaged: the walk is bounded by the page's capacity).
unsafe fn list_contains(page: *const Page, mut list: *mut Block, elem: *const Block) -> bool {
    let mut n = 0u32;
    while !list.is_null() && n <= (*page).capacity {
        if ptr::eq(list, elem) {
            return true;
        }
        list = page::block_next(page, list);
        n += 1;
    }
    false
}

/// The canary matches and the fill bytes after the request are unchanged (no loop,
/// whatever the sizes).
///
/// # Safety
/// `block` must be a block of `page` (so its trailer is readable).
#[inline(always)]
unsafe fn padding_is_intact(page: *const Page, block: *const Block) -> bool {
    let bsize = (*page).usable_block_size();
    let pad = crate::padding::read_padding(block, bsize);
    // (branches: all three hold in a correct program, so they are predicted)
    pad.canary == crate::padding::padding_canary(page, block)
        && (pad.delta as usize) <= bsize
        && crate::padding::fill_is_intact(block, bsize, pad.delta as usize)
}

/// Report a damaged trailer or fill with the offset of the first changed byte.
///
/// # Safety
/// `page` must be a live page of a padded build and `block` a block of it.
#[cold]
#[inline(never)]
unsafe fn report_overflow(page: *const Page, block: *const Block) {
    let bsize = (*page).usable_block_size();
    let pad = crate::padding::read_padding(block, bsize);
    let delta = pad.delta as usize;
    let mut after = bsize; // a damaged trailer: the write went past the usable size
    if pad.canary == crate::padding::padding_canary(page, block) && delta <= bsize {
        if let Some(at) = crate::padding::first_changed_fill(block, bsize, delta) {
            after = at;
        }
    }
    crate::mi_error!(
        EFAULT,
        "buffer overflow in heap block {:p} of size {}: write after {} bytes",
        block,
        bsize,
        after
    );
}

/// # Safety
/// `page` must be a live page and `block` a block of it being freed.
unsafe fn free_stats(page: *const Page, block: *const Block) {
    let heap = crate::init::get_default_heap();
    if !crate::state::is_initialized(heap) {
        return;
    }
    let stats = crate::state::tld_stats(heap);
    let bsize = (*page).block_size;
    if bsize <= MEDIUM_OBJ_SIZE_MAX {
        stats.normal.decrease(bsize);
        stats.normal_bins[crate::state::bin(bsize)].decrease(1);
    }
    if PADDING {
        stats.malloc.decrease(padded_size(page, block));
    } else {
        stats.malloc.decrease((*page).usable_block_size());
    }
}

/// `mi_free_size`, `mi_free_aligned`: the size/alignment are checked in debug builds.
///
/// # Safety
/// As `free`.
#[inline]
pub unsafe fn free_size(p: *mut u8, size: usize) {
    if DEBUG > 0 && !p.is_null() && size > usable_size(p) {
        crate::mi_warning!(
            "mi_free_size: size {} is larger than the usable size of block {:p}",
            size,
            p
        );
    }
    free(p)
}
