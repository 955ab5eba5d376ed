//! Pages for a heap: the allocation slow path's search for a page with a free block in
//! the heap's queue (collecting the free lists of the pages it passes, retiring full
//! ones), a fresh page from the thread's segments when the queue has none, and the way
//! back: retiring a page whose last block was freed and returning it to its segment.
//!
//! It sits above `segment` (where pages come from) and below `heap`, which collects
//! retired pages, and `alloc`, whose slow path starts here.

use crate::page;
use crate::page_queue;
use crate::segment;
use crate::state::PageQueue;
use crate::state::{Heap, Page};
use crate::types::*;
use core::ptr;

/// Return a page with no used blocks to its segment.
///
/// # Safety
/// `page` must be owned by the calling thread, linked in `pq`, and have `used == 0`.
pub unsafe fn free_page(page: *mut Page, pq: *mut PageQueue, force: bool) {
    debug_assert!((*page).used == 0);
    let heap = (*page).heap();
    page_queue::remove(heap, pq, page);
    page::set_heap(page, ptr::null_mut());
    let tld = (*heap).tld;
    segment::page_free(page, force, tld);
}

/// The last block of a page was freed. Keep the page a little while if it is the only
/// page of its size class (allocation would want a fresh one right away), otherwise give
/// it back to the segment.
///
/// # Safety
/// `page` must be owned by the calling thread, linked in its queue, and all free.
pub unsafe fn retire(page: *mut Page) {
    debug_assert!((*page).all_free());
    let heap = (*page).heap();
    let pq = page_queue::page_queue_of(heap, page);
    (*page).set_has_aligned(false);
    let bsize = (*page).block_size;
    if !(*pq).is_special() && (*pq).last == page && (*pq).first == page {
        crate::state::tld_stats(heap).page_no_retire.increase(1);
        (*page).retire_expire = if bsize <= SMALL_OBJ_SIZE_MAX {
            RETIRE_CYCLES
        } else {
            RETIRE_CYCLES / 4
        };
        let index = pq.offset_from((*heap).pages.as_ptr()) as usize;
        if index < (*heap).page_retired_min {
            (*heap).page_retired_min = index;
        }
        if index > (*heap).page_retired_max {
            (*heap).page_retired_max = index;
        }
        return;
    }
    free_page(page, pq, false);
}

/// Free retired pages whose grace period ran out (all of them with `force`).
///
/// # Safety
/// `heap` must be the caller's own heap.
pub unsafe fn collect_retired(heap: *mut Heap, force: bool) {
    let mut min = BIN_FULL;
    let mut max = 0;
    let mut bin = (*heap).page_retired_min;
    while bin <= (*heap).page_retired_max && bin < BIN_FULL {
        let pq: *mut PageQueue = &mut (*heap).pages[bin];
        let page = (*pq).first;
        if !page.is_null() && (*page).retire_expire != 0 {
            if (*page).all_free() {
                (*page).retire_expire -= 1;
                if force || (*page).retire_expire == 0 {
                    free_page(page, pq, force);
                } else {
                    min = min.min(bin);
                    max = max.max(bin);
                }
            } else {
                (*page).retire_expire = 0;
            }
        }
        bin += 1;
    }
    (*heap).page_retired_min = min;
    (*heap).page_retired_max = max;
}

// --- finding a page with free blocks (the allocation slow path) --------------------------

/// Get a fresh page for queue `pq` from the thread's segments.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread and `pq` one of its queues.
unsafe fn fresh(heap: *mut Heap, pq: *mut PageQueue) -> *mut Page {
    let page = segment::page_alloc(heap, (*pq).block_size, 0, (*heap).tld);
    if page.is_null() {
        return ptr::null_mut();
    }
    page::init(heap, page, (*pq).block_size);
    crate::state::tld_stats(heap).pages.increase(1);
    page_queue::push(heap, pq, page);
    page
}

