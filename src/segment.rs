//! Segments: 32 MiB-aligned areas of 64 KiB slices. The segment header (first slice)
//! holds the descriptors of every slice; a run of slices is either a page in use or a
//! free span. Free spans of the thread's segments sit in per-thread span queues binned
//! by size, and are coalesced with free neighbours when pages are freed.
//!
//! A segment belongs to one thread (`thread_id`). When its thread exits, the segment is
//! abandoned (thread id 0) and marked in the abandoned map (`segment_map`), from which
//! other threads claim it without a lock: when they need a fresh segment, when they free
//! a block into it, or when they collect.

use crate::arena;
use crate::options::{self, Opt};
use crate::os::{self, MemKind};
use crate::page;
use crate::page_queue;
use crate::prim;
use crate::segment_map;
use crate::state::{
    page_of, page_segment, ptr_segment, slice_at, slice_index, Heap, Page, Segment, SegmentKind,
    SpanQueue, Tld,
};
use crate::stats::STATS_MAIN;
use crate::sync::{thread_id, Ordering};
use crate::types::*;
use core::mem::size_of;
use core::ptr;

/// Number of slice descriptors after the first that point back to their page; enough
/// for a 16 MiB large page (256 slices).
const MAX_SLICE_OFFSET_COUNT: usize = 255;

// --- slice masks -----------------------------------------------------------------------------

fn mask_set(m: &mut SliceMask, idx: usize, count: usize) {
    for i in idx..idx + count {
        m[i / 64] |= 1 << (i % 64);
    }
}
fn mask_clear(m: &mut SliceMask, idx: usize, count: usize) {
    for i in idx..idx + count {
        m[i / 64] &= !(1 << (i % 64));
    }
}
fn mask_any(m: &SliceMask, idx: usize, count: usize) -> bool {
    (idx..idx + count).any(|i| m[i / 64] & (1 << (i % 64)) != 0)
}
/// Number of set bits among `idx..idx+count`.
fn mask_count_range(m: &SliceMask, idx: usize, count: usize) -> usize {
    (idx..idx + count)
        .filter(|&i| m[i / 64] & (1 << (i % 64)) != 0)
        .count()
}
fn mask_is_empty(m: &SliceMask) -> bool {
    m.iter().all(|w| *w == 0)
}
/// The first run of set bits at or after bit `from`: (start, length). A run may cross
/// words.
fn mask_next_run(m: &SliceMask, from: usize) -> Option<(usize, usize)> {
    const W: usize = usize::BITS as usize;
    let total = m.len() * W;
    let mut i = from;
    // Find the start: the first set bit at or after `from`.
    let start = loop {
        if i >= total {
            return None;
        }
        let bits = m[i / W] >> (i % W);
        if bits != 0 {
            break i + bits.trailing_zeros() as usize;
        }
        i = (i / W + 1) * W;
    };
    // Find the end: the first clear bit after `start`.
    let mut j = start;
    while j < total {
        let ones = (m[j / W] >> (j % W)).trailing_ones() as usize;
        j += ones;
        if ones == 0 || j % W != 0 {
            break;
        }
    }
    Some((start, j.min(total) - start))
}

// --- span queues -----------------------------------------------------------------------------

/// Span queue bin of a span of `n` slices: exact up to 8, then four bins per power of two.
pub const fn slice_bin(n: usize) -> usize {
    if n <= 1 {
        return n;
    }
    let w = n - 1;
    let s = (usize::BITS - 1 - w.leading_zeros()) as usize;
    let bin = if s <= 2 {
        n
    } else {
        ((s << 2) | ((w >> (s - 2)) & 3)) - 4
    };
    if bin > SEGMENT_BIN_MAX {
        SEGMENT_BIN_MAX
    } else {
        bin
    }
}

/// # Safety
/// `tld` must be the calling thread's data.
unsafe fn span_queue_for(n: usize, tld: *mut Tld) -> *mut SpanQueue {
    &mut (*tld).segments.spans[slice_bin(n)]
}

/// # Safety
/// `sq` must be a span queue of the calling thread and `slice` the first slice of a free
/// span of one of its owned normal segments, not linked in any queue.
unsafe fn span_queue_push(sq: *mut SpanQueue, slice: *mut Page) {
    (*slice).prev = ptr::null_mut();
    (*slice).next = (*sq).first;
    (*sq).first = slice;
    if !(*slice).next.is_null() {
        (*(*slice).next).prev = slice;
    } else {
        (*sq).last = slice;
    }
    (*slice).block_size = 0; // free
}

/// Unlink a span; a no-op for a span that is not linked (null links, not first/last).
///
/// # Safety
/// `sq` must be a span queue of the calling thread and `slice` a slice of one of its
/// segments (linked in `sq`, or not linked at all).
unsafe fn span_queue_delete(sq: *mut SpanQueue, slice: *mut Page) {
    if !(*slice).prev.is_null() {
        (*(*slice).prev).next = (*slice).next;
    }
    if slice == (*sq).first {
        (*sq).first = (*slice).next;
    }
    if !(*slice).next.is_null() {
        (*(*slice).next).prev = (*slice).prev;
    }
    if slice == (*sq).last {
        (*sq).last = (*slice).prev;
    }
    (*slice).prev = ptr::null_mut();
    (*slice).next = ptr::null_mut();
    (*slice).block_size = 1; // no longer a free span in a queue
}

/// # Safety
/// `seg` must point to a live segment header.
#[inline]
unsafe fn is_owned_normal(seg: *const Segment) -> bool {
    // Relaxed: only the owner (us) writes a non-zero thread id into its segment.
    (*seg).kind == SegmentKind::Normal && (*seg).thread_id.load(Ordering::Relaxed) != 0
}

// --- purging ---------------------------------------------------------------------------------

/// Note that slices became free; their memory is returned to the OS after `purge_delay`
/// milliseconds. As in 2.1.7, each further free before that pushes the deadline back by
/// `purge_extend_delay`, so a segment that is busy (threads coming and going, pages
/// freed and taken again) is not purged and faulted in again over and over; a deadline
/// that passed more than `purge_extend_delay` ago is kept, and the purge done now.
///
/// # Safety
/// `seg` must be a live segment owned (or claimed) by the caller, and `idx..idx+count`
/// free slices of it.
unsafe fn schedule_purge(seg: *mut Segment, idx: usize, count: usize) {
    if !(*seg).allow_purge || count == 0 {
        return;
    }
    let delay = options::get(Opt::PurgeDelay);
    if delay < 0 {
        return;
    }
    if delay == 0 {
        purge_range(seg, idx, count);
        return;
    }
    mask_set(&mut (*seg).purge_mask, idx, count);
    purge_deadline(seg, delay);
}

/// Slices were added to the purge mask: set or push back the segment's deadline.
///
/// # Safety
/// `seg` must be a segment the caller owns (or has claimed).
unsafe fn purge_deadline(seg: *mut Segment, delay: i64) {
    let now = prim::clock_now_ms();
    let extend = options::get(Opt::PurgeExtendDelay);
    if (*seg).purge_expire == 0 {
        (*seg).purge_expire = now + delay;
    } else if (*seg).purge_expire <= now {
        if (*seg).purge_expire + extend <= now {
            try_purge(seg, true);
        } else {
            // Due just now: wait a little longer in case more frees follow.
            (*seg).purge_expire = now + extend;
        }
    } else {
        (*seg).purge_expire += extend;
    }
}

