//! The Rust API: first-class heaps, arenas, statistics and process-wide calls.
//!
//! Everything here is safe to call unless marked `unsafe`, and translates to the same
//! internal functions as the C API (`mi_heap_new`, `mi_heap_malloc`, ...). The items are
//! re-exported at the crate root.

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::heap as h;
pub use crate::heap::Area as HeapArea;
use crate::state::Heap as RawHeap;
pub use crate::stats::ProcessInfo;
use crate::types::MAX_ALIGN_SIZE;
use crate::{aligned, alloc, arena, init, stats};

/// The error of an allocation or reservation that could not be served: out of memory,
/// or a request no allocator could satisfy (an impossible size or alignment, an arena
/// that is full or unknown).
///
/// ```
/// let err = mimalloc::reserve_os_memory(usize::MAX / 2, false, false, false).unwrap_err();
/// assert_eq!(err.to_string(), "memory allocation failed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("memory allocation failed")
    }
}

/// Identifies an arena: a range of memory reserved from the OS or handed over by the
/// program, from which a [`Heap`] made by [`Heap::new_in_arena`] allocates exclusively
/// (`mi_arena_id_t`).
///
/// ```
/// let id = mimalloc::reserve_os_memory(64 << 20, false, false, true).unwrap();
/// let (start, size) = id.area().unwrap();
/// assert!(size >= 64 << 20);
/// assert!(!start.is_null());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArenaId(arena::ArenaId);

impl ArenaId {
    /// The start and size of the arena's memory, or `None` if the id is unknown
    /// (`mi_arena_area`).
    ///
    /// ```
    /// let id = mimalloc::reserve_os_memory(32 << 20, false, false, true).unwrap();
    /// assert_eq!(id.area().unwrap().1, 32 << 20);
    /// ```
    pub fn area(self) -> Option<(*mut u8, usize)> {
        arena::area(self.0)
    }
}

/// A heap: a set of pages of its own, from which one thread allocates (`mi_heap_t`).
///
/// Allocate from a heap directly, or give `&heap` to a collection as its allocator
/// (with the crate feature `allocator-api2`, or `nightly` for the standard library's
/// unstable `Allocator` trait). Dropping the heap deletes it: the blocks still live
/// in it move to the thread's default heap and stay valid (`mi_heap_delete`).
/// [`destroy`](Heap::destroy) instead frees every block at once (`mi_heap_destroy`),
/// which is sound because a collection borrows the heap it allocates from, so none
/// can outlive it.
///
/// A heap belongs to the thread that made it: `Heap` is neither `Send` nor `Sync`.
/// Blocks allocated from it may still be freed by any thread ([`free`]).
///
/// ```compile_fail,E0277
/// fn send<T: Send>(_: T) {}
/// send(mimalloc::Heap::new()); // error: `*mut ...` cannot be sent between threads
/// ```
///
/// ```
/// use core::alloc::Layout;
///
/// let heap = mimalloc::Heap::new();
/// let layout = Layout::array::<u64>(100).unwrap();
/// let p = heap.alloc_zeroed(layout).unwrap();
/// // SAFETY: `p` points to 100 zeroed, suitably aligned u64s.
/// let first = unsafe { *p.cast::<u64>().as_ptr() };
/// assert_eq!(first, 0);
/// assert!(heap.contains(p.as_ptr()));
/// // SAFETY: `p` came from a mimalloc heap and is not used afterwards.
/// unsafe { mimalloc::free(p.as_ptr()) };
/// ```
pub struct Heap {
    raw: NonNull<RawHeap>,
    /// Not `Send`/`Sync`: only the creating thread may allocate from the heap.
    _owner_thread: PhantomData<*mut RawHeap>,
}

impl Heap {
    /// A new heap of the calling thread (`mi_heap_new`).
    ///
    /// # Panics
    /// When the heap's few hundred bytes of metadata cannot be allocated; see
    /// [`try_new`](Heap::try_new).
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// assert!(heap.alloc(core::alloc::Layout::new::<u32>()).is_some());
    /// ```
    pub fn new() -> Heap {
        match Heap::try_new() {
            Ok(heap) => heap,
            Err(_) => panic!("mimalloc: out of memory creating a heap"),
        }
    }

