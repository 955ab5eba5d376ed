//! Size classes ("bins") and the per-heap queues of pages, one per bin, plus the queue
//! of full pages. The first page of each small bin is mirrored in the heap's direct
//! table `pages_free_direct`, which is what the malloc fast path reads.

use crate::state::{bin, bin_block_size, Delayed, Heap, Page, PageQueue, PAGE_EMPTY};
use crate::types::*;
use core::ptr;

/// The queue a page belongs to in `heap` (the full queue if it is marked full).
///
/// # Safety
/// `page` must be a live page of `heap`.
#[inline]
pub unsafe fn page_queue_of(heap: *mut Heap, page: *const Page) -> *mut PageQueue {
    let b = if (*page).is_in_full() {
        BIN_FULL
    } else if (*page).block_size > MEDIUM_OBJ_SIZE_MAX {
        BIN_HUGE
    } else {
        bin((*page).block_size)
    };
    &mut (*heap).pages[b]
}

/// For the word size `w` of a small bin's block size: the first word size whose
/// direct-table entry belongs to that bin. The range starts after the word size of the
/// previous distinct bin (bins 3, 5, 7 are never selected on 64-bit, so bins that map to
/// ours are skipped). Only entries at block sizes of bins are meaningful.
const DIRECT_START: [u8; PAGES_DIRECT] = {
    let mut t = [0u8; PAGES_DIRECT];
    let mut w = 2;
    while w < PAGES_DIRECT {
        let b = bin(w * INTPTR_SIZE);
        let mut prev = b - 1;
        while prev > 0 && bin(bin_block_size(prev)) == b {
            prev -= 1;
        }
        t[w] = (wsize_from_size(bin_block_size(prev)) + 1) as u8;
        w += 1;
    }
    t
};

/// Keep the direct table in sync with the first page of a small bin: every word size
/// that maps to this bin points at `first` (or at the empty page).
///
/// # Safety
/// `pq` must be one of `heap`'s queues.
unsafe fn update_direct(heap: *mut Heap, pq: *mut PageQueue) {
    let size = (*pq).block_size;
    if size > SMALL_SIZE_MAX {
        return;
    }
    let page = if (*pq).first.is_null() {
        PAGE_EMPTY.get()
    } else {
        (*pq).first
    };
    let idx = wsize_from_size(size);
    let direct = &mut (*heap).pages_free_direct;
    if direct[idx] == page {
        return; // already up to date
    }
    let start = DIRECT_START[idx] as usize;
    let end = idx.min(PAGES_DIRECT - 1);
    let mut w = start;
    while w <= end {
        direct[w] = page;
        w += 1;
    }
}

/// Whether a page is linked in a queue (checked in debug builds).
///
/// # Safety
/// `pq` must be a valid queue.
pub unsafe fn contains(pq: *const PageQueue, page: *const Page) -> bool {
    let mut p = (*pq).first;
    while !p.is_null() {
        if ptr::eq(p, page) {
            return true;
        }
        p = (*p).next;
    }
    false
}

/// Unlink a page from its queue.
///
/// # Safety
/// `page` must be linked in `pq`, a queue of `heap`.
pub unsafe fn remove(heap: *mut Heap, pq: *mut PageQueue, page: *mut Page) {
    debug_assert!(crate::types::DEBUG < 3 || contains(pq, page));
    if !(*page).prev.is_null() {
        (*(*page).prev).next = (*page).next;
    }
    if !(*page).next.is_null() {
        (*(*page).next).prev = (*page).prev;
    }
    if page == (*pq).last {
        (*pq).last = (*page).prev;
    }
    if page == (*pq).first {
        (*pq).first = (*page).next;
        update_direct(heap, pq);
    }
    (*heap).page_count -= 1;
    (*page).next = ptr::null_mut();
    (*page).prev = ptr::null_mut();
    (*page).set_in_full(false);
}