/// The slices of `seg` counted in the `committed` statistic: a normal segment's dirty
/// slices; all the memory of a huge one (in an arena whole blocks, so that its blocks go
/// back with every slice marked, see `arena::free`).
///
/// # Safety
/// `seg` must be a live segment the caller owns (or has claimed).
unsafe fn resident_slices(seg: *const Segment) -> usize {
    match (*seg).kind {
        SegmentKind::Normal => mask_count(&(*seg).dirty_mask),
        SegmentKind::Huge if (*seg).memid.kind == MemKind::Arena => {
            (*seg).memid.block_count * SLICES_PER_SEGMENT
        }
        SegmentKind::Huge => (*seg).segment_slices,
    }
}

/// Slices `idx..idx+count` are about to be used: they may hold non-zero bytes from now
/// on. Those not marked yet start to count as committed.
///
/// # Safety
/// `seg` must be a segment the caller owns (or has claimed); the range lies in it.
#[inline]
unsafe fn mark_dirty(seg: *mut Segment, idx: usize, count: usize) {
    if (*seg).kind == SegmentKind::Normal {
        let new = count - mask_count_range(&(*seg).dirty_mask, idx, count);
        STATS_MAIN.committed.increase(new * SEGMENT_SLICE_SIZE);
    }
    mask_set(&mut (*seg).dirty_mask, idx, count);
}

/// Slices `idx..idx+count` were decommitted: they read as zeros and are not resident.
///
/// # Safety
/// As `mark_dirty`.
unsafe fn clear_dirty(seg: *mut Segment, idx: usize, count: usize) {
    if (*seg).kind == SegmentKind::Normal {
        let gone = mask_count_range(&(*seg).dirty_mask, idx, count);
        STATS_MAIN.committed.decrease(gone * SEGMENT_SLICE_SIZE);
    }
    mask_clear(&mut (*seg).dirty_mask, idx, count);
}

/// # Safety
/// `seg` must be a live segment owned (or claimed) by the caller, and `idx..idx+count`
/// free slices of it whose contents nobody needs.
unsafe fn purge_range(seg: *mut Segment, idx: usize, count: usize) {
    let start = (seg as *mut u8).add(idx * SEGMENT_SLICE_SIZE);
    let size = count * SEGMENT_SLICE_SIZE;
    if os::purge(start, size) {
        clear_dirty(seg, idx, count);
        // Secure: decommitted memory is also made inaccessible, so that a use after
        // free of a purged page faults instead of reading zeros.
        if SECURE > 0 && os::protect_guard(start, size, true) {
            mask_set(&mut (*seg).noaccess_mask, idx, count);
        }
    }
    mask_clear(&mut (*seg).purge_mask, idx, count);
}

/// Make slices `idx..idx+count` accessible again before they are used (secure builds
/// decommit with `PROT_NONE`, see `purge_range`). Returns false if `mprotect` failed
/// (the slices then stay free and inaccessible).
///
/// # Safety
/// `seg` must be a live segment owned by the caller, and `idx..idx+count` slices of it
/// that are about to be used.
#[inline]
unsafe fn ensure_accessible(seg: *mut Segment, idx: usize, count: usize) -> bool {
    if SECURE == 0 || !mask_any(&(*seg).noaccess_mask, idx, count) {
        return true;
    }
    let start = (seg as *mut u8).add(idx * SEGMENT_SLICE_SIZE);
    if !os::protect_guard(start, count * SEGMENT_SLICE_SIZE, false) {
        return false;
    }
    mask_clear(&mut (*seg).noaccess_mask, idx, count);
    true
}

/// Purge the slices scheduled for it, if their time has come (or `force`).
///
/// # Safety
/// `seg` must be owned by the calling thread (or abandoned and being handled by it).
pub unsafe fn try_purge(seg: *mut Segment, force: bool) {
    if (*seg).purge_expire == 0 || mask_is_empty(&(*seg).purge_mask) {
        (*seg).purge_expire = 0;
        return;
    }
    if !force && prim::clock_now_ms() < (*seg).purge_expire {
        return;
    }
    (*seg).purge_expire = 0;
    // Purge each maximal run of marked slices with one call.
    let mut from = 0;
    while let Some((idx, count)) = mask_next_run(&(*seg).purge_mask, from) {
        purge_range(seg, idx, count);
        from = idx + count;
    }
}

// --- spans -----------------------------------------------------------------------------------

/// Mark slices `idx..idx+count` as one free span and queue it (if the segment is owned).
///
/// # Safety
/// `seg` must be a live segment owned (or claimed) by the caller, `idx..idx+count` slices
/// of it that no page uses any more, and `tld` the caller's thread data.
unsafe fn span_free(seg: *mut Segment, idx: usize, count: usize, allow_purge: bool, tld: *mut Tld) {
    debug_assert!(idx + count <= (*seg).slice_entries);
    let slice = slice_at(seg, idx);
    (*slice).slice_count = count as u32;
    (*slice).slice_offset = 0;
    if count > 1 {
        let last = slice_at(seg, idx + count - 1);
        (*last).slice_count = 0;
        (*last).slice_offset = ((count - 1) * size_of::<Page>()) as u32;
    }
    if allow_purge {
        schedule_purge(seg, idx, count);
    }
    (*slice).next = ptr::null_mut();
    (*slice).prev = ptr::null_mut();
    if is_owned_normal(seg) {
        span_queue_push(span_queue_for(count, tld), slice);
    } else {
        (*slice).block_size = 0;
    }
}

/// Unlink a free span from its queue (if it is queued: not in a huge or abandoned
/// segment).
///
/// # Safety
/// `seg` must be a live segment of the caller, `slice` the first slice of a free span of
/// it, and `tld` the caller's thread data.
unsafe fn span_remove_from_queue(seg: *mut Segment, slice: *mut Page, tld: *mut Tld) {
    debug_assert!((*slice).block_size == 0 && (*slice).slice_offset == 0);
    if is_owned_normal(seg) {
        span_queue_delete(span_queue_for((*slice).slice_count as usize, tld), slice);
    }
    (*slice).block_size = 0;
}

/// Free the span of a page and merge it with free neighbours; returns the first slice
/// of the merged span.
///
/// # Safety
/// `slice` must be the first slice of a page of a segment owned (or claimed) by the
/// caller, whose blocks are no longer in use; `tld` the caller's thread data.
unsafe fn span_free_coalesce(slice: *mut Page, tld: *mut Tld) -> *mut Page {
    let seg = page_segment(slice);
    let mut idx = slice_index(seg, slice);
    let mut count = (*slice).slice_count as usize;
    (*slice).block_size = 0;
    let end = (*seg).slice_entries;
    // Merge with the following span if it is free.
    if idx + count < end {
        let next = slice_at(seg, idx + count);
        if (*next).block_size == 0 && (*next).slice_count > 0 {
            count += (*next).slice_count as usize;
            span_remove_from_queue(seg, next, tld);
        }
    }
    // Merge with the preceding span if it is free.
    if idx > 0 {
        let last = slice_at(seg, idx - 1);
        let prev = (last as *mut u8).sub((*last).slice_offset as usize) as *mut Page;
        if (*prev).block_size == 0 && (*prev).slice_count > 0 {
            count += (*prev).slice_count as usize;
            span_remove_from_queue(seg, prev, tld);
            idx = slice_index(seg, prev);
        }
    }
    // Only the slices of the freed page need a purge; merged neighbours already have one.
    let page_idx = slice_index(seg, slice);
    let page_count = (*slice).slice_count as usize;
    span_free(seg, idx, count, false, tld);
    schedule_purge(seg, page_idx, page_count);
    slice_at(seg, idx)
}

