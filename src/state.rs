//! The allocator's state as data: what a heap, its thread's data, a page and a segment
//! hold, the size classes, and the address arithmetic between blocks, pages and
//! segments. Like C mimalloc's `types.h`, this sits below every module that works on
//! that state (segments, pages, page queues, heaps, allocation and free), so each of
//! them can name the types without importing the modules above it. Behaviour lives in
//! those modules; only constructors and small accessors are here.

use crate::arena::ArenaId;
use crate::os::MemId;
use crate::random::Random;
use crate::stats::Stats;
use crate::sync::{AtomicPtr, AtomicU8, AtomicUsize, Ordering, Racy};
use crate::types::*;
use core::mem::size_of;
use core::ptr;

// --- pages ----------------------------------------------------------------------------

/// A free block: its first word links to the next free block (encoded in secure/debug
/// builds).
#[repr(C)]
pub struct Block {
    pub next: usize,
}

/// Delayed-free state of a page, kept in the low bits of `xthread_free`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
#[allow(clippy::enum_variant_names)] // the names of C's `mi_delayed_t` (MI_DELAYED_FREEING, ...)
pub enum Delayed {
    /// The next remote free goes to the owning heap's delayed list (so that the owner
    /// notices a full page, or a large page its block was freed from).
    UseDelayedFree = 0,
    /// A remote free is pushing onto the heap's delayed list right now.
    DelayedFreeing = 1,
    /// Remote frees go to the page's own list.
    NoDelayedFree = 2,
    /// Like `NoDelayedFree`, and sticky: the page is abandoned or being destroyed.
    NeverDelayedFree = 3,
}

pub const DELAYED_MASK: usize = 3;

#[inline(always)]
pub fn tf_block(tf: usize) -> *mut Block {
    (tf & !DELAYED_MASK) as *mut Block
}
#[inline(always)]
pub fn tf_delayed(tf: usize) -> Delayed {
    match tf & DELAYED_MASK {
        0 => Delayed::UseDelayedFree,
        1 => Delayed::DelayedFreeing,
        2 => Delayed::NoDelayedFree,
        _ => Delayed::NeverDelayedFree,
    }
}
#[inline(always)]
pub fn tf_make(block: *mut Block, d: Delayed) -> usize {
    block as usize | d as usize
}

pub const FLAG_IN_FULL: u8 = 1;
pub const FLAG_HAS_ALIGNED: u8 = 2;

/// A page descriptor; also a slice descriptor of its segment (`mi_slice_t`).
///
/// Invariants (for a page in use, `block_size > 0`):
/// * `capacity <= reserved`, `used <= capacity`; the blocks `0..capacity` from
///   `page_start` are either in use, on one of the three free lists, or (secure) never
///   handed out; blocks beyond `capacity` were never touched;
/// * `used` counts blocks not on `free`/`local_free`, including blocks on the
///   thread-free list (they are subtracted when collected);
/// * `xheap` is the owning heap, or null while the page is abandoned;
/// * `flags & FLAG_IN_FULL` iff the page is linked in its heap's full queue;
/// * for a free span `block_size == 0`; slices after the first of a span or page have
///   `slice_count == 0` and `slice_offset` = byte distance back to the first.
#[repr(C)]
pub struct Page {
    pub slice_count: u32,
    pub slice_offset: u32,
    pub is_committed: bool,
    /// The page memory was zero when the page was (re)initialised.
    pub is_zero_init: bool,
    pub is_huge: bool,
    /// `FLAG_IN_FULL | FLAG_HAS_ALIGNED`. Only the owning thread writes it; a remote
    /// free may read `FLAG_HAS_ALIGNED`, which cannot change while any block of the
    /// page is in use (set before an aligned block is handed out, cleared only when
    /// the page is reset), so relaxed accesses suffice (atomic only to make that read
    /// race-free).
    pub flags: AtomicU8,
    /// The blocks on `free` are zero apart from their link word.
    pub free_is_zero: bool,
    pub retire_expire: u8,
    pub block_size_shift: u8,
    pub heap_tag: u8,
    pub capacity: u32,
    pub reserved: u32,
    pub used: u32,
    pub free: *mut Block,
    pub local_free: *mut Block,
    /// Size of each block in bytes; 0 for a free span.
    pub block_size: usize,
    pub page_start: *mut u8,
    pub keys: [usize; 2],
    pub xthread_free: AtomicUsize,
    pub xheap: AtomicPtr<Heap>,
    pub next: *mut Page,
    pub prev: *mut Page,
}

