//! Heaps: the unit of allocation. Each thread has a backing heap (created lazily) and a
//! default heap used by `malloc`; more heaps can be made with `mi_heap_new`. A heap owns
//! pages in queues per size class; only its thread allocates from it, any thread frees.

use crate::arena::ArenaId;
use crate::output;
use crate::page;
use crate::page_queue;
use crate::segment;
use crate::state::{
    is_initialized, Block, Delayed, Heap, Page, PageQueue, Tld, HEAP_EMPTY, PAGE_EMPTY,
};
use crate::sync::{thread_id, AtomicWord, Ordering};
use crate::types::*;
use core::ptr;

/// Put `heap` in the empty state in place. A `Heap` is some 3 KiB: built on the stack
/// first (as `ptr::write(heap, Heap::empty())` does), it would touch stack pages that a
/// new thread has never used, and each costs a page fault (glibc gives its cached thread
/// stacks back to the kernel), which is most of what a short-lived thread spends in the
/// allocator. Copying from the never-written empty heap touches only `heap`.
///
/// # Safety
/// `heap` must point to writable memory for a `Heap` that holds nothing to drop.
unsafe fn write_empty(heap: *mut Heap) {
    // SAFETY: `HEAP_EMPTY` is never written and does not overlap `heap`.
    ptr::copy_nonoverlapping(HEAP_EMPTY.get() as *const Heap, heap, 1);
}

/// Make thread data that an exited thread left behind ready for a new thread. Its exit
/// left no segment, span or statistic behind (checked in debug builds): only the few
/// fields that keep history are reset, so that a new thread does not write the whole
/// `Tld` (some 6 KiB) again.
///
/// # Safety
/// `tld` must be the data of a thread that ran `thread_done`, owned by the caller.
pub unsafe fn tld_reuse(tld: *mut Tld) {
    let segs = &mut (*tld).segments;
    debug_assert!(segs.count == 0 && segs.current_size == 0 && segs.reclaim_count == 0);
    debug_assert!(segs
        .spans
        .iter()
        .all(|sq| sq.first.is_null() && sq.last.is_null()));
    segs.peak_count = 0;
    segs.peak_size = 0;
    (*tld).heartbeat = 0;
    (*tld).recurse = false;
    (*tld).heap_backing = ptr::null_mut();
    (*tld).heaps = ptr::null_mut();
}

/// Initialise a heap for the calling thread and link it into `tld`'s heap list.
///
/// # Safety
/// `heap` must point to writable memory for a `Heap`; `tld` to the caller's thread data.
pub unsafe fn init(heap: *mut Heap, tld: *mut Tld, arena_id: ArenaId, no_reclaim: bool, tag: u8) {
    write_empty(heap);
    init_fields(heap, tld, arena_id, no_reclaim, tag);
}

/// `init` for a heap whose page queues and direct table are empty already: the backing
/// heap of thread data that a thread left behind (its exit gave up every page), or on
/// fresh memory after `write_empty`. Only the other fields are written.
///
/// # Safety
/// As `init`, and `heap`'s queues and direct table must be in the empty state.
pub unsafe fn init_reused(heap: *mut Heap, tld: *mut Tld) {
    debug_assert!((*heap)
        .pages
        .iter()
        .all(|pq| pq.first.is_null() && pq.last.is_null()));
    debug_assert!((*heap)
        .pages_free_direct
        .iter()
        .all(|p| *p == PAGE_EMPTY.get()));
    init_fields(heap, tld, 0, false, 0);
}