/// Make the slices after a page's first slice point back to it: the next `extra_max` ones
/// (where interior pointers of its blocks can be) and the last one (which coalescing reads).
///
/// # Safety
/// `seg` must be a live segment owned by the caller and `idx..idx+count` the slices of one
/// of its pages.
unsafe fn point_back(seg: *mut Segment, idx: usize, count: usize, extra_max: usize) {
    let extra = (count - 1).min(extra_max);
    for i in 1..=extra {
        let s = slice_at(seg, idx + i);
        (*s).slice_offset = (i * size_of::<Page>()) as u32;
        (*s).slice_count = 0;
        (*s).block_size = 1;
    }
    let last = idx + count - 1;
    if count > 1 + extra && last <= SLICES_PER_SEGMENT {
        let s = slice_at(seg, last);
        (*s).slice_offset = ((count - 1) * size_of::<Page>()) as u32;
        (*s).slice_count = 0;
        (*s).block_size = 1;
    }
}

/// Turn slices `idx..idx+count` into a page (in use). Interior slices point back to the
/// page descriptor so that interior pointers find it.
///
/// # Safety
/// `seg` must be a live segment owned by the caller and `idx..idx+count` a free span of it
/// that is no longer queued.
unsafe fn span_allocate(seg: *mut Segment, idx: usize, count: usize) -> *mut Page {
    let page = slice_at(seg, idx);
    (*page).slice_count = count as u32;
    (*page).slice_offset = 0;
    point_back(seg, idx, count, MAX_SLICE_OFFSET_COUNT);
    (*page).block_size = 1; // in use; `page::init` sets the real size
    (*page).is_committed = true;
    (*page).is_huge = (*seg).kind == SegmentKind::Huge;
    debug_assert!(!mask_any(&(*seg).noaccess_mask, idx, count));
    (*page).is_zero_init = !mask_any(&(*seg).dirty_mask, idx, count);
    mark_dirty(seg, idx, count);
    mask_clear(&mut (*seg).purge_mask, idx, count);
    (*page).next = ptr::null_mut();
    (*page).prev = ptr::null_mut();
    (*seg).used += 1;
    page
}

/// Whether `heap` may use memory of `seg`: a heap bound to an arena only uses segments
/// of that arena, and other heaps never use segments of exclusive arenas.
///
/// # Safety
/// `seg` must point to a live segment header and `heap` to an initialised heap.
#[inline]
unsafe fn is_suitable(seg: *const Segment, heap: *const Heap) -> bool {
    arena::memid_is_suitable(&(*seg).memid, (*heap).arena_id)
}

/// Take a free span of at least `count` slices from the thread's span queues.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread and `tld` its thread data.
unsafe fn find_and_allocate(count: usize, heap: *mut Heap, tld: *mut Tld) -> *mut Page {
    let mut bin = slice_bin(count);
    while bin <= SEGMENT_BIN_MAX {
        let sq: *mut SpanQueue = &mut (*tld).segments.spans[bin];
        let mut slice = (*sq).first;
        while !slice.is_null() {
            if (*slice).slice_count as usize >= count && is_suitable(page_segment(slice), heap) {
                let seg = page_segment(slice);
                let idx = slice_index(seg, slice);
                let have = (*slice).slice_count as usize;
                if !ensure_accessible(seg, idx, count) {
                    // (the warning is out; as if out of memory)
                    return ptr::null_mut();
                }
                span_queue_delete(sq, slice);
                if have > count {
                    // Split: the rest stays free (its purge state is kept).
                    span_free(seg, idx + count, have - count, false, tld);
                }
                let page = span_allocate(seg, idx, count);
                try_purge(seg, false);
                return page;
            }
            slice = (*slice).next;
        }
        bin += 1;
    }
    ptr::null_mut()
}

// --- segment allocation ------------------------------------------------------------------

/// Allocate and initialise a segment. `required == 0` asks for a normal segment;
/// otherwise a huge segment with one page of at least `required` bytes, whose block can
/// hold a pointer aligned to `page_alignment` at the start of its second 32 MiB.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread and `tld` its thread data.
unsafe fn segment_alloc(
    required: usize,
    page_alignment: usize,
    heap: *mut Heap,
    tld: *mut Tld,
) -> *mut Segment {
    let info_slices = 1usize;
    let info_size = info_slices * SEGMENT_SLICE_SIZE;
    let (segment_size, align_offset) = if required == 0 {
        (SEGMENT_SIZE, 0)
    } else if page_alignment > 0 {
        // The aligned pointer goes at `segment + SEGMENT_SIZE`, so `ptr_segment` of it
        // finds this header.
        (
            align_up(SEGMENT_SIZE + required, SEGMENT_SLICE_SIZE),
            SEGMENT_SIZE,
        )
    } else {
        (align_up(info_size + required, SEGMENT_SLICE_SIZE), 0)
    };
    let alignment = if page_alignment > 0 {
        page_alignment.max(SEGMENT_ALIGN)
    } else {
        SEGMENT_ALIGN
    };
    let (mem, memid) =
        arena::alloc_aligned(segment_size, alignment, align_offset, (*heap).arena_id);
    if mem.is_null() {
        return ptr::null_mut();
    }
    let seg = mem as *mut Segment;
    // Reused memory may still be marked inaccessible (free blocks of an earlier use).
    crate::track::mem_undefined(mem, info_size);
    if !memid.initially_zero {
        ptr::write_bytes(mem, 0, size_of::<Segment>());
    }
    (*seg).memid = memid;
    (*seg).allow_purge = !memid.is_pinned && options::get(Opt::PurgeDelay) >= 0;
    (*seg).segment_size = segment_size;
    (*seg).segment_slices = segment_size / SEGMENT_SLICE_SIZE;
    (*seg).segment_info_slices = info_slices;
    (*seg).kind = if required == 0 {
        SegmentKind::Normal
    } else {
        SegmentKind::Huge
    };
    (*seg).slice_entries = (*seg).segment_slices.min(SLICES_PER_SEGMENT);
    (*seg).cookie = seg as usize ^ crate::segment_map::segment_key();
    (*seg).purge_expire = 0;
    (*seg).purge_mask = [0; 8];
    (*seg).noaccess_mask = [0; 8];
    // What the memory's last user left resident (counted as committed already, and
    // carried on by this segment): in an arena block exactly the slices it dirtied.
    let (inherited, inherited_slices) = arena::take_resident(&memid);
    (*seg).dirty_mask = if memid.initially_zero {
        [0; 8]
    } else if (*seg).kind == SegmentKind::Normal && memid.kind == MemKind::Arena {
        inherited
    } else {
        SLICE_MASK_FULL
    };
    // (the header is marked below, by `span_allocate`, which counts it if new; signed: a
    // normal segment on memory from outside an arena may inherit more than it marks,
    // never in practice, as such memory is fresh)
    let delta = resident_slices(seg) as isize - inherited_slices as isize;
    if delta > 0 {
        STATS_MAIN
            .committed
            .increase(delta as usize * SEGMENT_SLICE_SIZE);
    } else {
        STATS_MAIN
            .committed
            .decrease(delta.unsigned_abs() * SEGMENT_SLICE_SIZE);
    }
    (*seg).abandoned = 0;
    (*seg).abandoned_visits = 0;
    (*seg).used = 0;
    (*seg).was_reclaimed = false;
    // Relaxed: the segment is not published to other threads yet.
    (*seg).thread_id.store(thread_id(), Ordering::Relaxed);

    // Guard pages (secure): the last OS page of the header slice and of the segment.
    if SECURE > 0 {
        let ps = prim::page_size();
        os::protect_guard(mem.add(info_size - ps), ps, true);
        if (*seg).kind == SegmentKind::Normal {
            os::protect_guard(mem.add(segment_size - ps), ps, true);
        }
    }

    // The header is a span in use that is not counted as a page.
    span_allocate(seg, 0, info_slices);
    (*seg).used -= 1;

    segment_map::register(seg);
    let stats = crate::state::tld_stats(heap);
    stats.segments.increase(1);
    let segs = &mut (*tld).segments;
    segs.count += 1;
    segs.peak_count = segs.peak_count.max(segs.count);
    segs.current_size += segment_size;
    segs.peak_size = segs.peak_size.max(segs.current_size);

    if (*seg).kind == SegmentKind::Normal {
        // Secure builds leave the last slice (with the guard page) unused.
        let usable = SLICES_PER_SEGMENT - info_slices - if SECURE > 0 { 1 } else { 0 };
        if SECURE > 0 {
            let last = span_allocate(seg, SLICES_PER_SEGMENT - 1, 1);
            (*last).block_size = 1;
            (*seg).used -= 1;
        }
        span_free(seg, info_slices, usable, false, tld);
        // Slices the memory's last user left dirty (and resident) are free here: purge
        // them in due time like any freed page, or they would stay resident as long as
        // the segment lives without being used again.
        let delay = options::get(Opt::PurgeDelay);
        if (*seg).allow_purge && delay >= 0 {
            // (only the free span: not the header, nor the secure builds' guard slice)
            let mut left = (*seg).dirty_mask;
            mask_clear(&mut left, 0, info_slices);
            mask_clear(
                &mut left,
                info_slices + usable,
                SLICES_PER_SEGMENT - info_slices - usable,
            );
            if !mask_is_empty(&left) {
                (*seg).purge_mask = left;
                purge_deadline(seg, delay);
                if delay == 0 {
                    try_purge(seg, true);
                }
            }
        }
    }
    seg
}