impl Page {
    pub const fn empty() -> Page {
        Page {
            slice_count: 0,
            slice_offset: 0,
            is_committed: false,
            is_zero_init: false,
            is_huge: false,
            flags: AtomicU8::new(0),
            free_is_zero: false,
            retire_expire: 0,
            block_size_shift: 0,
            heap_tag: 0,
            capacity: 0,
            reserved: 0,
            used: 0,
            free: ptr::null_mut(),
            local_free: ptr::null_mut(),
            block_size: 0,
            page_start: ptr::null_mut(),
            keys: [0, 0],
            xthread_free: AtomicUsize::new(0),
            xheap: AtomicPtr::new(ptr::null_mut()),
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
        }
    }

    /// The flags as one byte: 0 on the free fast path.
    #[inline(always)]
    pub fn flags(&self) -> u8 {
        // Relaxed: see `flags`.
        self.flags.load(Ordering::Relaxed)
    }
    #[inline(always)]
    fn set_flag(&mut self, flag: u8, on: bool) {
        let f = self.flags();
        // Relaxed: only the owner stores (see `flags`).
        self.flags
            .store(if on { f | flag } else { f & !flag }, Ordering::Relaxed);
    }
    #[inline(always)]
    pub fn is_in_full(&self) -> bool {
        self.flags() & FLAG_IN_FULL != 0
    }
    #[inline(always)]
    pub fn set_in_full(&mut self, b: bool) {
        self.set_flag(FLAG_IN_FULL, b)
    }
    #[inline(always)]
    pub fn has_aligned(&self) -> bool {
        self.flags() & FLAG_HAS_ALIGNED != 0
    }
    #[inline(always)]
    pub fn set_has_aligned(&mut self, b: bool) {
        self.set_flag(FLAG_HAS_ALIGNED, b)
    }
    #[inline(always)]
    pub fn all_free(&self) -> bool {
        self.used == 0
    }
    /// Whether a block can be had from this page: one never handed out or freed, or one
    /// waiting on the thread-free list.
    #[inline]
    pub fn has_any_available(&self) -> bool {
        // Relaxed: a hint; collecting the list is what counts.
        self.used < self.reserved || !tf_block(self.xthread_free.load(Ordering::Relaxed)).is_null()
    }
    #[inline(always)]
    pub fn immediate_available(&self) -> bool {
        !self.free.is_null()
    }
    /// Usable bytes of a block (the block size less the padding trailer).
    #[inline(always)]
    pub fn usable_block_size(&self) -> usize {
        self.block_size - PADDING_SIZE
    }
    #[inline(always)]
    pub fn heap(&self) -> *mut Heap {
        // Relaxed: only the owning thread reads this on its own pages; cross-thread
        // readers use `xheap.load(Acquire)` directly.
        self.xheap.load(Ordering::Relaxed)
    }
    /// The thread-free list's delayed state.
    #[inline]
    pub fn thread_free_flag(&self) -> Delayed {
        // Relaxed: a snapshot; the owner re-checks under CAS where it matters.
        tf_delayed(self.xthread_free.load(Ordering::Relaxed))
    }
}

/// The page every empty heap's direct table points to: it never has a free block, so the
/// fast path falls into the slow path, which initialises the thread.
pub static PAGE_EMPTY: Racy<Page> = Racy::new(Page::empty());

// --- size classes and page queues ------------------------------------------------------

/// A doubly linked list of pages of one bin (`block_size` is the bin's block size).
///
/// Invariants: `first` is null iff `last` is null; every page on the list has
/// `next`/`prev` linking it to its neighbours, `prev` of `first` and `next` of `last` are
/// null, and (except in the full queue) every page's block size maps to this bin.
#[repr(C)]
pub struct PageQueue {
    pub first: *mut Page,
    pub last: *mut Page,
    pub block_size: usize,
}

impl PageQueue {
    pub const fn new(block_size: usize) -> PageQueue {
        PageQueue {
            first: ptr::null_mut(),
            last: ptr::null_mut(),
            block_size,
        }
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.first.is_null()
    }
    pub fn is_huge(&self) -> bool {
        self.block_size == bin_block_size(BIN_HUGE)
    }
    pub fn is_full(&self) -> bool {
        self.block_size == bin_block_size(BIN_FULL)
    }
    /// Queues whose pages hold one block each (no retirement, no searching).
    pub fn is_special(&self) -> bool {
        self.block_size > MEDIUM_OBJ_SIZE_MAX
    }
}