/// Link a page at the front of a queue.
///
/// # Safety
/// `page` must be unlinked and owned by `heap`; `pq` one of `heap`'s queues.
pub unsafe fn push(heap: *mut Heap, pq: *mut PageQueue, page: *mut Page) {
    (*page).set_in_full((*pq).is_full());
    (*page).next = (*pq).first;
    (*page).prev = ptr::null_mut();
    if !(*pq).first.is_null() {
        (*(*pq).first).prev = page;
        (*pq).first = page;
    } else {
        (*pq).first = page;
        (*pq).last = page;
    }
    update_direct(heap, pq);
    (*heap).page_count += 1;
}

/// Move a page from one queue to the end of another (full ⇄ its bin).
///
/// # Safety
/// `page` must be linked in `from`; both queues belong to `heap`.
pub unsafe fn enqueue_from(
    heap: *mut Heap,
    to: *mut PageQueue,
    from: *mut PageQueue,
    page: *mut Page,
) {
    remove(heap, from, page);
    (*heap).page_count += 1; // `remove` counted it out; it stays in the heap
    (*page).prev = (*to).last;
    (*page).next = ptr::null_mut();
    if !(*to).last.is_null() {
        (*(*to).last).next = page;
        (*to).last = page;
    } else {
        (*to).first = page;
        (*to).last = page;
        update_direct(heap, to);
    }
    (*page).set_in_full((*to).is_full());
}

/// Append all pages of `append` (a queue of another heap) to `pq`, re-pointing them at
/// `heap`. Returns the number of pages moved.
///
/// # Safety
/// Both queues must be for the same bin; the pages must be owned by the calling thread.
pub unsafe fn append(heap: *mut Heap, pq: *mut PageQueue, append: *mut PageQueue) -> usize {
    let mut count = 0;
    let mut page = (*append).first;
    while !page.is_null() {
        crate::page::set_heap(page, heap);
        // Wait out a cross-thread free that is pushing on the old heap's delayed list.
        crate::page::use_delayed_free(page, crate::state::Delayed::UseDelayedFree, false);
        count += 1;
        page = (*page).next;
    }
    if (*append).first.is_null() {
        return 0;
    }
    if (*pq).last.is_null() {
        (*pq).first = (*append).first;
        (*pq).last = (*append).last;
        update_direct(heap, pq);
    } else {
        (*(*pq).last).next = (*append).first;
        (*(*append).first).prev = (*pq).last;
        (*pq).last = (*append).last;
    }
    count
}

// --- full pages ------------------------------------------------------------------------

/// Move an exhausted page to the heap's full queue, where allocation won't look at it.
/// Remote frees then go through the heap's delayed list so the owner notices them.
///
/// # Safety
/// `page` must be linked in `pq` of its owning heap (the caller's).
pub unsafe fn to_full(page: *mut Page, pq: *mut PageQueue) {
    debug_assert!(!(*page).is_in_full());
    let heap = (*page).heap();
    crate::page::use_delayed_free(page, Delayed::UseDelayedFree, false);
    if (*page).is_in_full() {
        return;
    }
    enqueue_from(heap, &mut (*heap).pages[BIN_FULL], pq, page);
    // A remote free may have happened just before the state changed: collect it.
    crate::page::free_collect(page, false);
}