/// Give a segment's memory back (to its arena or the OS).
///
/// # Safety
/// `seg` must be a live segment owned (or claimed) by the caller with no page in use and
/// no span queued, and `tld` the caller's thread data; `seg` is gone afterwards.
unsafe fn segment_free(seg: *mut Segment, _force: bool, tld: *mut Tld) {
    // Unqueue its free spans.
    if is_owned_normal(seg) {
        let mut idx = (*seg).segment_info_slices;
        while idx < (*seg).slice_entries {
            let slice = slice_at(seg, idx);
            let n = (*slice).slice_count as usize;
            debug_assert!(n > 0);
            if (*slice).block_size == 0 {
                span_remove_from_queue(seg, slice, tld);
            }
            idx += n.max(1);
        }
    }
    segment_map::unregister(seg);
    count_out(seg, tld);
    (*tld).stats.segments.decrease(1);
    if SECURE > 0 {
        // The next user of this memory expects it read-write: one call from the guard
        // behind the metadata to the end covers both guards and any slices decommitted
        // with `PROT_NONE` (parts already read-write cost nothing).
        let ps = prim::page_size();
        let guard = (*seg).segment_info_slices * SEGMENT_SLICE_SIZE - ps;
        if !os::protect_guard(
            (seg as *mut u8).add(guard),
            (*seg).segment_size - guard,
            false,
        ) {
            // Part of it stays inaccessible: its arena must commit it again before the
            // next segment there uses it (found by fault injection: the next user
            // faulted).
            arena::forget_committed(&(*seg).memid);
        }
    }
    let memid = (*seg).memid;
    let size = (*seg).segment_size;
    // What may be resident goes with the memory to the arena, which counts it until
    // it purges or reuses it (see `arena::free`); memory that goes back to the OS stops
    // counting now.
    let resident = if (*seg).kind == SegmentKind::Normal {
        (*seg).dirty_mask
    } else {
        SLICE_MASK_FULL
    };
    if memid.kind != MemKind::Arena {
        STATS_MAIN
            .committed
            .decrease(resident_slices(seg) * SEGMENT_SLICE_SIZE);
    }
    arena::free(seg as *mut u8, size, &memid, &resident);
}

// --- pages ---------------------------------------------------------------------------------

/// Allocate a page for blocks of `block_size` for `heap`: from a free span of the
/// thread's segments, a reclaimed abandoned segment, or a new segment. Blocks above
/// 16 MiB or alignments above 16 MiB get a huge segment of their own.
///
/// # Safety
/// `heap` must be the calling thread's initialised heap and `tld` its thread data.
pub unsafe fn page_alloc(
    heap: *mut Heap,
    block_size: usize,
    page_alignment: usize,
    tld: *mut Tld,
) -> *mut Page {
    if page_alignment > BLOCK_ALIGNMENT_MAX || block_size > LARGE_OBJ_SIZE_MAX {
        return huge_page_alloc(heap, block_size, page_alignment, tld);
    }
    let page_size = if block_size <= SMALL_OBJ_SIZE_MAX {
        SMALL_PAGE_SIZE
    } else if block_size <= MEDIUM_OBJ_SIZE_MAX {
        MEDIUM_PAGE_SIZE
    } else if block_size <= MEDIUM_PAGE_SIZE {
        align_up(block_size, SEGMENT_SLICE_SIZE)
    } else {
        align_up(block_size, MEDIUM_PAGE_SIZE)
    };
    let count = page_size / SEGMENT_SLICE_SIZE;
    let mut page = find_and_allocate(count, heap, tld);
    if page.is_null() {
        // A reclaimed page of this size class has free blocks: the caller's queue search
        // finds it (large pages have one block and never come back in use).
        if try_reclaim(heap, count, block_size, tld) && block_size <= MEDIUM_OBJ_SIZE_MAX {
            return ptr::null_mut();
        }
        // (whatever the search found: a segment reclaimed anyway, at its fourth visit,
        // may have room by now, as blocks freed into it meanwhile emptied pages)
        page = find_and_allocate(count, heap, tld);
        if page.is_null() {
            let seg = segment_alloc(0, 0, heap, tld);
            if seg.is_null() {
                return ptr::null_mut();
            }
            // Only the new segment has a span this big (the search above found none):
            // the page comes from it, so the segment is never left without a page (a
            // segment with no page is only freed by freeing its last page: it would stay
            // with the thread, and leak when the thread exits).
            page = find_and_allocate(count, heap, tld);
            debug_assert!(page.is_null() || page_segment(page) == seg);
        }
    }
    if !page.is_null() {
        (*tld).stats.page_committed.increase(page_size);
    }
    page
}