/// The bin of a request of `size` bytes (padding already included): 8-byte steps up to
/// 64 bytes (even word counts only, keeping 16-byte alignment), then four bins per power
/// of two, and `BIN_HUGE` above 128 KiB.
#[inline]
pub const fn bin(size: usize) -> usize {
    let wsize = wsize_from_size(size);
    if wsize <= 1 {
        1
    } else if wsize <= 8 {
        (wsize + 1) & !1
    } else if wsize > MEDIUM_OBJ_WSIZE_MAX {
        BIN_HUGE
    } else {
        let w = wsize - 1;
        let b = (usize::BITS - 1 - w.leading_zeros()) as usize; // highest set bit
        (b << 2) + ((w >> (b - 2)) & 3) - 3
    }
}

/// Block size of a bin (the largest request that maps to it).
pub const fn bin_block_size(bin: usize) -> usize {
    if bin == BIN_HUGE {
        (MEDIUM_OBJ_WSIZE_MAX + 1) * INTPTR_SIZE
    } else if bin == BIN_FULL {
        (MEDIUM_OBJ_WSIZE_MAX + 2) * INTPTR_SIZE
    } else if bin <= 8 {
        if bin == 0 {
            INTPTR_SIZE
        } else {
            bin * INTPTR_SIZE
        }
    } else {
        let b = bin.div_ceil(4);
        let r = (bin + 3) % 4;
        ((5 + r) << (b - 2)) * INTPTR_SIZE
    }
}

/// The size mimalloc really uses for a request (`mi_good_size`).
pub fn good_size(size: usize) -> usize {
    if size <= MEDIUM_OBJ_SIZE_MAX {
        bin_block_size(bin(size + PADDING_SIZE))
    } else {
        align_up(size + PADDING_SIZE, crate::prim::page_size())
    }
}

/// The queue table of a fresh heap: each bin's block size, no pages.
pub const fn queues_empty() -> [PageQueue; BIN_FULL + 1] {
    let mut q = [const { PageQueue::new(0) }; BIN_FULL + 1];
    let mut i = 0;
    while i <= BIN_FULL {
        q[i].block_size = bin_block_size(i);
        i += 1;
    }
    q
}

// --- segments -------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SegmentKind {
    /// 32 MiB of slices holding small, medium and large pages.
    Normal,
    /// One page with one huge (or over-aligned) block, sized to fit.
    Huge,
}

/// A segment header, placed at the start of the segment's memory.
///
/// Invariants:
/// * the segment is `SEGMENT_SIZE`-aligned; `segment_slices * SLICE = segment_size`;
/// * slices `0..segment_info_slices` hold this header (a span marked in use, not
///   counted in `used`); the others are covered exactly by pages and free spans;
/// * `used` counts pages in use; `abandoned <= used` counts those abandoned;
/// * `thread_id` is the owner's thread id, or 0 while the segment is abandoned (marked
///   in the abandoned map) or claimed from the map but not reclaimed yet;
/// * `abandoned_visits` counts the searches for memory that looked at the segment since
///   it was abandoned;
/// * free spans are in the owner's span queues iff the segment is owned and normal;
/// * `purge_mask` only has bits for free slices; `dirty_mask` has bits for slices that
///   may hold non-zero bytes (and so may be resident);
/// * `resident_slices(seg)` slices of this segment are counted in the `committed`
///   statistic: for a normal segment exactly the bits of `dirty_mask`, for a huge one all
///   of its memory (whole arena blocks for one in an arena);
/// * `noaccess_mask` (secure builds only, else empty) has bits for free slices that
///   were decommitted and made inaccessible; it is disjoint from `dirty_mask`.
#[repr(C)]
pub struct Segment {
    pub memid: MemId,
    pub allow_purge: bool,
    pub was_reclaimed: bool,
    pub kind: SegmentKind,
    pub segment_size: usize,
    pub purge_expire: i64,
    pub purge_mask: SliceMask,
    pub dirty_mask: SliceMask,
    pub noaccess_mask: SliceMask,
    pub abandoned: usize,
    pub abandoned_visits: usize,
    pub used: usize,
    pub segment_slices: usize,
    pub segment_info_slices: usize,
    /// Number of valid entries in `slices` (≤ `SLICES_PER_SEGMENT`).
    pub slice_entries: usize,
    /// `segment address ^ main cookie`; next to `thread_id`, which every free reads
    /// too, so that checked frees touch no extra cache line of the header.
    pub cookie: usize,
    pub thread_id: AtomicUsize,
    pub slices: [Page; SLICES_PER_SEGMENT + 1],
}

const _: () = assert!(
    size_of::<Segment>() <= SEGMENT_SLICE_SIZE - 4096,
    "segment header must fit in one slice with a guard page"
);