/// The fields of `init` other than the page queues and the direct table.
///
/// # Safety
/// As `init`.
unsafe fn init_fields(
    heap: *mut Heap,
    tld: *mut Tld,
    arena_id: ArenaId,
    no_reclaim: bool,
    tag: u8,
) {
    (*heap).tld = tld;
    // Relaxed: nobody else knows this heap yet.
    (*heap).thread_delayed_free.store(0, Ordering::Relaxed);
    (*heap).thread_id = thread_id();
    (*heap).arena_id = arena_id;
    (*heap).no_reclaim = no_reclaim;
    (*heap).tag = tag;
    (*heap).page_count = 0;
    (*heap).page_retired_min = 0;
    (*heap).page_retired_max = 0;
    let is_main = heap == crate::init::HEAP_MAIN.get();
    if is_main {
        // The main heap keys the process: its cookie goes into every segment's.
        (*heap).random.init();
    } else {
        // A stream of the process key: no system call (see `Random::new_stream`); its
        // first block is computed when first needed.
        (*heap).random = crate::random::Random::new_stream();
    }
    if is_main || ENCODE_FREELIST {
        (*heap).cookie = (*heap).random.next() as usize | 1;
        (*heap).keys[0] = (*heap).random.next() as usize;
        (*heap).keys[1] = (*heap).random.next() as usize;
    } else {
        // Without encoded lists the keys are unused and the cookie only names the heap:
        // no need to run the generator for them.
        (*heap).cookie = crate::random::shuffle(heap as u64 ^ thread_id() as u64) as usize | 1;
        (*heap).keys = [0, 0];
    }
    if is_main {
        // The main heap keys the process's segment cookies.
        crate::segment_map::set_segment_key((*heap).cookie);
    }
    (*heap).next = (*tld).heaps;
    (*tld).heaps = heap;
}

/// Forget all pages (after they were moved or freed).
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread whose pages were all moved
/// or freed.
unsafe fn reset_pages(heap: *mut Heap) {
    // (copied from the empty heap rather than built on the stack: see `write_empty`)
    let empty = HEAP_EMPTY.get() as *const Heap;
    ptr::copy_nonoverlapping(
        &(*empty).pages_free_direct,
        &mut (*heap).pages_free_direct,
        1,
    );
    ptr::copy_nonoverlapping(&(*empty).pages, &mut (*heap).pages, 1);
    (*heap).page_count = 0;
    (*heap).page_retired_min = 0;
    (*heap).page_retired_max = 0;
}

// --- deferred work -------------------------------------------------------------------------

/// Run the user's deferred-free hook (once per slow path and per collect).
///
/// # Safety
/// `heap` must be the caller's initialised heap.
pub unsafe fn deferred_free(heap: *mut Heap, force: bool) {
    let tld = (*heap).tld;
    (*tld).heartbeat += 1;
    if let Some((hook, arg)) = output::deferred_free_hook() {
        if !(*tld).recurse {
            (*tld).recurse = true;
            hook(force, (*tld).heartbeat, arg);
            (*tld).recurse = false;
        }
    }
}

/// Free the blocks other threads put on the delayed list. Blocks whose page is busy
/// (a concurrent delayed push) go back on the list. Returns true if all were freed.
///
/// # Safety
/// `heap` must be the caller's initialised heap.
pub unsafe fn delayed_free_partial(heap: *mut Heap) -> bool {
    let mut block = delayed_take(&(*heap).thread_delayed_free) as *mut Block;
    let mut all = true;
    while !block.is_null() {
        crate::track::link_open(block as *const u8);
        let next = page::ptr_decode(heap as usize, (*block).next, &(*heap).keys);
        crate::track::link_close(block as *const u8);
        if !crate::free::free_delayed_block(block) {
            all = false;
            push_delayed(heap, block);
        }
        block = next;
    }
    all
}

/// Push a block on a heap's delayed list (used by remote frees and to requeue).
///
/// # Safety
/// `block` must be a block being freed into a page of `heap`.
pub unsafe fn push_delayed(heap: *mut Heap, block: *mut Block) {
    delayed_push(&(*heap).thread_delayed_free, block as usize, |head| {
        crate::track::link_open(block as *const u8);
        (*block).next = page::ptr_encode(heap as usize, head as *mut Block, &(*heap).keys);
        crate::track::link_close(block as *const u8);
    })
}