/// # Safety
/// `heap` must be an initialised heap of the calling thread and `tld` its thread data.
unsafe fn huge_page_alloc(
    heap: *mut Heap,
    size: usize,
    page_alignment: usize,
    tld: *mut Tld,
) -> *mut Page {
    let seg = segment_alloc(size, page_alignment, heap, tld);
    if seg.is_null() {
        return ptr::null_mut();
    }
    let info = (*seg).segment_info_slices;
    let count = (*seg).segment_slices - info;
    // Only the first `slice_entries` descriptors exist; a huge page is found from any
    // pointer in its first 32 MiB (+1 slice for the over-aligned case).
    let page = span_allocate(seg, info, count.min((*seg).slice_entries - info));
    (*page).slice_count = count as u32;
    point_back(seg, info, count, SLICES_PER_SEGMENT - info);
    (*page).is_huge = true;
    (*tld)
        .stats
        .page_committed
        .increase(count * SEGMENT_SLICE_SIZE);
    page
}

/// Return a page (with no live blocks) to its segment; free or abandon the segment when
/// that was its last page in use.
///
/// # Safety
/// `page` must be unlinked from any heap queue and owned by the calling thread.
pub unsafe fn page_free(page: *mut Page, force: bool, tld: *mut Tld) {
    let seg = page_segment(page);
    page_clear(page, tld);
    if (*seg).used == 0 {
        segment_free(seg, force, tld);
    } else if (*seg).used == (*seg).abandoned {
        segment_abandon(seg, tld);
    } else {
        try_purge(seg, false);
    }
}

// --- abandonment ---------------------------------------------------------------------------
//
// A segment changes hands in three ways, each through the abandoned map (`segment_map`),
// whose bit for the segment is the one claim token:
//
// * abandon (`segment_abandon`): its thread exits (or deletes its backing heap) while
//   pages of the segment still hold live blocks. The owner takes the free spans out of
//   its queues, marks every page `NeverDelayedFree` (remote frees then go to the pages'
//   own thread-free lists, never to the dead heap), stores `thread_id` 0 and sets the
//   bit, which publishes all of it (AcqRel RMW, see `segment_map`).
// * claim: clearing the bit. Three kinds of claimers: a thread that needs memory
//   (`try_reclaim`, visiting segments from a random place in the map), a thread freeing
//   a block into the segment (`try_reclaim_on_free`), and collection
//   (`abandoned_collect`, `reclaim_all`). The winner's AcqRel RMW acquires the
//   abandoning thread's writes; everyone else sees the bit clear and leaves the segment
//   alone (a free then pushes its block on the page's thread-free list as any remote
//   free does, which the claimer collects with an atomic swap).
// * a claimer either takes the segment over (`reclaim`: `thread_id` becomes its own id,
//   pages join its heap, spans its queues), frees it (no live blocks left), or puts it
//   back (sets the bit again, releasing what it changed: collected pages, purges).
//
// While claimed but not (yet) reclaimed a segment keeps `thread_id` 0: frees into it
// see an abandoned segment, fail to claim it and take the remote path; the claimer is
// its only user, so it may collect pages and free spans without further ordering.

/// Number of abandoned segments not yet reclaimed.
pub fn abandoned_count() -> usize {
    segment_map::abandoned_count()
}

/// Give up a segment whose pages are all abandoned (or free): make it claimable.
///
/// # Safety
/// `seg` must be owned (or claimed) by the caller, out of its span queues and counts,
/// with every page `NeverDelayedFree` and without a heap; the caller gives it up.
unsafe fn abandoned_mark(seg: *mut Segment) {
    // Release: anything that reads 0 here goes on to the map, whose RMW orders the rest.
    (*seg).thread_id.store(0, Ordering::Release);
    if !segment_map::mark_abandoned(seg) {
        // (outside the mapped address space: can only happen on exotic kernels; the
        // segment stays where it is, claimed by nobody)
        crate::mi_warning!("cannot track abandoned segment at {:p}", seg);
    }
}

/// What `check_free` found in an abandoned segment.
struct Checked {
    /// No live block is left: the segment can be freed (by reclaiming it).
    empty: bool,
    /// It has a free span big enough for the page asked for.
    has_span: bool,
    /// It has a page of the requested block size with a free block.
    right_page: bool,
}

/// For a claimed abandoned segment: take in each page's thread-free list and release
/// the pages with no live block left (their spans are not queued: the segment has no
/// owner yet). Tells whether the segment is empty now, and whether it has room for a
/// page of `slices_needed` slices or a page of `block_size` blocks with a free block
/// (0, 0: never).
///
/// # Safety
/// `seg` must be claimed from the abandoned map by the caller and not reclaimed yet;
/// `tld` the caller's thread data.
unsafe fn check_free(
    seg: *mut Segment,
    slices_needed: usize,
    block_size: usize,
    tld: *mut Tld,
) -> Checked {
    debug_assert!((*seg).thread_id.load(Ordering::Relaxed) == 0);
    let mut has_span = false;
    let mut right_page = false;
    let mut idx = (*seg).segment_info_slices;
    while idx < (*seg).slice_entries {
        let mut slice = slice_at(seg, idx);
        if (*slice).block_size > 1 {
            let page = slice;
            page::free_collect(page, false);
            if (*page).all_free() {
                if (*seg).kind == SegmentKind::Huge {
                    // Its one block was freed by a thread that could not take the
                    // segment over (we held it). Its span reaches past the slice table:
                    // the reclaim that frees the segment clears it.
                    return Checked {
                        empty: true,
                        has_span: false,
                        right_page: false,
                    };
                }
                (*seg).abandoned -= 1;
                (*tld).stats.pages_abandoned.decrease(1);
                // (coalescing may merge it with the spans before and after it)
                slice = page_clear(page, tld);
                idx = slice_index(seg, slice);
                if slices_needed > 0 && (*slice).slice_count as usize >= slices_needed {
                    has_span = true;
                }
            } else if block_size > 0
                && (*page).block_size == block_size
                && (*page).has_any_available()
            {
                right_page = true;
            }
        } else if (*slice).block_size == 0
            && slices_needed > 0
            && (*slice).slice_count as usize >= slices_needed
        {
            has_span = true;
        }
        idx += ((*slice).slice_count as usize).max(1);
    }
    Checked {
        empty: (*seg).used == 0,
        has_span,
        right_page,
    }
}

/// All used pages of the segment are abandoned: give the segment up.
///
/// # Safety
/// `seg` must be a live segment owned by the caller whose used pages are all abandoned,
/// and `tld` the caller's thread data; other threads may claim `seg` afterwards.
unsafe fn segment_abandon(seg: *mut Segment, tld: *mut Tld) {
    debug_assert!((*seg).used == (*seg).abandoned && (*seg).used > 0);
    // Take the free spans out of our queues.
    if (*seg).kind == SegmentKind::Normal {
        let mut idx = (*seg).segment_info_slices;
        while idx < (*seg).slice_entries {
            let slice = slice_at(seg, idx);
            let n = ((*slice).slice_count as usize).max(1);
            if (*slice).block_size == 0 {
                span_remove_from_queue(seg, slice, tld);
            }
            idx += n;
        }
    }
    // Purges that are due happen now. Forcing them (C's `abandoned_page_purge`) would
    // cost every thread exit a system call and the next thread to reclaim the segment
    // page faults; a segment outside an arena is forced as in 2.1.7, since it only goes
    // back to the OS as a whole.
    try_purge(
        seg,
        options::is_enabled(Opt::AbandonedPagePurge) || (*seg).memid.kind != MemKind::Arena,
    );
    (*tld).stats.segments_abandoned.increase(1);
    count_out(seg, tld);
    // (the first visit by a reclaiming thread counts 1)
    (*seg).abandoned_visits = 0;
    abandoned_mark(seg);
}