/// Per-thread segment bookkeeping: the span queues and counters.
#[repr(C)]
pub struct SegmentsTld {
    pub spans: [SpanQueue; SEGMENT_BIN_MAX + 1],
    pub count: usize,
    pub peak_count: usize,
    pub current_size: usize,
    pub peak_size: usize,
    pub reclaim_count: usize,
    /// Counts the thread's searches of the abandoned map (to vary where they start).
    pub searches: u64,
}

impl SegmentsTld {
    pub const fn new() -> SegmentsTld {
        SegmentsTld {
            spans: [const { SpanQueue::new() }; SEGMENT_BIN_MAX + 1],
            count: 0,
            peak_count: 0,
            current_size: 0,
            peak_size: 0,
            reclaim_count: 0,
            searches: 0,
        }
    }
}

/// A doubly linked list of free spans (their first slice descriptors), linked through
/// the descriptors' `next`/`prev`. Unlinked spans have null links.
#[repr(C)]
pub struct SpanQueue {
    pub first: *mut Page,
    pub last: *mut Page,
}

impl SpanQueue {
    pub const fn new() -> SpanQueue {
        SpanQueue {
            first: ptr::null_mut(),
            last: ptr::null_mut(),
        }
    }
}

// --- address arithmetic ---------------------------------------------------------------------

/// The segment containing `p`. Subtracting one first lets a huge block that starts
/// exactly at a 32 MiB boundary (over-aligned allocation) find its segment header below.
#[inline(always)]
pub fn ptr_segment(p: *const u8) -> *mut Segment {
    let seg = ptr_segment_unchecked(p);
    if seg_may_be_ours(seg) {
        seg
    } else {
        ptr::null_mut()
    }
}

/// Whether `seg` (from `ptr_segment_unchecked`) is positive as a signed number: false
/// for the segment of null, of pointers into the first 32 MiB and of the upper half of
/// the address space, where no segment of ours can be.
#[inline(always)]
pub fn seg_may_be_ours(seg: *mut Segment) -> bool {
    (seg as isize) > 0
}

/// `ptr_segment` for a pointer that passed `ptr_may_have_segment`.
#[inline(always)]
pub fn ptr_segment_unchecked(p: *const u8) -> *mut Segment {
    ((p as usize).wrapping_sub(1) & !SEGMENT_MASK) as *mut Segment
}

/// The page descriptor of the page containing `p`.
///
/// # Safety
/// `p` must point into a live segment `seg` (within its slice table's reach).
#[inline(always)]
pub unsafe fn page_of(seg: *const Segment, p: *const u8) -> *mut Page {
    let idx = (p as usize - seg as usize) >> SEGMENT_SLICE_SHIFT;
    debug_assert!(idx <= (*seg).slice_entries);
    let slice = (*seg).slices.as_ptr().add(idx) as *mut u8;
    slice.sub((*slice.cast::<Page>()).slice_offset as usize) as *mut Page
}

/// The segment of a page descriptor (descriptors live in the segment header).
#[inline(always)]
pub fn page_segment(page: *const Page) -> *mut Segment {
    ptr_segment(page as *const u8)
}

#[inline(always)]
pub unsafe fn slice_index(seg: *const Segment, slice: *const Page) -> usize {
    slice.offset_from((*seg).slices.as_ptr()) as usize
}

#[inline(always)]
pub unsafe fn slice_at(seg: *mut Segment, idx: usize) -> *mut Page {
    (*seg).slices.as_mut_ptr().add(idx)
}

/// Start and usable size of a page's block area. Blocks up to 128 KiB start at a
/// multiple of their size (so power-of-two sizes are naturally aligned), and small
/// blocks are shifted by a few blocks so that pages do not all start on the same cache
/// sets.
///
/// # Safety
/// `page` must be a page of `seg`.
pub unsafe fn page_start(
    seg: *const Segment,
    page: *const Page,
    block_size: usize,
) -> (*mut u8, usize) {
    let idx = slice_index(seg, page);
    let psize = (*page).slice_count as usize * SEGMENT_SLICE_SIZE;
    let pstart = (seg as *mut u8).add(idx * SEGMENT_SLICE_SIZE);
    let mut offset = 0usize;
    if block_size > 0 && block_size <= MAX_ALIGN_GUARANTEE {
        let adjust = block_size - (pstart as usize % block_size);
        if adjust < block_size && psize >= block_size + adjust {
            offset += adjust;
        }
    }
    if block_size >= INTPTR_SIZE {
        if block_size <= 64 {
            offset += 3 * block_size;
        } else if block_size <= 512 {
            offset += block_size;
        }
    }
    (pstart.add(offset), psize - offset)
}