/// A block was freed into a full page: move it back to its size queue.
///
/// # Safety
/// `page` must be owned by the calling thread and marked full.
pub unsafe fn unfull(page: *mut Page) {
    debug_assert!((*page).is_in_full());
    if !(*page).is_in_full() {
        return;
    }
    let heap = (*page).heap();
    let pqfull: *mut PageQueue = &mut (*heap).pages[BIN_FULL];
    (*page).set_in_full(false); // to compute the right queue
    let pq = page_queue_of(heap, page);
    (*page).set_in_full(true);
    enqueue_from(heap, pq, pqfull, page);
    crate::page::use_delayed_free(page, Delayed::NoDelayedFree, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_mimalloc() {
        // (size, expected block size) from api.md's verified mi_good_size table (release).
        let table = [
            (0, 8),
            (1, 8),
            (8, 8),
            (9, 16),
            (16, 16),
            (17, 32),
            (24, 32),
            (25, 32),
            (33, 48),
            (40, 48),
            (48, 48),
            (56, 64),
            (65, 80),
            (100, 112),
            (129, 160),
            (200, 224),
            (257, 320),
            (500, 512),
            (1000, 1024),
            (1025, 1280),
            (8193, 10240),
            (131072, 131072),
        ];
        for (size, bs) in table {
            assert_eq!(bin_block_size(bin(size)), bs, "size {size}");
        }
    }

    #[test]
    fn bin_table_values() {
        let expect = [
            8, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448,
            512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048,
        ];
        for (i, e) in expect.iter().enumerate() {
            assert_eq!(bin_block_size(i), *e, "bin {i}");
        }
        assert_eq!(bin_block_size(52), 131072);
        assert_eq!(bin_block_size(72), 4194304);
        assert_eq!(bin_block_size(BIN_HUGE), 131080);
        assert_eq!(bin_block_size(BIN_FULL), 131088);
    }

    /// Fake pages (not in segments) are enough for the queue operations.
    fn fake_page(block_size: usize) -> Box<Page> {
        let mut p = Box::new(Page::empty());
        p.block_size = block_size;
        p
    }

    #[test]
    fn queue_push_remove_keeps_links_and_direct_table() {
        let mut heap = Box::new(Heap::empty());
        let h: *mut Heap = &mut *heap;
        let b = bin(48);
        let mut pages: Vec<Box<Page>> = (0..3).map(|_| fake_page(48)).collect();
        let ptrs: Vec<*mut Page> = pages.iter_mut().map(|p| &mut **p as *mut Page).collect();
        // SAFETY: the fake pages outlive the queue operations; single-threaded.
        unsafe {
            let pq: *mut PageQueue = &mut (*h).pages[b];
            for &p in &ptrs {
                push(h, pq, p);
            }
            assert_eq!((*h).page_count, 3);
            assert_eq!((*pq).first, ptrs[2]);
            assert_eq!((*pq).last, ptrs[0]);
            // Word sizes 5 and 6 (33..48 bytes) map to this bin and see its first page.
            assert_eq!((*h).pages_free_direct[wsize_from_size(48)], ptrs[2]);
            assert_eq!((*h).pages_free_direct[wsize_from_size(33)], ptrs[2]);
            assert_ne!((*h).pages_free_direct[wsize_from_size(32)], ptrs[2]);
            remove(h, pq, ptrs[2]);
            assert_eq!((*pq).first, ptrs[1]);
            assert_eq!((*h).pages_free_direct[wsize_from_size(48)], ptrs[1]);
            assert!((*ptrs[1]).prev.is_null());
            // Move the middle page to the full queue and back.
            let full: *mut PageQueue = &mut (*h).pages[BIN_FULL];
            enqueue_from(h, full, pq, ptrs[0]);
            assert!((*ptrs[0]).is_in_full() && contains(full, ptrs[0]) && !contains(pq, ptrs[0]));
            assert_eq!((*h).page_count, 2);
            enqueue_from(h, pq, full, ptrs[0]);
            assert!(!(*ptrs[0]).is_in_full() && (*pq).last == ptrs[0]);
            remove(h, pq, ptrs[1]);
            remove(h, pq, ptrs[0]);
            assert!((*pq).is_empty() && (*h).page_count == 0);
            assert_eq!(
                (*h).pages_free_direct[wsize_from_size(48)],
                PAGE_EMPTY.get()
            );
        }
    }

    #[test]
    fn bins_are_monotonic_and_cover() {
        let mut last = 0;
        for size in 1..=MEDIUM_OBJ_SIZE_MAX {
            let b = bin(size);
            assert!(b >= last);
            assert!(bin_block_size(b) >= size);
            assert!(b != 3 && b != 5 && b != 7);
            last = b;
        }
        assert_eq!(bin(MEDIUM_OBJ_SIZE_MAX + 1), BIN_HUGE);
    }
}