    /// A new heap of the calling thread, or an error when out of memory.
    ///
    /// ```
    /// let heap = mimalloc::Heap::try_new().expect("out of memory");
    /// # drop(heap);
    /// ```
    pub fn try_new() -> Result<Heap, AllocError> {
        Heap::from_raw(h::new_in_arena(0))
    }

    /// A new heap that allocates only from the (exclusive) arena `arena`, never from
    /// the OS or other arenas (`mi_heap_new_in_arena`). Fails when the arena is
    /// unknown.
    ///
    /// ```
    /// use core::alloc::Layout;
    ///
    /// let arena = mimalloc::reserve_os_memory(64 << 20, false, false, true).unwrap();
    /// let heap = mimalloc::Heap::new_in_arena(arena).unwrap();
    /// let p = heap.alloc(Layout::new::<[u8; 1000]>()).unwrap();
    /// let (start, size) = arena.area().unwrap();
    /// let addr = p.as_ptr() as usize;
    /// assert!(addr >= start as usize && addr < start as usize + size);
    /// ```
    pub fn new_in_arena(arena: ArenaId) -> Result<Heap, AllocError> {
        if arena.area().is_none() {
            return Err(AllocError);
        }
        Heap::from_raw(h::new_in_arena(arena.0))
    }

    fn from_raw(raw: *mut RawHeap) -> Result<Heap, AllocError> {
        NonNull::new(raw).map_or(Err(AllocError), |raw| {
            Ok(Heap {
                raw,
                _owner_thread: PhantomData,
            })
        })
    }