// --- heaps and thread data ------------------------------------------------------------

/// Per-thread data shared by all heaps of a thread.
#[repr(C)]
pub struct Tld {
    /// Counts slow-path entries; passed to the deferred-free hook.
    pub heartbeat: u64,
    /// Guards against re-entering the deferred-free hook.
    pub recurse: bool,
    pub heap_backing: *mut Heap,
    /// All heaps of the thread, linked through `Heap::next`.
    pub heaps: *mut Heap,
    pub segments: SegmentsTld,
    pub stats: Stats,
}

impl Tld {
    pub const fn new() -> Tld {
        Tld {
            heartbeat: 0,
            recurse: false,
            heap_backing: ptr::null_mut(),
            heaps: ptr::null_mut(),
            segments: SegmentsTld::new(),
            stats: Stats::new(),
        }
    }
}

/// A heap.
///
/// Invariants: `tld` is null only for the static empty heap; `pages[b]` holds pages
/// whose block size maps to bin `b` (`BIN_HUGE`: large and huge pages, `BIN_FULL`:
/// pages without free blocks); `pages_free_direct[w]` is the first page of the bin of
/// word size `w` or the empty page; `page_count` is the number of pages in all queues;
/// `thread_delayed_free` is a list (encoded with the heap's keys) of blocks other
/// threads freed into this heap's full pages.
#[repr(C)]
pub struct Heap {
    pub tld: *mut Tld,
    pub thread_delayed_free: AtomicUsize,
    pub thread_id: usize,
    pub arena_id: ArenaId,
    pub cookie: usize,
    pub keys: [usize; 2],
    pub random: Random,
    pub page_count: usize,
    pub page_retired_min: usize,
    pub page_retired_max: usize,
    pub next: *mut Heap,
    /// Pages of this heap must not come from reclaimed segments (heaps that may be
    /// destroyed, which would free other threads' blocks).
    pub no_reclaim: bool,
    pub tag: u8,
    pub pages_free_direct: [*mut Page; PAGES_DIRECT],
    pub pages: [PageQueue; BIN_FULL + 1],
}

impl Heap {
    pub const fn empty() -> Heap {
        Heap {
            tld: ptr::null_mut(),
            thread_delayed_free: AtomicUsize::new(0),
            thread_id: 0,
            arena_id: 0,
            cookie: 0,
            keys: [0, 0],
            random: Random::empty(),
            page_count: 0,
            page_retired_min: 0,
            page_retired_max: 0,
            next: ptr::null_mut(),
            no_reclaim: false,
            tag: 0,
            pages_free_direct: [PAGE_EMPTY.get(); PAGES_DIRECT],
            pages: queues_empty(),
        }
    }
}

/// The heap of threads that have not allocated yet: no pages, so every allocation takes
/// the slow path, which sets the thread up. Never written.
pub static HEAP_EMPTY: Racy<Heap> = Racy::new(Heap::empty());

// The thread-local slot of the default heap that `sync::tls_heap_get`/`tls_heap_set`
// read and write (initial-exec TLS on x86_64 Linux, see `sync`): 8 bytes of `.tdata`
// whose initial value, in every thread, is the address of `HEAP_EMPTY`. It is defined
// here rather than in `sync` because its initial value is a heap.
#[cfg(all(
    target_arch = "x86_64",
    target_os = "linux",
    not(feature = "local_dynamic_tls")
))]
core::arch::global_asm!(
    ".pushsection .tdata._mi_rs_heap_default,\"awT\",@progbits",
    ".p2align 3",
    ".globl _mi_rs_heap_default",
    ".hidden _mi_rs_heap_default",
    ".type _mi_rs_heap_default,@object",
    ".size _mi_rs_heap_default,8",
    "_mi_rs_heap_default:",
    ".quad {empty}",
    ".popsection",
    empty = sym HEAP_EMPTY,
);

#[inline(always)]
pub fn is_initialized(heap: *const Heap) -> bool {
    !core::ptr::eq(heap, HEAP_EMPTY.get()) && !heap.is_null()
}

/// The thread statistics of a heap.
///
/// # Safety
/// `heap` must be an initialised heap of the calling thread.
#[inline]
pub unsafe fn tld_stats<'a>(heap: *mut Heap) -> &'a Stats {
    &(*(*heap).tld).stats
}

/// # Safety
/// `heap` must be an initialised heap of the calling thread.
#[inline]
pub unsafe fn random_next(heap: *mut Heap) -> u64 {
    (*heap).random.next()
}