/// The thread gives `seg` up (frees or abandons it): take it out of the thread's counts,
/// the reverse of what `segment_alloc` and `reclaim` add. (A reclaimed segment leaves
/// `reclaim_count` too, else the count only grows and a thread that went through many
/// segments of exited threads soon may not reclaim on a free at all.)
///
/// # Safety
/// `seg` must be a live segment that the caller owns and is giving up, and `tld` the
/// caller's thread data.
unsafe fn count_out(seg: *mut Segment, tld: *mut Tld) {
    let segs = &mut (*tld).segments;
    segs.count -= 1;
    segs.current_size -= (*seg).segment_size;
    if (*seg).was_reclaimed {
        segs.reclaim_count = segs.reclaim_count.saturating_sub(1);
        (*seg).was_reclaimed = false;
    }
}

/// Abandon one page of an exiting thread's heap (it still has live blocks).
///
/// # Safety
/// `page` must be unlinked from its heap's queues, owned by the caller, and marked
/// `NeverDelayedFree` already.
pub unsafe fn page_abandon(page: *mut Page, tld: *mut Tld) {
    let seg = page_segment(page);
    page::set_heap(page, ptr::null_mut());
    (*tld).stats.pages_abandoned.increase(1);
    (*seg).abandoned += 1;
    debug_assert!((*seg).abandoned <= (*seg).used);
    if (*seg).used == (*seg).abandoned {
        segment_abandon(seg, tld);
    }
}

/// Take over a claimed abandoned segment: its pages join `heap`, its free spans our
/// queues. Empty pages are freed. Returns null if the whole segment turned out empty
/// and was freed, and with it whether a page for `requested_block_size` blocks with a
/// free block joined the heap (0: none wanted).
///
/// # Safety
/// `seg` must be claimed from the abandoned map by the caller (or be a huge segment it
/// claimed); `heap` and `tld` the caller's initialised heap and thread data.
unsafe fn reclaim(
    seg: *mut Segment,
    heap: *mut Heap,
    requested_block_size: usize,
    tld: *mut Tld,
) -> (*mut Segment, bool) {
    // Relaxed: the claim (an AcqRel RMW on the map) already ordered us after the
    // abandoning thread; other threads only compare this with their own id.
    (*seg).thread_id.store(thread_id(), Ordering::Relaxed);
    (*seg).abandoned_visits = 0;
    (*seg).was_reclaimed = true;
    let segs = &mut (*tld).segments;
    segs.reclaim_count += 1;
    segs.count += 1;
    segs.peak_count = segs.peak_count.max(segs.count);
    segs.current_size += (*seg).segment_size;
    segs.peak_size = segs.peak_size.max(segs.current_size);
    (*tld).stats.segments_abandoned.decrease(1);

    // First pass: queue the free spans and adopt the pages with live blocks; chain the
    // empty pages (through `next`) to free them once every span is queued, since freeing
    // coalesces with neighbouring spans.
    let mut right_page = false;
    let mut empty: *mut Page = ptr::null_mut();
    let mut idx = (*seg).segment_info_slices;
    while idx < (*seg).slice_entries {
        let slice = slice_at(seg, idx);
        let n = ((*slice).slice_count as usize).max(1);
        if (*slice).block_size == 0 {
            span_free(seg, idx, (*slice).slice_count as usize, false, tld);
        } else if (*slice).block_size > 1 {
            let page = slice;
            (*seg).abandoned -= 1;
            (*tld).stats.pages_abandoned.decrease(1);
            page::set_heap(page, heap);
            page::use_delayed_free(page, page::owned_state((*page).block_size), true);
            page::free_collect(page, false);
            if (*page).all_free() {
                (*page).next = empty;
                empty = page;
            } else {
                let pq = page_queue::page_queue_of(heap, page);
                page_queue::push(heap, pq, page);
                if requested_block_size != 0
                    && (*page).block_size == requested_block_size
                    && (*page).has_any_available()
                {
                    right_page = true;
                }
            }
        }
        idx += n;
    }
    while !empty.is_null() {
        let page = empty;
        empty = (*page).next;
        (*page).next = ptr::null_mut();
        page_clear(page, tld);
    }
    debug_assert!((*seg).abandoned == 0);
    if (*seg).used == 0 {
        segment_free(seg, false, tld);
        return (ptr::null_mut(), false);
    }
    (seg, right_page)
}

/// Give an empty page's slices back to its segment (and count it out), without
/// deciding the segment's fate: `page_free` does that; a reclaim walk decides itself.
/// Returns the first slice of the free span the page's slices ended up in.
///
/// # Safety
/// `page` must be a page with no block in use, of a segment owned (or claimed) by the
/// caller, and `tld` the caller's thread data.
unsafe fn page_clear(page: *mut Page, tld: *mut Tld) -> *mut Page {
    let seg = page_segment(page);
    let stats = &(*tld).stats;
    stats.pages.decrease(1);
    stats
        .page_committed
        .decrease((*page).slice_count as usize * SEGMENT_SLICE_SIZE);
    if (*page).is_huge {
        stats.huge.decrease((*page).block_size);
    } else if (*page).block_size > MEDIUM_OBJ_SIZE_MAX {
        stats.large.decrease((*page).block_size);
    }
    // Reset the descriptor (keeping the span fields).
    (*page).capacity = 0;
    (*page).reserved = 0;
    (*page).used = 0;
    (*page).free = ptr::null_mut();
    (*page).local_free = ptr::null_mut();
    (*page).flags.store(0, Ordering::Relaxed); // (owner only)
    (*page).retire_expire = 0;
    (*page).free_is_zero = false;
    // Relaxed: the page has no owner and no live blocks: nobody frees into it.
    (*page).xthread_free.store(0, Ordering::Relaxed);
    (*page).xheap.store(ptr::null_mut(), Ordering::Relaxed);
    (*page).page_start = ptr::null_mut();
    let span = if (*seg).kind == SegmentKind::Huge {
        (*page).block_size = 0;
        page
    } else {
        if options::get(Opt::DeprecatedPageReset) != 0 && (*seg).allow_purge {
            let idx = slice_index(seg, page);
            purge_range(seg, idx, (*page).slice_count as usize);
        }
        span_free_coalesce(page, tld)
    };
    (*seg).used -= 1;
    span
}

/// A search of the abandoned map for the calling thread, starting at a place that
/// differs between threads and searches (so that threads searching at once spread over
/// different segments; not for security).
///
/// # Safety
/// `tld` must be the caller's thread data.
unsafe fn abandoned_cursor(tld: *mut Tld) -> segment_map::AbandonedCursor {
    let segs = &mut (*tld).segments;
    segs.searches = segs.searches.wrapping_add(1);
    let seed = crate::random::shuffle(tld as u64 ^ segs.searches.rotate_left(32));
    segment_map::AbandonedCursor::new(seed as usize)
}

