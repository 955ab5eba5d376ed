//! Freeing: the local fast path (push on the page's `local_free`), the generic local
//! path (full pages, aligned blocks), and the cross-thread path (one CAS on the page's
//! `xthread_free`, or the owning heap's delayed list for full pages).

use crate::heap::{self, Heap};
use crate::page::{self, Block, Delayed, Page};
use crate::segment::{self, Segment, SegmentKind};
use crate::sync::{thread_id, Ordering};
use crate::types::*;
use core::ptr;

/// `mi_free`.
///
/// # Safety
/// `p` must be null or a live block of ours (any thread's).
#[inline(always)]
pub unsafe fn free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    let seg = segment::ptr_segment_nonnull(p);
    if DEBUG > 0 || SECURE >= 4 {
        if !check_pointer(seg, p, "mi_free") {
            return;
        }
    }
    // SAFETY: `p` is (by the caller's contract) a block of ours, so `seg` is its live
    // segment and the page lookup is in bounds.
    unsafe {
        let page = segment::page_of(seg, p);
        if (DEBUG > 0 || SECURE >= 4) && !check_block_start(page, p, "mi_free") {
            return;
        }
        // Relaxed: comparing with our own id; only we could have stored it.
        let is_local = (*seg).thread_id.load(Ordering::Relaxed) == thread_id();
        if is_local && (*page).flags == 0 && DEBUG == 0 && SECURE < 4 && !PADDING {
            // The fast path: not full, no aligned blocks, owned by us.
            let block = p as *mut Block;
            page::block_set_next(page, block, (*page).local_free);
            (*page).local_free = block;
            (*page).used -= 1;
            if (*page).used == 0 {
                page_retire_cold(page);
            }
        } else if is_local && (*page).flags == 0 {
            // Checked builds: the same case, with the checks of `free_block_local`.
            free_block_local(page, p as *mut Block, false, true);
        } else {
            free_generic(seg, page, is_local, p);
        }
    }
}

#[cold]
#[inline(never)]
unsafe fn page_retire_cold(page: *mut Page) {
    page::retire(page)
}

/// Free a block of a page owned by the calling thread.
#[inline(always)]
unsafe fn free_block_local(page: *mut Page, block: *mut Block, check_full: bool, tracked: bool) {
    if crate::track::ENABLED && tracked {
        // Our checks read the whole block (link word, trailer).
        crate::track::mem_defined(block as *const u8, (*page).block_size);
    }
    if (DEBUG > 0 || SECURE >= 4) && is_double_free(page, block) {
        return;
    }
    if PADDING {
        // Report an overflow, then free the block anyway (as C mimalloc does).
        check_padding(page, block);
    }
    if DEBUG > 0 {
        if tracked {
            // (a block from the delayed list was counted by the thread that freed it)
            free_stats(page, block);
        }
        ptr::write_bytes(block as *mut u8, DEBUG_FREED, (*page).usable_block_size());
    }
    if crate::track::ENABLED && tracked {
        crate::track::free(block as *mut u8, (*page).usable_block_size());
        crate::track::mem_noaccess(block as *const u8, (*page).block_size);
    }
    page::block_set_next(page, block, (*page).local_free);
    (*page).local_free = block;
    (*page).used -= 1;
    if (*page).used == 0 {
        page::retire(page);
    } else if check_full && (*page).is_in_full() {
        page::unfull(page);
    }
}

/// Full pages, pages with aligned blocks, and frees from other threads.
#[cold]
#[inline(never)]
unsafe fn free_generic(seg: *mut Segment, page: *mut Page, is_local: bool, p: *mut u8) {
    let block = if (*page).has_aligned() || !is_local {
        page_ptr_unalign(page, p)
    } else {
        p as *mut Block
    };
    if is_local {
        free_block_local(page, block, true, true);
    } else {
        free_block_mt(seg, page, block);
    }
}

/// The start of the block containing `p` (for interior pointers of aligned blocks).
///
/// # Safety
/// `p` must point into a block of `page`.
#[inline]
pub unsafe fn page_ptr_unalign(page: *const Page, p: *const u8) -> *mut Block {
    let diff = p as usize - (*page).page_start as usize;
    let adjust = if (*page).block_size_shift != 0 {
        diff & ((1usize << (*page).block_size_shift) - 1)
    } else {
        diff % (*page).block_size
    };
    p.sub(adjust) as *mut Block
}