    /// Allocate a block for `layout`, or `None` when out of memory. The block is
    /// uninitialised; free it with [`free`] (from any thread).
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// let layout = core::alloc::Layout::from_size_align(100, 64).unwrap();
    /// let p = heap.alloc(layout).unwrap();
    /// assert_eq!(p.as_ptr() as usize % 64, 0);
    /// ```
    #[inline]
    pub fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the heap belongs to this thread (`Heap` is `!Send`) and is live.
        NonNull::new(unsafe { alloc_layout(self.raw(), layout, false) })
    }

    /// As [`alloc`](Heap::alloc), with the block's bytes set to zero.
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// let p = heap.alloc_zeroed(core::alloc::Layout::new::<[u8; 64]>()).unwrap();
    /// // SAFETY: 64 initialised bytes.
    /// assert!(unsafe { core::slice::from_raw_parts(p.as_ptr(), 64) }.iter().all(|&b| b == 0));
    /// ```
    #[inline]
    pub fn alloc_zeroed(&self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: as in `alloc`.
        NonNull::new(unsafe { alloc_layout(self.raw(), layout, true) })
    }

    /// Resize the block at `ptr` (allocated for `layout` by any mimalloc heap or the
    /// global allocator) to `new_size` bytes with the same alignment, in place when
    /// possible. The contents up to the smaller size are kept. On success the block
    /// belongs to this heap when it moved; on failure (`None`) the old block is left
    /// as it was.
    ///
    /// # Safety
    /// `ptr` must be a live block allocated by mimalloc with `layout`'s alignment; it
    /// must not be used after a successful call (use the returned pointer).
    ///
    /// ```
    /// use core::alloc::Layout;
    ///
    /// let heap = mimalloc::Heap::new();
    /// let layout = Layout::new::<[u8; 16]>();
    /// let p = heap.alloc(layout).unwrap();
    /// // SAFETY: 16 bytes are allocated at `p`.
    /// unsafe { p.as_ptr().write_bytes(7, 16) };
    /// // SAFETY: `p` is live and allocated with `layout`; it is not used again.
    /// let q = unsafe { heap.realloc(p, layout, 4096) }.unwrap();
    /// // SAFETY: the first 16 bytes were kept.
    /// assert_eq!(unsafe { *q.as_ptr().add(15) }, 7);
    /// ```
    #[inline]
    pub unsafe fn realloc(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: per the contract; the heap belongs to this thread.
        NonNull::new(unsafe { realloc_layout(self.raw(), ptr.as_ptr(), layout.align(), new_size) })
    }

    /// Whether `ptr` points into the memory of this heap: into one of its pages, so into
    /// a block it allocated (a freed block may still count until its page is returned)
    /// (`mi_heap_check_owned`). Any pointer may be asked about; the answer costs a walk
    /// over the heap's pages.
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// let other = mimalloc::Heap::new();
    /// let p = heap.alloc(core::alloc::Layout::new::<u64>()).unwrap();
    /// assert!(heap.contains(p.as_ptr()));
    /// assert!(!other.contains(p.as_ptr()));
    /// assert!(!heap.contains(&0u64 as *const u64 as *const u8));
    /// ```
    #[allow(clippy::not_unsafe_ptr_arg_deref)] // `ptr` is only compared, never read
    pub fn contains(&self, ptr: *const u8) -> bool {
        // SAFETY: `check_owned` accepts any pointer; the heap is live and ours.
        unsafe { h::check_owned(self.raw(), ptr) }
    }

    /// Free what the heap holds but does not use: blocks freed by other threads,
    /// empty pages, and (with `force`) retired pages and memory waiting to be purged
    /// (`mi_heap_collect`).
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// heap.collect(true);
    /// ```
    pub fn collect(&self, force: bool) {
        // SAFETY: the heap is live and belongs to this thread.
        unsafe { h::collect(self.raw(), force) }
    }

    /// Visit the heap's areas (one per page of blocks of one size) and, with
    /// `all_blocks`, every live block in them (`mi_heap_visit_blocks`). `visit` gets
    /// each area once with `None`, then (with `all_blocks`) once per live block; it
    /// returns `false` to stop. Returns `false` when stopped or when the heap has no
    /// pages. The visitor must not allocate from or free into this heap.
    ///
    /// ```
    /// use core::alloc::Layout;
    ///
    /// let heap = mimalloc::Heap::new();
    /// for _ in 0..10 {
    ///     heap.alloc(Layout::new::<[u8; 48]>()).unwrap();
    /// }
    /// let mut blocks = 0;
    /// heap.visit_blocks(true, |area, block| {
    ///     if let Some(block) = block {
    ///         assert_eq!(block.size, area.block_size);
    ///         blocks += 1;
    ///     }
    ///     true
    /// });
    /// assert_eq!(blocks, 10);
    /// ```
    pub fn visit_blocks<F>(&self, all_blocks: bool, mut visit: F) -> bool
    where
        F: FnMut(&HeapArea, Option<Block>) -> bool,
    {
        // SAFETY: the heap is live and belongs to this thread; the visitor only gets
        // addresses and sizes, never references to the blocks' contents.
        unsafe {
            h::visit_blocks(
                self.raw(),
                all_blocks,
                &mut |_, area: &HeapArea, block, size| {
                    let block = NonNull::new(block).map(|ptr| Block { ptr, size });
                    visit(area, block)
                },
            )
        }
    }

    /// Free every block of the heap at once and delete it (`mi_heap_destroy`): much
    /// cheaper than freeing the blocks one by one. Pointers to its blocks dangle
    /// afterwards; collections that allocate from `&heap` borrow it, so none can be
    /// left.
    ///
    /// ```
    /// use core::alloc::Layout;
    ///
    /// let heap = mimalloc::Heap::new();
    /// for _ in 0..1000 {
    ///     heap.alloc(Layout::new::<[u64; 4]>()).unwrap(); // never freed one by one
    /// }
    /// heap.destroy();
    /// ```
    pub fn destroy(self) {
        let raw = self.raw();
        core::mem::forget(self);
        // SAFETY: the heap is live and ours, and consumed: nothing borrows it.
        unsafe { h::destroy(raw) }
    }

    /// The heap as the C API's `mi_heap_t*`, for calling C code that takes one. The
    /// pointer is valid as long as `self` is, on this thread.
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// assert!(!heap.as_ptr().is_null());
    /// ```
    pub fn as_ptr(&self) -> *mut core::ffi::c_void {
        self.raw() as *mut core::ffi::c_void
    }

    #[inline]
    pub(crate) fn raw(&self) -> *mut RawHeap {
        self.raw.as_ptr()
    }
}