/// How many abandoned segments a thread that needs memory looks at: `max_segment_reclaim`
/// percent of them, at least 1 (8 if there are more than 8) and at most 1024.
fn reclaim_tries() -> usize {
    let percent = options::get_clamp(Opt::MaxSegmentReclaim, 0, 100) as usize;
    if percent == 0 {
        return 0;
    }
    let total = abandoned_count();
    if total == 0 {
        return 0;
    }
    let mut tries = (total.saturating_mul(percent) / 100).clamp(1, 1024);
    if total > 8 {
        tries = tries.max(8);
    }
    tries
}

/// Put a claimed abandoned segment back, with its due purges done (all with `force`).
///
/// # Safety
/// As `abandoned_mark`, for a segment claimed and not reclaimed by the caller.
unsafe fn put_back(seg: *mut Segment, force: bool) {
    try_purge(seg, force);
    abandoned_mark(seg);
}

/// When a thread needs a fresh span: look at abandoned segments first, as 2.1.7 does.
/// Each visit collects the segment's remote frees and releases its empty pages; an empty
/// segment is freed, one with a page of `block_size` blocks with a free block is
/// reclaimed at once, the first with only a free span of `slices_needed` slices is held
/// and reclaimed if no such page turns up among the segments visited (2.1.7 takes the
/// first with either: preferring the partly used page cut `pool`'s peak RSS by 3-10%
/// and `test-stress`'s by up to 11%, at no cost in time), one seen three times already
/// is reclaimed anyway (so abandoned segments do not pile up), and the others go back
/// with their due purges done. Returns true if a page of `block_size` blocks with a free
/// block joined the heap.
///
/// # Safety
/// `heap` and `tld` must be the caller's initialised heap and thread data.
unsafe fn try_reclaim(
    heap: *mut Heap,
    slices_needed: usize,
    block_size: usize,
    tld: *mut Tld,
) -> bool {
    if (*heap).no_reclaim {
        return false;
    }
    let mut tries = reclaim_tries();
    if tries == 0 {
        return false;
    }
    let mut cursor = abandoned_cursor(tld);
    // A segment with only a free span for us, held (claimed) while we look on for one
    // with a partly used page of the size class: reusing such a page leaves the span
    // free (and untouched, if it is clean) and empties abandoned segments sooner.
    let mut candidate: *mut Segment = ptr::null_mut();
    let take = |seg: *mut Segment| reclaim(seg, heap, block_size, tld).1;
    while tries > 0 {
        tries -= 1;
        let seg = cursor.claim_next();
        if seg.is_null() {
            break;
        }
        (*seg).abandoned_visits += 1;
        let suitable = is_suitable(seg, heap) && (*seg).kind == SegmentKind::Normal;
        let checked = check_free(seg, slices_needed, block_size, tld);
        if checked.empty {
            // Free it (reclaiming frees an empty segment) for whoever needs it next.
            let (freed, _) = reclaim(seg, heap, 0, tld);
            debug_assert!(freed.is_null());
        } else if checked.right_page && suitable {
            if !candidate.is_null() {
                put_back(candidate, false);
            }
            return take(seg);
        } else if checked.has_span && suitable && candidate.is_null() {
            candidate = seg;
        } else if (*seg).abandoned_visits > 3 && suitable {
            reclaim(seg, heap, 0, tld);
        } else {
            put_back(seg, false);
        }
    }
    !candidate.is_null() && take(candidate)
}

/// Whether a free into the abandoned segment `seg` may try to take it over (a huge
/// segment always, else as `abandoned_reclaim_on_free` says).
///
/// # Safety
/// `seg` must be a live segment.
#[inline]
pub unsafe fn may_reclaim_on_free(seg: *const Segment) -> bool {
    (*seg).kind == SegmentKind::Huge || options::is_enabled(Opt::AbandonedReclaimOnFree)
}

/// A free into an abandoned segment: take the segment over (if the option allows and
/// the thread has not reclaimed too much already). Returns true if the caller now owns
/// the segment.
///
/// # Safety
/// `seg` must be a live segment; `heap` the caller's initialised default heap.
pub unsafe fn try_reclaim_on_free(seg: *mut Segment, heap: *mut Heap) -> bool {
    if (*seg).kind == SegmentKind::Huge {
        // A huge segment holds one block: the one being freed. Taking it over frees the
        // whole segment at once, which needs no permission (the segment is not kept).
        if !segment_map::claim_abandoned(seg) {
            return false;
        }
        return !reclaim(seg, heap, 0, (*heap).tld).0.is_null();
    }
    if !options::is_enabled(Opt::AbandonedReclaimOnFree) || (*heap).no_reclaim {
        return false;
    }
    let tld = (*heap).tld;
    // (as 2.1.7: a thread that only frees must not end up owning many segments)
    if (*tld).segments.reclaim_count * 2 > (*tld).segments.count {
        return false;
    }
    if !is_suitable(seg, heap) || !segment_map::claim_abandoned(seg) {
        return false;
    }
    // The segment may be freed if all its pages were empty; the block being freed keeps
    // its page alive, so the segment survives.
    !reclaim(seg, heap, 0, tld).0.is_null()
}

/// Reclaim every abandoned segment into `heap` (forced collection on the main thread).
///
/// # Safety
/// `heap` must be the caller's initialised heap.
pub unsafe fn reclaim_all(heap: *mut Heap) {
    let tld = (*heap).tld;
    let mut cursor = segment_map::AbandonedCursor::new(0);
    loop {
        let seg = cursor.claim_next();
        if seg.is_null() {
            break;
        }
        reclaim(seg, heap, 0, tld);
    }
}

/// How many abandoned segments `abandoned_collect` visits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// All of them, purging everything due or not (`mi_collect(true)`).
    All,
    /// At most 1024, to bound the latency (`mi_collect(false)`).
    Many,
    /// A few (a thread's exit). 2.1.7 visits up to 1024 here too, so that every exit of
    /// a short-lived thread claims, inspects and puts back every abandoned segment: the
    /// cost grows with the number of abandoned segments and the exits contend on them.
    /// A few random ones per exit still reach each of them soon.
    Few,
}

/// `_mi_abandoned_collect`, run by every collect (also at thread exit): visit abandoned
/// segments (see `Sweep`), take in the blocks other threads freed into their pages,
/// release the pages that became empty, and free the segments that became empty (by
/// reclaiming them, which frees a segment with no page in use). The others get their due
/// purges and go back. Without this, a segment whose blocks were all freed by threads
/// that may not reclaim it stays abandoned, with all its memory, until some thread needs
/// a segment.
///
/// # Safety
/// `heap` must be the calling thread's initialised heap and `tld` its thread data.
pub unsafe fn abandoned_collect(heap: *mut Heap, sweep: Sweep, tld: *mut Tld) {
    let force = sweep == Sweep::All;
    let mut max = match sweep {
        Sweep::All => abandoned_count(),
        Sweep::Many => 1024,
        Sweep::Few => 8,
    };
    if max == 0 || abandoned_count() == 0 {
        return;
    }
    let mut cursor = abandoned_cursor(tld);
    while max > 0 {
        max -= 1;
        let seg = cursor.claim_next();
        if seg.is_null() {
            break;
        }
        if check_free(seg, 0, 0, tld).empty {
            let (freed, _) = reclaim(seg, heap, 0, tld);
            debug_assert!(freed.is_null());
        } else {
            put_back(seg, force);
        }
    }
}