/// A free from a thread that does not own the page.
unsafe fn free_block_mt(seg: *mut Segment, page: *mut Page, block: *mut Block) {
    // Free into an abandoned segment: try to take it over and free locally.
    // Relaxed: a hint; `try_reclaim_on_free` claims under the abandoned-list lock.
    if (*seg).thread_id.load(Ordering::Relaxed) == 0 {
        let heap = crate::init::get_default_heap();
        if heap::is_initialized(heap) && segment::try_reclaim_on_free(seg, heap) {
            free_block_local(page, block, false, true);
            return;
        }
    }
    if crate::track::ENABLED {
        crate::track::mem_defined(block as *const u8, (*page).block_size);
    }
    if PADDING {
        check_padding(page, block);
        // The link word written below (on the thread-free or delayed list) must not look
        // like an overflow when the owner checks the padding again.
        padding_shrink(page, block, INTPTR_SIZE);
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
    // Relaxed: the CAS validates the snapshot.
    let mut tf = (*page).xthread_free.load(Ordering::Relaxed);
    let use_delayed = loop {
        let delayed = tf & 3;
        let (tfx, use_delayed) = if delayed == Delayed::UseDelayedFree as usize {
            ((tf & !3) | Delayed::DelayedFreeing as usize, true)
        } else {
            page::block_set_next(page, block, (tf & !3) as *mut Block);
            (block as usize | delayed, false)
        };
        // Release: the owner's acquiring exchange must see the link word we wrote.
        match (*page).xthread_free.compare_exchange_weak(
            tf,
            tfx,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => break use_delayed,
            Err(cur) => tf = cur,
        }
    };
    if use_delayed {
        // Acquire: the heap pointer was published with release by the owner.
        let heap: *mut Heap = (*page).xheap.load(Ordering::Acquire);
        if !heap.is_null() {
            heap::push_delayed(heap, block);
        }
        // Back to NoDelayedFree: later remote frees go to the page list directly.
        // Relaxed: the CAS validates.
        let mut tf = (*page).xthread_free.load(Ordering::Relaxed);
        loop {
            let tfx = (tf & !3) | Delayed::NoDelayedFree as usize;
            // Release: the owner waiting in `use_delayed_free` sees our push completed.
            match (*page).xthread_free.compare_exchange_weak(
                tf,
                tfx,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(cur) => tf = cur,
            }
        }
    }
}

/// Free a block that another thread put on this thread's delayed list. Returns false if
/// its page is busy (the block must be re-queued).
///
/// # Safety
/// `block` must come from the caller's heap's delayed list.
pub unsafe fn free_delayed_block(block: *mut Block) -> bool {
    let seg = segment::ptr_segment(block as *const u8);
    let page = segment::page_of(seg, block as *const u8);
    // Make sure no remote free is using the heap's list for this page any more; then
    // collect the page's thread-free list so `used` is exact before we free.
    if !page::use_delayed_free(page, Delayed::UseDelayedFree, false) {
        return false;
    }
    page::free_collect(page, false);
    // The remote freer already told the tracker.
    free_block_local(page, block, true, false);
    true
}

// --- sizes -----------------------------------------------------------------------------------

/// Usable bytes from `p` to the end of its block (byte-exact in padding builds).
///
/// # Safety
/// `p` must be null or point into a live block of ours.
pub unsafe fn usable_size(p: *const u8) -> usize {
    let seg = segment::ptr_segment(p);
    if seg.is_null() {
        return 0;
    }
    if (DEBUG > 0 || SECURE >= 4) && !check_pointer(seg, p as *mut u8, "mi_usable_size") {
        return 0;
    }
    // SAFETY: `p` is a live block of ours (caller's contract).
    unsafe {
        let page = segment::page_of(seg, p);
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
unsafe fn padded_size(page: *const Page, block: *const Block) -> usize {
    let bsize = (*page).usable_block_size();
    let pad_at = (block as *const u8).add(bsize);
    crate::track::link_open(pad_at);
    let pad = ptr::read_unaligned(pad_at as *const crate::alloc::Padding);
    crate::track::link_close(pad_at);
    bsize - (pad.delta as usize).min(bsize)
}

// --- checks (debug / secure) -------------------------------------------------------------

/// Validate a pointer passed to free/usable_size: it must be in one of our segments
/// (cookie check) and, in debug builds, word aligned.
fn check_pointer(seg: *mut Segment, p: *mut u8, msg: &str) -> bool {
    if DEBUG > 0 && (p as usize) & (INTPTR_SIZE - 1) != 0 {
        crate::mi_error!(EINVAL, "{}: invalid (unaligned) pointer: {:p}", msg, p);
        return false;
    }
    let valid = crate::segment_map::is_in_heap_region(p)
        // SAFETY: the map says the segment is live, so its header is readable.
        && unsafe { (*seg).cookie } == seg as usize ^ heap::main_cookie();
    if !valid {
        crate::mi_error!(
            EINVAL,
            "{}: pointer does not point to a valid heap space: {:p}",
            msg,
            p
        );
    }
    valid
}

/// Debug / secure: `p` must point at a block of its page (anywhere in the block if the
/// page holds aligned blocks, else at its start) -- not into the middle of a block, not
/// into free space of a segment (a span without blocks has block size 0).
///
/// # Safety
/// `page` must be the page descriptor of `p` in a live segment.
unsafe fn check_block_start(page: *const Page, p: *const u8, msg: &str) -> bool {
    let bsize = (*page).block_size;
    let start = (*page).page_start as usize;
    let a = p as usize;
    let valid = bsize != 0
        && a >= start
        && a - start < (*page).capacity as usize * bsize
        && ((*page).has_aligned() || {
            let off = a - start;
            // A shift for power-of-two sizes avoids a division on every checked free.
            let shift = (*page).block_size_shift;
            if shift != 0 {
                off & ((1usize << shift) - 1) == 0
            } else if off <= u32::MAX as usize && bsize <= u32::MAX as usize {
                (off as u32) % (bsize as u32) == 0 // a 32-bit division is much cheaper
            } else {
                off % bsize == 0
            }
        });
    if !valid {
        crate::mi_error!(
            EINVAL,
            "{}: pointer does not point to a valid heap block: {:p}",
            msg,
            p
        );
    }
    valid
}

/// Double free detection: a block whose link word decodes to a plausible next block of
/// the same page may be free already; search the page's lists to be sure.
unsafe fn is_double_free(page: *const Page, block: *const Block) -> bool {
    let n = page::ptr_decode(page as usize, (*block).next, &(*page).keys);
    let plausible = n.is_null() || page::is_block_area_of(page, n as *const u8);
    if !plausible {
        return false;
    }
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

unsafe fn list_contains(page: *const Page, mut list: *mut Block, elem: *const Block) -> bool {
    let mut n = 0u32;
    while !list.is_null() && n <= (*page).capacity {
        if list as *const Block == elem {
            return true;
        }
        list = page::block_next(page, list);
        n += 1;
    }
    false
}

/// Check the canary and fill bytes after the requested size.
unsafe fn check_padding(page: *const Page, block: *const Block) -> bool {
    let bsize = (*page).usable_block_size();
    let pad = ptr::read_unaligned((block as *const u8).add(bsize) as *const crate::alloc::Padding);
    let delta = pad.delta as usize;
    let ok_canary = pad.canary == crate::alloc::padding_canary(page, block) && delta <= bsize;
    let mut ok = ok_canary;
    let mut req = bsize;
    if ok {
        req = bsize - delta;
        let fill = delta.min(16);
        let at = (block as *const u8).add(req);
        // Compare a word at a time; find the exact byte only when something differs.
        let word = u64::from_ne_bytes([DEBUG_PADDING; 8]);
        let mut i = 0;
        while i + 8 <= fill && ptr::read_unaligned(at.add(i) as *const u64) == word {
            i += 8;
        }
        while i < fill {
            if *at.add(i) != DEBUG_PADDING {
                ok = false;
                req += i;
                break;
            }
            i += 1;
        }
    }
    if !ok {
        crate::mi_error!(
            EFAULT,
            "buffer overflow in heap block {:p} of size {}: write after {} bytes",
            block,
            bsize,
            req
        );
    }
    ok
}

/// Make the recorded request at least `min_size` bytes (keeping the trailer valid), so
/// that writes below `min_size` no longer count as overflows.
unsafe fn padding_shrink(page: *const Page, block: *const Block, min_size: usize) {
    let bsize = (*page).usable_block_size();
    let pad_at = (block as *mut u8).add(bsize) as *mut crate::alloc::Padding;
    let mut pad = ptr::read_unaligned(pad_at);
    let req = bsize - (pad.delta as usize).min(bsize);
    if req < min_size && min_size <= bsize {
        pad.delta = (bsize - min_size) as u32;
        ptr::write_unaligned(pad_at, pad);
    }
}

unsafe fn free_stats(page: *const Page, block: *const Block) {
    let heap = crate::init::get_default_heap();
    if !heap::is_initialized(heap) {
        return;
    }
    let stats = heap::tld_stats(heap);
    let bsize = (*page).block_size;
    if bsize <= MEDIUM_OBJ_SIZE_MAX {
        stats.normal.decrease(bsize);
        stats.normal_bins[crate::page_queue::bin(bsize)].decrease(1);
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