impl Default for Heap {
    /// As [`Heap::new`].
    fn default() -> Heap {
        Heap::new()
    }
}

impl Drop for Heap {
    /// Delete the heap: its live blocks move to the thread's default heap and stay
    /// valid (`mi_heap_delete`).
    fn drop(&mut self) {
        // SAFETY: the heap is live and belongs to this thread; it is not used again.
        unsafe { h::delete(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap").field("raw", &self.raw).finish()
    }
}

/// A live block, as [`Heap::visit_blocks`] shows it, in an area of blocks of one size
/// ([`HeapArea`]).
///
/// ```
/// let heap = mimalloc::Heap::new();
/// let p = heap.alloc(core::alloc::Layout::new::<[u8; 40]>()).unwrap();
/// heap.visit_blocks(true, |area, block| {
///     if let Some(block) = block {
///         assert_eq!(block.ptr, p);
///         assert!(block.size >= 40 && area.used == 1);
///     }
///     true
/// });
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Block {
    /// Start of the block.
    pub ptr: NonNull<u8>,
    /// Its usable size.
    pub size: usize,
}

/// Allocate for `layout` from `heap` (zeroed with `zero`).
///
/// # Safety
/// `heap` must be a live heap of the calling thread.
#[inline]
pub(crate) unsafe fn alloc_layout(heap: *mut RawHeap, layout: Layout, zero: bool) -> *mut u8 {
    // SAFETY: per the contract.
    unsafe {
        if layout.align() <= MAX_ALIGN_SIZE && layout.align() <= layout.size() {
            // Blocks are aligned to their size class, so small alignments come free.
            alloc::heap_malloc_zero(heap, layout.size(), zero)
        } else {
            aligned::heap_malloc_zero_aligned_at(heap, layout.size(), layout.align(), 0, zero)
        }
    }
}

/// Resize `ptr` (aligned to `align`) to `new_size` bytes, allocating from `heap` when
/// it moves.
///
/// # Safety
/// `heap` must be a live heap of the calling thread; `ptr` a live mimalloc block
/// aligned to `align`.
#[inline]
pub(crate) unsafe fn realloc_layout(
    heap: *mut RawHeap,
    ptr: *mut u8,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    // SAFETY: per the contract.
    unsafe {
        if align <= MAX_ALIGN_SIZE && align <= new_size {
            alloc::heap_realloc_zero(heap, ptr, new_size, false)
        } else {
            aligned::heap_realloc_zero_aligned_at(heap, ptr, new_size, align, 0, false)
        }
    }
}

/// Free a block allocated by any mimalloc heap or by [`MiMalloc`](crate::MiMalloc),
/// from any thread (`mi_free`). A null pointer is ignored.
///
/// # Safety
/// `ptr` must be null or a live block allocated by mimalloc, not used afterwards.
///
/// ```
/// let heap = mimalloc::Heap::new();
/// let p = heap.alloc(core::alloc::Layout::new::<[u8; 100]>()).unwrap();
/// let addr = p.as_ptr() as usize;
/// // Any thread may free it.
/// std::thread::spawn(move || unsafe { mimalloc::free(addr as *mut u8) })
///     .join()
///     .unwrap();
/// ```
#[inline]
pub unsafe fn free(ptr: *mut u8) {
    // SAFETY: per the contract.
    unsafe { crate::free::free(ptr) }
}

/// The usable size of the block at `ptr`: at least what was asked for, often a
/// little more, all of it usable (`mi_usable_size`). 0 for a null pointer.
///
/// # Safety
/// `ptr` must be null or a live block allocated by mimalloc.
///
/// ```
/// let heap = mimalloc::Heap::new();
/// let p = heap.alloc(core::alloc::Layout::new::<[u8; 100]>()).unwrap();
/// // SAFETY: a live block.
/// let usable = unsafe { mimalloc::usable_size(p.as_ptr()) };
/// // (builds with padding, such as the secure ones, report exactly what was asked)
/// assert!(usable >= 100 && usable <= mimalloc::good_size(100));
/// ```
#[inline]
pub unsafe fn usable_size(ptr: *const u8) -> usize {
    // SAFETY: per the contract.
    unsafe { crate::free::usable_size(ptr) }
}

/// The usable size a request of `size` bytes gets: allocate that much and no space
/// is wasted (`mi_good_size`).
///
/// ```
/// assert_eq!(mimalloc::good_size(100), 112);
/// assert!(mimalloc::good_size(1 << 20) >= 1 << 20);
/// ```
pub fn good_size(size: usize) -> usize {
    crate::state::good_size(size)
}

/// Free what the calling thread's default heap holds but does not use, and with
/// `force` also purge memory waiting for its purge delay and collect abandoned
/// segments of exited threads (`mi_collect`).
///
/// ```
/// let v: Vec<Box<[u8; 4096]>> = (0..1000).map(|_| Box::new([0; 4096])).collect();
/// drop(v);
/// mimalloc::collect(true);
/// ```
pub fn collect(force: bool) {
    // SAFETY: the calling thread's default heap.
    unsafe { h::collect(init::heap_get_default(), force) }
}

/// Reserve `size` bytes (rounded up to 32 MiB) of OS memory as a new arena
/// (`mi_reserve_os_memory_ex`): `commit` commits it at once, `allow_large` lets it use
/// large OS pages when the `allow_large_os_pages` option is on, and `exclusive` keeps
/// it for heaps made with [`Heap::new_in_arena`].
///
/// ```
/// let arena = mimalloc::reserve_os_memory(32 << 20, false, false, true).unwrap();
/// assert!(mimalloc::Heap::new_in_arena(arena).is_ok());
/// ```
pub fn reserve_os_memory(
    size: usize,
    commit: bool,
    allow_large: bool,
    exclusive: bool,
) -> Result<ArenaId, AllocError> {
    let (err, id) = arena::reserve_os_memory(size, commit, allow_large, exclusive);
    if err != 0 || id <= 0 {
        return Err(AllocError);
    }
    Ok(ArenaId(id))
}

/// Hand `size` bytes at `start` to mimalloc as a new arena (`mi_manage_os_memory_ex`).
/// The memory is used for the rest of the process (it is never unmapped). `committed`
/// says it is read-write already (otherwise mimalloc commits what it uses), `large`
/// that it is pinned in large OS pages (never purged), `zero` that it reads as zeros;
/// `numa_node` is the node it is on, if known; `exclusive` keeps it for heaps made
/// with [`Heap::new_in_arena`]. Fails when `size` is less than 32 MiB or the arena
/// table (112 entries) is full.
///
/// # Safety
/// `start..start+size` must be memory the program owns, mapped, aligned to 32 MiB
/// (rounded up otherwise, losing the difference), used by nothing else and never
/// unmapped; if `committed`, readable and writable.
///
/// ```
/// let size = 64 << 20;
/// // SAFETY: a fresh private anonymous mapping, never unmapped.
/// let mem = unsafe {
///     libc::mmap(core::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE,
///                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
/// };
/// assert_ne!(mem, libc::MAP_FAILED);
/// // SAFETY: handed over for good.
/// let arena = unsafe {
///     mimalloc::manage_os_memory(mem.cast(), size, true, false, true, None, true)
/// }
/// .unwrap();
/// let heap = mimalloc::Heap::new_in_arena(arena).unwrap();
/// assert!(heap.alloc(core::alloc::Layout::new::<u64>()).is_some());
/// ```
pub unsafe fn manage_os_memory(
    start: *mut u8,
    size: usize,
    committed: bool,
    large: bool,
    zero: bool,
    numa_node: Option<i32>,
    exclusive: bool,
) -> Result<ArenaId, AllocError> {
    // SAFETY: per the contract.
    let id = unsafe {
        arena::manage_os_memory(
            start,
            size,
            committed,
            large,
            zero,
            numa_node.unwrap_or(-1),
            exclusive,
        )
    };
    if id <= 0 {
        return Err(AllocError);
    }
    Ok(ArenaId(id))
}

/// A counter of the statistics: an amount (bytes, or a number of segments, pages,
/// threads) that goes up and down.
///
/// ```
/// let v = vec![1u8; 4 << 20];
/// let committed = mimalloc::Stats::read().committed;
/// assert!(committed.peak >= committed.current);
/// assert_eq!(committed.current, committed.allocated - committed.freed);
/// drop(v);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counter {
    /// The amount now.
    pub current: i64,
    /// The highest amount so far.
    pub peak: i64,
    /// Everything added so far.
    pub allocated: i64,
    /// Everything taken away so far.
    pub freed: i64,
}

impl From<stats::StatCountValues> for Counter {
    fn from(v: stats::StatCountValues) -> Counter {
        Counter {
            current: v.current,
            peak: v.peak,
            allocated: v.allocated,
            freed: v.freed,
        }
    }
}

/// The process's allocation statistics, as `mi_stats_print` shows them, readable
/// from Rust. Release builds keep all of these counters up to date too (unlike C
/// mimalloc 2.1.7's, see `doc/stats.md`).
///
/// ```
/// let v = vec![0u8; 1 << 20];
/// let stats = mimalloc::Stats::read();
/// assert!(stats.committed.current >= 0);
/// assert!(stats.process.peak_rss >= stats.process.current_rss.min(1));
/// drop(v);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes of address space reserved from the OS.
    pub reserved: Counter,
    /// Bytes that may be resident because of the allocator.
    pub committed: Counter,
    /// Bytes reset (`MADV_FREE`) so far.
    pub reset: Counter,
    /// Bytes purged (decommitted) so far.
    pub purged: Counter,
    /// Segments (32 MiB units of memory) in use.
    pub segments: Counter,
    /// Segments of exited threads that no thread has taken over yet.
    pub segments_abandoned: Counter,
    /// Pages (blocks of one size) in use.
    pub pages: Counter,
    /// Pages in abandoned segments.
    pub pages_abandoned: Counter,
    /// Threads that use the allocator, other than the main thread.
    pub threads: Counter,
    /// Bytes in huge blocks (over 16 MiB).
    pub huge: Counter,
    /// Memory mappings made.
    pub mmap_calls: i64,
    /// Commit calls made.
    pub commit_calls: i64,
    /// Reset calls made.
    pub reset_calls: i64,
    /// Purge calls made.
    pub purge_calls: i64,
    /// Arenas created.
    pub arenas: i64,
    /// What the OS says about the process (`mi_process_info`).
    pub process: ProcessInfo,
}