/// The delayed-list protocol (generic, so the loom models in `crate::models` check this
/// very code): push `block`, whose link word `set_next` writes, on the list at `head`.
#[inline]
pub(crate) fn delayed_push<A: AtomicWord>(head: &A, block: usize, mut set_next: impl FnMut(usize)) {
    // Relaxed: the CAS validates.
    let mut cur = head.load(Ordering::Relaxed);
    loop {
        set_next(cur);
        // Release: publish the link word to the owner's acquiring swap.
        match head.compare_exchange_weak(cur, block, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

/// The owner's take of the whole delayed list at `head`: its first block, or 0.
#[inline]
pub(crate) fn delayed_take<A: AtomicWord>(head: &A) -> usize {
    // Relaxed: a cheap emptiness check; the swap below synchronises.
    if head.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    // Acquire: see the link words written by the pushers before their release CAS.
    head.swap(0, Ordering::Acquire)
}

/// # Safety
/// `heap` must be the caller's initialised heap.
pub unsafe fn delayed_free_all(heap: *mut Heap) {
    while !delayed_free_partial(heap) {
        crate::sync::yield_now();
    }
}

// --- collection ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    Normal,
    Force,
    /// Thread exit: pages with live blocks are abandoned.
    Abandon,
}

/// Visit every page of every queue; the visitor may unlink the page it is given (but
/// must not add pages). Stops once `page_count` pages were seen (a short-lived thread
/// has a few pages in a few of the 75 queues).
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
unsafe fn for_each_page(heap: *mut Heap, f: impl FnMut(*mut PageQueue, *mut Page) -> bool) -> bool {
    for_each_page_in(heap, true, f)
}

/// As `for_each_page`, but `stop_at_count == false` scans every queue: for visitors that
/// run the program's code, which may allocate from this heap and so add pages (a count
/// taken at the start could then end the walk before pages that were there all along).
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
unsafe fn for_each_page_in(
    heap: *mut Heap,
    stop_at_count: bool,
    mut f: impl FnMut(*mut PageQueue, *mut Page) -> bool,
) -> bool {
    let mut left = if stop_at_count {
        (*heap).page_count
    } else {
        usize::MAX
    };
    let queues = (*heap).pages.as_mut_ptr();
    let mut b = 0;
    while left > 0 && b <= BIN_FULL {
        let pq = queues.add(b);
        let mut page = (*pq).first;
        while !page.is_null() {
            let next = (*page).next;
            left = left.saturating_sub(1);
            if !f(pq, page) {
                return false;
            }
            page = next;
        }
        b += 1;
    }
    debug_assert!(
        (b..=BIN_FULL).all(|b| (*queues.add(b)).is_empty()),
        "page_count is off"
    );
    true
}

/// Free what can be freed: retired pages, empty pages, pending purges; on thread exit
/// abandon the rest.
///
/// # Safety
/// `heap` must be a heap of the calling thread.
pub unsafe fn collect_ex(heap: *mut Heap, mode: Collect) {
    if !is_initialized(heap) {
        return;
    }
    let force = mode != Collect::Normal;
    let tld = (*heap).tld;
    deferred_free(heap, force);

    // The main thread's backing heap takes over all abandoned segments on a forced
    // collect (`mi_collect(true)`, process exit), so their empty pages can be released.
    // Never on abandonment: that is the main thread deleting its backing heap.
    if mode == Collect::Force
        && heap == (*tld).heap_backing
        && crate::init::is_main_thread()
        && !(*heap).no_reclaim
    {
        segment::reclaim_all(heap);
    }
    if mode == Collect::Abandon {
        // No more remote frees via the heap's delayed list from here on.
        for_each_page(heap, |_, page| {
            page::use_delayed_free(page, Delayed::NeverDelayedFree, false);
            true
        });
    }
    delayed_free_all(heap);
    crate::page_alloc::collect_retired(heap, force);
    for_each_page(heap, |pq, page| {
        page::free_collect(page, force);
        if (*page).all_free() {
            crate::page_alloc::free_page(page, pq, force);
        } else if mode == Collect::Abandon {
            page_queue::remove(heap, pq, page);
            segment::page_abandon(page, tld);
        }
        true
    });
    // Free what became empty in the segments of exited threads (purging the rest).
    let sweep = match mode {
        Collect::Force => segment::Sweep::All,
        Collect::Normal => segment::Sweep::Many,
        Collect::Abandon => segment::Sweep::Few,
    };
    segment::abandoned_collect(heap, sweep, tld);
    if mode == Collect::Force {
        segment::collect_purges(tld, true);
        if heap == (*tld).heap_backing && crate::init::is_main_thread() {
            crate::init::thread_data_collect();
        }
    }
    // Arena purges are process-wide: a thread exit does not force them (which would
    // purge, and make the next segment allocation fault in, blocks freed a moment ago).
    crate::arena::try_purge_all(mode == Collect::Force);
}

/// # Safety
/// `heap` must be a heap of the calling thread.
pub unsafe fn collect(heap: *mut Heap, force: bool) {
    collect_ex(
        heap,
        if force {
            Collect::Force
        } else {
            Collect::Normal
        },
    );
}

// --- first-class heaps -----------------------------------------------------------------------

/// The calling thread's backing heap (initialising the thread if needed).
pub fn get_backing() -> *mut Heap {
    let heap = crate::init::heap_get_default();
    if !is_initialized(heap) {
        return heap;
    }
    // SAFETY: an initialised heap has a valid tld.
    unsafe { (*(*heap).tld).heap_backing }
}

/// Create a new heap for the calling thread, optionally restricted to one arena.
pub fn new_in_arena(arena_id: ArenaId) -> *mut Heap {
    let backing = get_backing();
    if !is_initialized(backing) {
        return ptr::null_mut();
    }
    // The descriptor is an ordinary block of the backing heap.
    // SAFETY: `backing` is the caller's initialised heap.
    unsafe {
        let heap = crate::alloc::heap_malloc_zero(backing, core::mem::size_of::<Heap>(), false)
            as *mut Heap;
        if heap.is_null() {
            return ptr::null_mut();
        }
        init(heap, (*backing).tld, arena_id, true, 0);
        heap
    }
}

/// Unlink a (non-backing) heap from its thread and free its descriptor.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread other than its backing heap,
/// with no pages left; it is gone afterwards.
unsafe fn heap_free(heap: *mut Heap) {
    let tld = (*heap).tld;
    let backing = (*tld).heap_backing;
    if heap == backing {
        return;
    }
    if crate::init::get_default_heap() == heap {
        crate::init::set_default_heap(backing);
    }
    // Unlink from the thread's list.
    let mut prev: *mut Heap = ptr::null_mut();
    let mut cur = (*tld).heaps;
    while !cur.is_null() && cur != heap {
        prev = cur;
        cur = (*cur).next;
    }
    if cur == heap {
        if prev.is_null() {
            (*tld).heaps = (*heap).next;
        } else {
            (*prev).next = (*heap).next;
        }
    }
    crate::free::free(heap as *mut u8);
}

/// Move all pages (and their live blocks) of `from` into `heap`.
///
/// # Safety
/// `heap` and `from` must be distinct initialised heaps of the calling thread.
unsafe fn absorb(heap: *mut Heap, from: *mut Heap) {
    if (*from).page_count == 0 {
        delayed_free_all(from);
        return;
    }
    delayed_free_partial(from);
    for b in 0..=BIN_FULL {
        let pq: *mut PageQueue = &mut (*heap).pages[b];
        let append: *mut PageQueue = &mut (*from).pages[b];
        let n = page_queue::append(heap, pq, append);
        (*heap).page_count += n;
    }
    // Blocks that were pushed on the old heap's list meanwhile.
    delayed_free_all(from);
    reset_pages(from);
}

/// Delete a heap; its live blocks move to the backing heap and stay valid.
///
/// # Safety
/// `heap` must be a heap created by the calling thread (or null).
pub unsafe fn delete(heap: *mut Heap) {
    if !is_initialized(heap) {
        return;
    }
    let backing = (*(*heap).tld).heap_backing;
    if heap == backing {
        // The backing heap itself lives on, but gives up its pages (other threads may
        // reclaim them), as mimalloc does.
        collect_ex(heap, Collect::Abandon);
        return;
    }
    absorb(backing, heap);
    heap_free(heap);
}

/// Destroy a heap and free all its blocks at once.
///
/// # Safety
/// `heap` must be a heap created by the calling thread (or null); its blocks must not
/// be used afterwards.
pub unsafe fn destroy(heap: *mut Heap) {
    if !is_initialized(heap) {
        return;
    }
    if !(*heap).no_reclaim {
        // It may hold reclaimed pages of other threads: keep their blocks alive.
        delete(heap);
        return;
    }
    destroy_pages(heap, false);
    heap_free(heap);
}

/// Give every page of `heap` back to its segment, live blocks and all.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread; every block of it, live or
/// not, becomes invalid.
unsafe fn destroy_pages(heap: *mut Heap, force: bool) {
    let tld = (*heap).tld;
    delayed_free_all(heap);
    for_each_page(heap, |_, page| {
        page::use_delayed_free(page, Delayed::NeverDelayedFree, false);
        (*page).used = 0;
        (*page).next = ptr::null_mut();
        (*page).prev = ptr::null_mut();
        page::set_heap(page, ptr::null_mut());
        segment::page_free(page, force, tld);
        true
    });
    reset_pages(heap);
}

/// Delete every heap of a thread except its backing heap (their pages move to it).
///
/// # Safety
/// `tld` must be the calling thread's data.
pub unsafe fn delete_all_but_backing(tld: *mut Tld) {
    let backing = (*tld).heap_backing;
    let mut h = (*tld).heaps;
    while !h.is_null() {
        let next = (*h).next;
        if h != backing {
            delete(h);
        }
        h = next;
    }
}

/// Make `heap` the default heap of the calling thread; returns the previous one.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
pub unsafe fn set_default(heap: *mut Heap) -> *mut Heap {
    if !is_initialized(heap) {
        return ptr::null_mut();
    }
    let old = crate::init::heap_get_default();
    crate::init::set_default_heap(heap);
    old
}

/// Whether `p` is the start of (or inside) a block of one of `heap`'s pages.
///
/// # Safety
/// `heap` must be a heap of the calling thread.
pub unsafe fn contains_block(heap: *mut Heap, p: *const u8) -> bool {
    let seg = crate::state::ptr_segment(p);
    if !is_initialized(heap) || !crate::segment_map::is_live_segment(seg) {
        return false;
    }
    let page = crate::state::page_of(seg, p);
    (*page).block_size > 1 && (*page).heap() == heap
}

/// Whether `p` is a word-aligned address in the initialised part of one of `heap`'s
/// pages (walks the heap's pages).
///
/// # Safety
/// `heap` must be a heap of the calling thread.
pub unsafe fn check_owned(heap: *mut Heap, p: *const u8) -> bool {
    if !is_initialized(heap) || p.is_null() || (p as usize) & (INTPTR_SIZE - 1) != 0 {
        return false;
    }
    let mut found = false;
    for_each_page(heap, |_, page| {
        let start = (*page).page_start as usize;
        let end = start + (*page).capacity as usize * (*page).block_size;
        let a = p as usize;
        if a >= start && a < end {
            found = true;
            return false;
        }
        true
    });
    found
}

// --- heap walking ----------------------------------------------------------------------------

/// One area of a heap as a heap walk sees it: a page of blocks of one size
/// (`mi_heap_area_t`; public as [`HeapArea`](crate::HeapArea)).
///
/// ```
/// let heap = mimalloc::Heap::new();
/// for _ in 0..3 {
///     heap.alloc(core::alloc::Layout::new::<[u8; 100]>()).unwrap();
/// }
/// heap.visit_blocks(false, |area, _| {
///     assert_eq!(area.used, 3);
///     assert!(area.block_size >= 100 && area.committed >= 3 * area.block_size);
///     true
/// });
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Area {
    /// Start of the area's blocks.
    pub blocks: *mut u8,
    /// Bytes reserved for blocks.
    pub reserved: usize,
    /// Bytes committed for blocks.
    pub committed: usize,
    /// Number of live blocks.
    pub used: usize,
    /// Usable size of each block (without padding).
    pub block_size: usize,
    /// Size of each block including padding and metadata.
    pub full_block_size: usize,
}

/// Visit every page of `heap` (and, with `all_blocks`, every live block in it). The
/// visitor gets the area with a null block once per page, then each live block; it
/// returns false to stop. Returns false if stopped or if the heap has no pages.
///
/// # Safety
/// `heap` must be a heap of the calling thread (or null).
pub unsafe fn visit_blocks(
    heap: *mut Heap,
    all_blocks: bool,
    visitor: &mut dyn FnMut(*const Heap, &Area, *mut u8, usize) -> bool,
) -> bool {
    if !is_initialized(heap) || (*heap).page_count == 0 {
        return false;
    }
    // Blocks other threads freed may sit on the heap's delayed list: free them first.
    delayed_free_all(heap);
    for_each_page_in(heap, false, |_, page| {
        page::free_collect(page, true);
        let bsize = (*page).block_size;
        let area = Area {
            blocks: (*page).page_start,
            reserved: (*page).reserved as usize * bsize,
            committed: (*page).capacity as usize * bsize,
            used: (*page).used as usize,
            block_size: (*page).usable_block_size(),
            full_block_size: bsize,
        };
        if !visitor(heap, &area, ptr::null_mut(), area.block_size) {
            return false;
        }
        if all_blocks && (*page).used > 0 {
            return visit_page_blocks(heap, page, &area, visitor);
        }
        true
    })
}

/// Visit the live blocks of a page: mark the free ones in a bitmap, then report the rest.
///
/// # Safety
/// `page` must be a live page of `heap`, an initialised heap of the calling thread.
unsafe fn visit_page_blocks(
    heap: *mut Heap,
    page: *mut Page,
    area: &Area,
    visitor: &mut dyn FnMut(*const Heap, &Area, *mut u8, usize) -> bool,
) -> bool {
    let bsize = (*page).block_size;
    let capacity = (*page).capacity as usize;
    if capacity == 1 {
        return visitor(heap, area, (*page).page_start, area.block_size);
    }
    // At most 64 KiB / 8 B blocks in a page of small blocks.
    const MAX_BLOCKS: usize = SMALL_PAGE_SIZE / INTPTR_SIZE;
    let mut free_map = [0usize; MAX_BLOCKS / usize::BITS as usize];
    if capacity > MAX_BLOCKS {
        return true;
    }
    let start = (*page).page_start as usize;
    let mut block = (*page).free;
    let mut n = 0;
    while !block.is_null() && n <= capacity {
        let idx = (block as usize - start) / bsize;
        if idx < capacity {
            free_map[idx / 64] |= 1 << (idx % 64);
        }
        block = page::block_next(page, block);
        n += 1;
    }
    for idx in 0..capacity {
        if free_map[idx / 64] & (1 << (idx % 64)) == 0 {
            let b = (start + idx * bsize) as *mut u8;
            if !visitor(heap, area, b, area.block_size) {
                return false;
            }
        }
    }
    true
}

/// Free every page of every heap of the calling thread, live blocks included, so that
/// all segments go back (process exit with `destroy_on_exit`).
///
/// # Safety
/// No block of the thread's heaps may be used afterwards.
pub unsafe fn destroy_all_unsafe() {
    let heap = crate::init::get_default_heap();
    if !is_initialized(heap) {
        return;
    }
    let mut h = (*(*heap).tld).heaps;
    while !h.is_null() {
        let next = (*h).next;
        destroy_pages(h, true);
        h = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new thread's data on fresh (zeroed) OS memory is used as it is: a `Tld` must
    /// start as all zero bytes.
    #[test]
    fn new_thread_data_is_all_zero() {
        let tld = Tld::new();
        // SAFETY: reading the bytes of a live value.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                &tld as *const Tld as *const u8,
                core::mem::size_of::<Tld>(),
            )
        };
        assert!(bytes.iter().all(|b| *b == 0));
    }
}