/// Walk a queue for a page with free blocks, collecting and extending as it goes and
/// moving exhausted pages to the full queue. Falls back to a fresh page.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread and `pq` one of its queues.
unsafe fn queue_find_free_ex(heap: *mut Heap, pq: *mut PageQueue, first_try: bool) -> *mut Page {
    let mut count = 0usize;
    let mut page = (*pq).first;
    while !page.is_null() {
        let next = (*page).next;
        count += 1;
        page::free_collect(page, false);
        if (*page).immediate_available() {
            break;
        }
        if (*page).capacity < (*page).reserved {
            page::extend_free(heap, page);
            break;
        }
        page_queue::to_full(page, pq);
        page = next;
    }
    crate::state::tld_stats(heap).searches.increase(count);
    if page.is_null() {
        collect_retired(heap, false);
        page = fresh(heap, pq);
        if page.is_null() && first_try {
            // A reclaimed segment may have brought pages into this queue.
            page = queue_find_free_ex(heap, pq, false);
        }
    } else {
        (*page).retire_expire = 0;
    }
    page
}

/// The page to allocate a small or medium block of `size` bytes (padding included).
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
unsafe fn find_free_page(heap: *mut Heap, size: usize) -> *mut Page {
    let pq: *mut PageQueue = &mut (*heap).pages[crate::state::bin(size)];
    let page = (*pq).first;
    if !page.is_null() {
        if SECURE >= 3
            && (*page).capacity < (*page).reserved
            && crate::state::random_next(heap) & 1 == 1
        {
            // Secure: sometimes extend rather than reuse, so reuse order is unpredictable.
            page::extend_free(heap, page);
        } else {
            page::free_collect(page, false);
        }
        if (*page).immediate_available() {
            (*page).retire_expire = 0;
            return page;
        }
    }
    queue_find_free_ex(heap, pq, true)
}

/// A page with a single block for a large (≤ 16 MiB) or huge request, or for a request
/// whose alignment exceeds what normal pages guarantee.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
unsafe fn large_huge_alloc(heap: *mut Heap, size: usize, page_alignment: usize) -> *mut Page {
    let block_size = crate::os::good_alloc_size(size);
    let pq: *mut PageQueue = &mut (*heap).pages[BIN_HUGE];
    let page = segment::page_alloc(heap, block_size, page_alignment, (*heap).tld);
    if page.is_null() {
        return ptr::null_mut();
    }
    // A huge page is one block spanning the whole page area.
    let bsize = if (*page).is_huge {
        crate::state::page_start(crate::state::page_segment(page), page, 0).1
    } else {
        block_size
    };
    page::init(heap, page, bsize);
    page_queue::push(heap, pq, page);
    let stats = crate::state::tld_stats(heap);
    stats.pages.increase(1);
    if (*page).is_huge {
        stats.huge.increase(bsize);
        stats.huge_count.increase(1);
    } else {
        stats.large.increase(bsize);
        stats.large_count.increase(1);
    }
    page
}

/// A page of `heap` with a free block for `size` (with padding; `usize::MAX` for an
/// impossible size), made if need be; null when out of memory.
///
/// # Safety
/// `heap` must be the calling thread's initialised heap.
pub(crate) unsafe fn find_page(heap: *mut Heap, size: usize, huge_alignment: usize) -> *mut Page {
    let req_size = if size == usize::MAX {
        size
    } else {
        size - PADDING_SIZE
    };
    if req_size > MEDIUM_OBJ_SIZE_MAX - PADDING_SIZE || huge_alignment > 0 {
        if req_size > MAX_ALLOC_SIZE {
            crate::mi_error!(
                EOVERFLOW,
                "allocation request is too large ({} bytes)",
                req_size
            );
            return ptr::null_mut();
        }
        large_huge_alloc(heap, size, huge_alignment)
    } else {
        find_free_page(heap, size)
    }
}