impl Stats {
    /// The statistics now: the calling thread's counters are merged into the
    /// process's first (`mi_stats_merge`), then read.
    ///
    /// ```
    /// let before = mimalloc::Stats::read().threads.current;
    /// std::thread::spawn(move || {
    ///     let v = vec![1u8; 1000];
    ///     assert!(mimalloc::Stats::read().threads.current >= before);
    ///     drop(v);
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn read() -> Stats {
        init::stats_merge();
        let s = &stats::STATS_MAIN;
        let calls = |c: &stats::StatCounter| c.values().1;
        Stats {
            reserved: s.reserved.values().into(),
            committed: s.committed.values().into(),
            reset: s.reset.values().into(),
            purged: s.purged.values().into(),
            segments: s.segments.values().into(),
            segments_abandoned: s.segments_abandoned.values().into(),
            pages: s.pages.values().into(),
            pages_abandoned: s.pages_abandoned.values().into(),
            threads: s.threads.values().into(),
            huge: s.huge.values().into(),
            mmap_calls: calls(&s.mmap_calls),
            commit_calls: calls(&s.commit_calls),
            reset_calls: calls(&s.reset_calls),
            purge_calls: calls(&s.purge_calls),
            arenas: calls(&s.arena_count),
            process: stats::process_info(),
        }
    }

    /// Print the statistics table to the output (stderr unless a C program
    /// registered another), as `mi_stats_print` does.
    ///
    /// ```
    /// mimalloc::Stats::print();
    /// ```
    pub fn print() {
        init::stats_print(None, core::ptr::null_mut());
    }

    /// Set all statistics back to zero (`mi_stats_reset`).
    ///
    /// ```
    /// mimalloc::Stats::reset();
    /// assert_eq!(mimalloc::Stats::read().mmap_calls, 0);
    /// ```
    pub fn reset() {
        stats::reset(init::thread_stats());
        stats::reset(&stats::STATS_MAIN);
    }
}