/// `mi_debug_show_arenas`: the arenas' bitmaps, with the abandoned segments of each.
pub fn debug_show_arenas(show_inuse: bool, show_abandoned: bool, show_purge: bool) {
    let abandoned: fn(usize) -> bool = segment_map::is_marked_abandoned;
    arena::debug_show(show_inuse, show_abandoned.then_some(abandoned), show_purge);
}

/// Purge the pending ranges of all the thread's segments that hold free spans.
///
/// # Safety
/// `tld` must be the caller's thread data.
pub unsafe fn collect_purges(tld: *mut Tld, force: bool) {
    for bin in 0..=SEGMENT_BIN_MAX {
        let mut slice = (*tld).segments.spans[bin].first;
        while !slice.is_null() {
            let seg = page_segment(slice);
            if (*seg).purge_expire != 0 {
                try_purge(seg, force);
            }
            slice = (*slice).next;
        }
    }
}

/// Huge blocks freed by another thread: give their memory back right away (all but the
/// first word, which holds the free-list link), since the owner may not free the segment
/// for a long time. `usable` is the number of bytes the program could use.
///
/// # Safety
/// `block` must be the (only) block of a huge page, being freed.
pub unsafe fn huge_page_reset(block: *mut u8, usable: usize) {
    let seg = ptr_segment(block);
    if !(*seg).allow_purge {
        return;
    }
    if usable > size_of::<usize>() {
        crate::os::purge(block.add(size_of::<usize>()), usable - size_of::<usize>());
    }
}

/// Grow the single block of a large page in place by taking over the free span that
/// follows it (the `realloc` of a growing buffer then needs no copy). Returns true if
/// the block now has at least `new_block_size` bytes.
///
/// # Safety
/// `p` must be a live block owned by the calling thread.
pub unsafe fn try_grow_large(p: *mut u8, new_block_size: usize) -> bool {
    let seg = ptr_segment(p);
    if seg.is_null()
        || (*seg).kind != SegmentKind::Normal
        || (*seg).thread_id.load(Ordering::Relaxed) != thread_id()
    {
        return false;
    }
    let page = page_of(seg, p);
    if (*page).page_start != p
        || (*page).reserved != 1
        || (*page).used != 1
        || (*page).block_size <= MEDIUM_OBJ_SIZE_MAX
        || (*page).has_aligned()
    {
        return false;
    }
    // Grow by at least half the current size, so repeated small growth stays cheap.
    let old_size = (*page).block_size;
    let want = new_block_size.max(old_size + old_size / 2);
    let mut new_size = crate::os::good_alloc_size(want);
    if new_size > LARGE_OBJ_SIZE_MAX {
        new_size = crate::os::good_alloc_size(new_block_size);
        if new_size > LARGE_OBJ_SIZE_MAX {
            return false;
        }
    }
    let idx = slice_index(seg, page);
    let have = (*page).slice_count as usize;
    let need = align_up(new_size, SEGMENT_SLICE_SIZE) / SEGMENT_SLICE_SIZE;
    if need <= have {
        (*page).block_size = have * SEGMENT_SLICE_SIZE;
        return (*page).block_size >= new_block_size;
    }
    let next_idx = idx + have;
    if next_idx >= (*seg).slice_entries {
        return false;
    }
    let next = slice_at(seg, next_idx);
    if (*next).block_size != 0 || (*next).slice_count == 0 {
        return false;
    }
    let avail = (*next).slice_count as usize;
    // Take what is needed (or the whole span if the rest would be tiny).
    let mut take = need - have;
    if take > avail {
        take = avail;
        if have + take < align_up(new_block_size, SEGMENT_SLICE_SIZE) / SEGMENT_SLICE_SIZE {
            return false;
        }
    }
    if !ensure_accessible(seg, next_idx, take) {
        return false;
    }
    let heap = (*page).heap();
    let tld = (*heap).tld;
    span_remove_from_queue(seg, next, tld);
    if avail > take {
        span_free(seg, next_idx + take, avail - take, false, tld);
    }
    let count = have + take;
    // Re-describe the page's slices (like `span_allocate`, without counting a new page).
    (*page).slice_count = count as u32;
    point_back(seg, idx, count, MAX_SLICE_OFFSET_COUNT);
    mark_dirty(seg, next_idx, take);
    mask_clear(&mut (*seg).purge_mask, next_idx, take);
    let new_bsize = count * SEGMENT_SLICE_SIZE;
    let stats = &(*tld).stats;
    stats.large.decrease(old_size);
    stats.large.increase(new_bsize);
    (*page).block_size = new_bsize;
    (*page).block_size_shift = 0;
    new_bsize >= new_block_size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_bins() {
        assert_eq!(slice_bin(0), 0);
        assert_eq!(slice_bin(1), 1);
        for n in 1..=8 {
            assert_eq!(slice_bin(n), n);
        }
        assert!(slice_bin(512) <= SEGMENT_BIN_MAX);
        let mut last = 0;
        for n in 1..=512 {
            let b = slice_bin(n);
            assert!(b >= last && b <= SEGMENT_BIN_MAX);
            last = b;
        }
    }

    #[test]
    fn mask_runs_cross_words() {
        let mut m: SliceMask = [0; 8];
        assert_eq!(mask_next_run(&m, 0), None);
        mask_set(&mut m, 3, 2);
        mask_set(&mut m, 60, 10); // crosses into word 1
        mask_set(&mut m, 128, 192); // three whole words
        mask_set(&mut m, 511, 1); // the last bit
        assert_eq!(mask_next_run(&m, 0), Some((3, 2)));
        assert_eq!(mask_next_run(&m, 4), Some((4, 1)));
        assert_eq!(mask_next_run(&m, 5), Some((60, 10)));
        assert_eq!(mask_next_run(&m, 70), Some((128, 192)));
        assert_eq!(mask_next_run(&m, 320), Some((511, 1)));
        assert_eq!(mask_next_run(&[usize::MAX; 8], 0), Some((0, 512)));
        // Every bit of a random mask is in exactly one run.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for w in m.iter_mut() {
            x = crate::random::shuffle(x);
            *w = x as usize & (x >> 7) as usize;
        }
        let mut seen: SliceMask = [0; 8];
        let mut from = 0;
        while let Some((i, n)) = mask_next_run(&m, from) {
            assert!(!mask_any(&seen, i, n) && (i == 0 || !mask_any(&m, i - 1, 1)));
            mask_set(&mut seen, i, n);
            from = i + n;
        }
        assert_eq!(seen, m);
    }

    #[test]
    fn ptr_segment_rounds_down() {
        let base = 64 * SEGMENT_SIZE;
        assert_eq!(ptr_segment((base + 100) as *const u8) as usize, base);
        assert_eq!(
            ptr_segment((base + SEGMENT_SIZE) as *const u8) as usize,
            base
        );
        assert!(ptr_segment(core::ptr::null()).is_null());
    }
}
