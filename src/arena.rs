//! Arenas: large areas of reserved OS memory divided into 32 MiB blocks, claimed and
//! released with atomic bitmaps. Segments come from arenas so that freeing and
//! re-allocating them costs no system call; freed blocks are purged after a delay
//! (`purge_delay × arena_purge_mult`).
//!
//! Requests an arena cannot serve (over-aligned, with an offset, or more than 64
//! blocks) are mapped directly from the OS.

use crate::bitmap;
use crate::options::{self, Opt};
use crate::os::{self, MemId, MemKind};
use crate::prim;
use crate::stats::STATS_MAIN;
use crate::sync::{AtomicBool, AtomicI64, AtomicPtr, AtomicUsize, Ordering};
use crate::types::*;
use core::ptr;

pub const MAX_ARENAS: usize = 112;
/// Smaller requests never use arenas.
pub const ARENA_MIN_OBJ_SIZE: usize = ARENA_BLOCK_SIZE / 2;

/// Public arena id: index + 1; 0 means "no specific arena".
pub type ArenaId = i32;

/// An arena descriptor, followed in the same mapping by its four bitmaps and one
/// `SliceMask` per block.
///
/// Invariants: `start` is `ARENA_BLOCK_SIZE`-aligned and spans `block_count` blocks;
/// each bitmap has `field_count` words; a block is in use iff its `inuse` bit is set;
/// a block in use is read-write, so its `committed` bit is set (a free block's bit is
/// clear while it is inaccessible: not committed yet, or purged in a secure build);
/// `purge` bits are only set for blocks that are free; a block whose `dirty` bit is
/// clear reads as zeros. A free block's resident mask has the slices that may hold
/// non-zero bytes (so its dirty bit is set iff the mask is not empty), and exactly
/// those are counted in the `committed` statistic; a block in use has an empty mask
/// (its segment counts what it uses). Only the holder of a block's `inuse` bit reads or
/// writes its mask (a purger claims the bit first).
pub struct Arena {
    pub id: ArenaId,
    pub memid: MemId,
    pub start: *mut u8,
    pub block_count: usize,
    pub field_count: usize,
    /// Recorded as given; allocation does not prefer the arenas of the calling
    /// thread's NUMA node yet (2.1.7 does; every machine we run on has one node).
    #[allow(dead_code)]
    pub numa_node: i32,
    pub exclusive: bool,
    pub is_large: bool,
    pub search_idx: AtomicUsize,
    pub purge_expire: AtomicI64,
    meta_size: usize,
}

impl Arena {
    fn bitmap(&self, which: usize) -> &[AtomicUsize] {
        // SAFETY: the descriptor's mapping holds 4 × field_count words right after it
        // (see `add`), initialised to zero and only accessed atomically.
        unsafe {
            let base = (self as *const Arena).add(1) as *const AtomicUsize;
            core::slice::from_raw_parts(base.add(which * self.field_count), self.field_count)
        }
    }
    fn inuse(&self) -> &[AtomicUsize] {
        self.bitmap(0)
    }
    fn dirty(&self) -> &[AtomicUsize] {
        self.bitmap(1)
    }
    fn purge(&self) -> &[AtomicUsize] {
        self.bitmap(2)
    }
    /// Blocks mapped read-write (all of them unless the arena was reserved uncommitted).
    fn committed(&self) -> &[AtomicUsize] {
        self.bitmap(3)
    }
    /// The resident mask of block `idx` (see the invariants).
    ///
    /// # Safety
    /// The caller holds the block's `inuse` bit (or is setting up the arena).
    unsafe fn resident(&self, idx: usize) -> *mut SliceMask {
        debug_assert!(idx < self.block_count);
        // SAFETY: the masks follow the bitmaps in the descriptor's mapping (see `add`).
        unsafe {
            let base = (self as *const Arena).add(1) as *const AtomicUsize;
            (base.add(4 * self.field_count) as *mut SliceMask).add(idx)
        }
    }
    fn block_start(&self, idx: usize) -> *mut u8 {
        self.start.wrapping_add(idx * ARENA_BLOCK_SIZE)
    }
    pub fn size(&self) -> usize {
        self.block_count * ARENA_BLOCK_SIZE
    }
}

static ARENAS: [AtomicPtr<Arena>; MAX_ARENAS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; MAX_ARENAS];
static ARENA_COUNT: AtomicUsize = AtomicUsize::new(0);
static PURGE_GUARD: AtomicBool = AtomicBool::new(false);

pub fn arena_count() -> usize {
    // Acquire: entries below the count are published (see `add`).
    ARENA_COUNT.load(Ordering::Acquire).min(MAX_ARENAS)
}

pub fn arena_at(i: usize) -> *mut Arena {
    // Acquire: pairs with the release store in `add`.
    ARENAS[i].load(Ordering::Acquire)
}

/// Register `size` bytes at `start` as an arena. Returns its id, or 0 if the table is
/// full or the area is too small.
///
/// # Safety
/// The memory must be owned for the life of the process (or until `destroy_all`),
/// read-write, and not used by anything else.
pub unsafe fn add(
    start: *mut u8,
    size: usize,
    is_large: bool,
    is_zero: bool,
    numa_node: i32,
    exclusive: bool,
    memid: MemId,
) -> ArenaId {
    // Trim to whole, aligned blocks.
    let aligned = align_up(start as usize, ARENA_BLOCK_SIZE);
    let end = start as usize + size;
    if end <= aligned || (end - aligned) < ARENA_BLOCK_SIZE {
        crate::mi_warning!("cannot use OS memory since it is not large enough (size {} KiB, minimum required is {} KiB)", size / 1024, ARENA_BLOCK_SIZE / 1024);
        return 0;
    }
    let block_count = (end - aligned) / ARENA_BLOCK_SIZE;
    let field_count = block_count.div_ceil(bitmap::BITS);
    let meta_size = align_up(
        core::mem::size_of::<Arena>()
            + 4 * field_count * core::mem::size_of::<usize>()
            + block_count * core::mem::size_of::<SliceMask>(),
        prim::page_size(),
    );
    let meta = prim::mmap(ptr::null_mut(), meta_size, true) as *mut Arena;
    if meta.is_null() {
        return 0;
    }
    // Relaxed: reserving a slot; publication happens with the release store below.
    let i = ARENA_COUNT.fetch_add(1, Ordering::AcqRel);
    if i >= MAX_ARENAS {
        ARENA_COUNT.fetch_sub(1, Ordering::AcqRel);
        prim::munmap(meta as *mut u8, meta_size);
        return 0;
    }
    ptr::write(
        meta,
        Arena {
            id: i as ArenaId + 1,
            memid,
            start: aligned as *mut u8,
            block_count,
            field_count,
            numa_node,
            exclusive,
            is_large,
            search_idx: AtomicUsize::new(0),
            purge_expire: AtomicI64::new(0),
            meta_size,
        },
    );
    let a = &*meta;
    // Blocks past the end in the last word are permanently "in use".
    let extra = field_count * bitmap::BITS - block_count;
    if extra > 0 {
        bitmap::claim(a.inuse(), block_count, extra);
    }
    if !is_zero {
        // Memory of unknown content (given by the user): every slice may be dirty and
        // resident, and counts as committed until purged.
        bitmap::claim(a.dirty(), 0, block_count);
        for idx in 0..block_count {
            // SAFETY: the arena is not published yet: its masks are ours.
            unsafe { *a.resident(idx) = SLICE_MASK_FULL };
        }
        STATS_MAIN
            .committed
            .increase(block_count * ARENA_BLOCK_SIZE);
    }
    if memid.initially_committed {
        bitmap::claim(a.committed(), 0, block_count);
    }
    // Release: readers that load the pointer see the initialised descriptor.
    ARENAS[i].store(meta, Ordering::Release);
    STATS_MAIN.arena_count.increase(1);
    a.id
}

/// Reserve `size` bytes of OS memory as a new arena. Returns (errno-style code, id).
pub fn reserve_os_memory(
    size: usize,
    commit: bool,
    allow_large: bool,
    exclusive: bool,
) -> (i32, ArenaId) {
    let size = align_up(size, ARENA_BLOCK_SIZE);
    let (p, memid) = os::alloc_aligned_at_ex(size, ARENA_BLOCK_SIZE, 0, commit);
    if p.is_null() {
        return (ENOMEM, 0);
    }
    if allow_large && options::is_enabled(Opt::AllowLargeOsPages) {
        // SAFETY: the fresh mapping is ours.
        unsafe { prim::advise_huge(p, size) };
    }
    // SAFETY: fresh mapping owned by the arena from now on.
    let id = unsafe { add(p, size, false, true, -1, exclusive, memid) };
    if id == 0 {
        // SAFETY: the mapping was not registered.
        unsafe { os::free(&memid) };
        return (ENOMEM, 0);
    }
    crate::mi_verbose!(
        "reserved {} KiB memory{}",
        size / 1024,
        if commit { "" } else { " (uncommitted)" }
    );
    (0, id)
}

/// Size of the next automatically reserved arena: `arena_reserve`, doubled for every 8
/// arenas that exist (from 8 to 128).
fn next_reserve_size() -> usize {
    let mut size = options::get_size(Opt::ArenaReserve);
    if size == 0 {
        return 0;
    }
    let n = arena_count();
    if (8..=128).contains(&n) {
        size <<= (n / 8).min(16);
    }
    align_up(size, ARENA_BLOCK_SIZE)
}

/// # Safety
/// `arena` must point to a registered arena.
unsafe fn try_alloc_in(arena: *mut Arena, blocks: usize) -> (*mut u8, MemId) {
    let a = &*arena;
    // Relaxed: a starting hint only.
    let start = a.search_idx.load(Ordering::Relaxed);
    // Prefer blocks that are dirty (recently freed, not purged yet): their memory is
    // resident already, so using them costs no page faults and no more RSS, and the
    // clean ones stay untouched.
    let Some(idx) = bitmap::try_find_claim_within(a.inuse(), Some(a.dirty()), start, blocks)
        .or_else(|| bitmap::try_find_claim(a.inuse(), start, blocks))
    else {
        return (ptr::null_mut(), MemId::none());
    };
    a.search_idx.store(idx / bitmap::BITS, Ordering::Relaxed);
    // Lazily committed arena: make the blocks accessible first.
    if !bitmap::is_claimed(a.committed(), idx, blocks) {
        let mut ok = true;
        for b in idx..idx + blocks {
            if !bitmap::is_claimed(a.committed(), b, 1) {
                if os::commit(a.block_start(b), ARENA_BLOCK_SIZE) {
                    bitmap::claim(a.committed(), b, 1);
                } else {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            bitmap::unclaim(a.inuse(), idx, blocks);
            return (ptr::null_mut(), MemId::none());
        }
    }
    // No purge may run on blocks we own now; fresh blocks read as zero.
    bitmap::unclaim(a.purge(), idx, blocks);
    let was_clean = !bitmap::is_any_claimed(a.dirty(), idx, blocks);
    bitmap::claim(a.dirty(), idx, blocks);
    if was_clean {
        // Fresh memory adds to the process's RSS. Blocks that wait for their delayed
        // purge did not fit this request, so give them back now rather than keep both:
        // the delay is there so that freed blocks are taken again, and these were not.
        // (On `large`, huge blocks among smaller ones, this keeps 14 % less resident at
        // no cost in time or page faults: doc/design.md, "Purging".)
        try_purge_all(true);
    }
    let memid = MemId {
        kind: MemKind::Arena,
        arena_index: (a.id - 1) as usize,
        block_index: idx,
        block_count: blocks,
        initially_zero: was_clean,
        is_pinned: a.is_large,
        ..MemId::none()
    };
    (a.block_start(idx), memid)
}

/// Purge blocks `idx..idx+blocks` of `a`. A decommitted block reads as zeros (its
/// `dirty` bit is cleared and its resident slices leave the `committed` count); secure
/// builds also make it inaccessible, so that a use after free faults, and clear its
/// `committed` bit, so that `try_alloc_in` makes it read-write again before reuse.
///
/// # Safety
/// The caller owns the blocks (claimed in `inuse`) and they hold no live data.
unsafe fn purge_blocks(a: &Arena, idx: usize, blocks: usize) {
    let start = a.block_start(idx);
    let size = blocks * ARENA_BLOCK_SIZE;
    // SAFETY: per the contract.
    if unsafe { os::purge(start, size) } {
        bitmap::unclaim(a.dirty(), idx, blocks);
        let mut resident = 0;
        for b in idx..idx + blocks {
            // SAFETY: we hold the blocks' `inuse` bits.
            unsafe {
                resident += mask_count(&*a.resident(b));
                *a.resident(b) = [0; 8];
            }
        }
        STATS_MAIN.committed.decrease(resident * SEGMENT_SLICE_SIZE);
        // SAFETY: as above.
        if SECURE > 0 && unsafe { os::protect_guard(start, size, true) } {
            bitmap::unclaim(a.committed(), idx, blocks);
        }
    }
}

/// Take over what the blocks of a fresh arena allocation hold from their last user:
/// the resident mask of the first block and the number of resident slices of all of
/// them (counted in `committed` already: the new owner carries them on). The masks are
/// cleared. Zero for memory that is not from an arena.
///
/// # Safety
/// `memid` must describe an allocation from `alloc_aligned` that the caller owns and
/// has not taken over yet.
pub unsafe fn take_resident(memid: &MemId) -> (SliceMask, usize) {
    let mut first = [0; 8];
    let mut slices = 0;
    if memid.kind == MemKind::Arena {
        let a = arena_at(memid.arena_index);
        if !a.is_null() {
            // SAFETY: published arenas live for the process; the caller holds the
            // blocks' `inuse` bits.
            unsafe {
                let a = &*a;
                for b in memid.block_index..memid.block_index + memid.block_count {
                    let m = a.resident(b);
                    if b == memid.block_index {
                        first = *m;
                    }
                    slices += mask_count(&*m);
                    *m = [0; 8];
                }
            }
        }
    }
    (first, slices)
}

/// Whether segments may be placed in arena `a`. Secure builds keep them out of large
/// (pinned, huge) OS pages: a guard page cannot be carved out of one, so `mprotect`
/// would fail and leave the segment unguarded.
///
/// # Safety
/// `a` must be a published arena.
unsafe fn allows_segments(a: *const Arena) -> bool {
    // SAFETY: per the contract.
    SECURE == 0 || unsafe { !(*a).is_large }
}

/// Allocate memory for a segment: from an arena when possible (sizes ≥ 16 MiB,
/// alignment ≤ 32 MiB, no offset), reserving a new arena if all are full, else from the
/// OS. `req_arena_id != 0` restricts the allocation to that arena. Secure builds skip
/// arenas of large OS pages (see `allows_segments`), as C mimalloc's do.
pub fn alloc_aligned(
    size: usize,
    alignment: usize,
    align_offset: usize,
    req_arena_id: ArenaId,
) -> (*mut u8, MemId) {
    let blocks = size.div_ceil(ARENA_BLOCK_SIZE);
    let fits_arena = size >= ARENA_MIN_OBJ_SIZE
        && alignment <= ARENA_BLOCK_SIZE
        && align_offset == 0
        && blocks <= bitmap::BITS;
    if fits_arena {
        if req_arena_id != 0 {
            let i = (req_arena_id - 1) as usize;
            if i < arena_count() {
                let a = arena_at(i);
                // SAFETY: published arenas live for the process.
                if !a.is_null() && unsafe { allows_segments(a) } {
                    // SAFETY: as above.
                    let r = unsafe { try_alloc_in(a, blocks) };
                    if !r.0.is_null() {
                        return r;
                    }
                }
            }
            set_errno(ENOMEM);
            return (ptr::null_mut(), MemId::none());
        }
        if !options::is_enabled(Opt::DisallowArenaAlloc) {
            for round in 0..2 {
                for i in 0..arena_count() {
                    let a = arena_at(i);
                    // SAFETY: published arenas live for the process.
                    if a.is_null() || unsafe { (*a).exclusive || !allows_segments(a) } {
                        continue;
                    }
                    // SAFETY: as above.
                    let r = unsafe { try_alloc_in(a, blocks) };
                    if !r.0.is_null() {
                        return r;
                    }
                }
                // All full: reserve a new arena (not while the C runtime is starting).
                if round == 0
                    && !options::is_preloading()
                    && !options::is_enabled(Opt::DisallowOsAlloc)
                {
                    let rsize = next_reserve_size();
                    if rsize == 0 || arena_count() >= MAX_ARENAS - 4 || rsize < size {
                        break;
                    }
                    let commit = match options::get(Opt::ArenaEagerCommit) {
                        0 => false,
                        1 => true,
                        _ => prim::has_overcommit(),
                    };
                    // (secure: no huge pages, where guard pages would not fit)
                    let (err, _) = reserve_os_memory(rsize, commit, SECURE == 0, false);
                    if err != 0 {
                        break;
                    }
                } else {
                    break;
                }
            }
        }
    } else if req_arena_id != 0 {
        set_errno(ENOMEM);
        return (ptr::null_mut(), MemId::none());
    }
    if options::is_enabled(Opt::DisallowOsAlloc) {
        set_errno(ENOMEM);
        return (ptr::null_mut(), MemId::none());
    }
    os::alloc_aligned_at(size, alignment, align_offset)
}

/// Whether memory with provenance `memid` may serve a heap bound to `arena_id` (0 = any
/// non-exclusive memory).
pub fn memid_is_suitable(memid: &MemId, arena_id: ArenaId) -> bool {
    if memid.kind != MemKind::Arena {
        return arena_id == 0;
    }
    if arena_id != 0 {
        return memid.arena_index + 1 == arena_id as usize;
    }
    let a = arena_at(memid.arena_index);
    // SAFETY: published arenas live for the process.
    a.is_null() || unsafe { !(*a).exclusive }
}

/// Part of the memory `memid` describes may be inaccessible (`PROT_NONE`): the caller
/// could not make it read-write again before freeing it. Clear its arena blocks'
/// `committed` bits, so that the next allocation of them commits them (makes them
/// read-write) before use, as after a secure purge. Nothing to do for OS memory, which
/// goes back to the OS.
///
/// # Safety
/// The caller still owns the memory (before `free`).
pub unsafe fn forget_committed(memid: &MemId) {
    if memid.kind != MemKind::Arena {
        return;
    }
    let a = arena_at(memid.arena_index);
    if !a.is_null() {
        // SAFETY: published arenas live for the process.
        let a = unsafe { &*a };
        bitmap::unclaim(a.committed(), memid.block_index, memid.block_count);
    }
}

/// Return memory obtained from `alloc_aligned`. `resident` has the slices of the first
/// 32 MiB that may be resident, counted in `committed` by the caller; for memory of
/// more than one arena block all of every further block is counted as resident (only
/// huge segments span several blocks). The count moves to the arena until the blocks
/// are purged or taken again (`take_resident`); for other memory the caller takes it
/// out of `committed` itself.
///
/// # Safety
/// `p`/`size`/`memid` must describe a live allocation from `alloc_aligned` that nothing
/// uses any more.
pub unsafe fn free(p: *mut u8, size: usize, memid: &MemId, resident: &SliceMask) {
    match memid.kind {
        MemKind::Os => os::free(memid),
        MemKind::Arena => {
            let a = arena_at(memid.arena_index);
            if a.is_null() {
                crate::mi_error!(
                    EINVAL,
                    "trying to free from an invalid arena: {:p}, size {}",
                    p,
                    size
                );
                return;
            }
            let a = &*a;
            let (idx, blocks) = (memid.block_index, memid.block_count);
            for b in idx..idx + blocks {
                // SAFETY: we still hold the blocks' `inuse` bits.
                *a.resident(b) = if b == idx { *resident } else { SLICE_MASK_FULL };
            }
            let delay = options::get(Opt::PurgeDelay) * options::get(Opt::ArenaPurgeMult);
            if !a.is_large && delay >= 0 {
                if delay == 0 || options::is_preloading() {
                    // Purge while we still own the blocks.
                    purge_blocks(a, idx, blocks);
                } else {
                    bitmap::claim(a.purge(), idx, blocks);
                    // Relaxed: a timestamp heuristic; a lost race only delays a purge.
                    if a.purge_expire.load(Ordering::Relaxed) == 0 {
                        let now = prim::clock_now_ms();
                        a.purge_expire.store(now + delay, Ordering::Relaxed);
                    } else {
                        // As mimalloc: each further free pushes the pending purge back a
                        // little, so blocks freed and taken again while a program churns
                        // through segments (threads coming and going) are not purged and
                        // faulted in again in between; the purge comes once it calms down.
                        a.purge_expire.fetch_add(delay / 10, Ordering::Relaxed);
                    }
                }
            }
            if !bitmap::unclaim(a.inuse(), idx, blocks) {
                crate::mi_error!(
                    EAGAIN,
                    "trying to free an already freed arena block: {:p}, size {}",
                    p,
                    size
                );
            }
            try_purge_all(false);
        }
        MemKind::External | MemKind::None => {}
    }
}

/// Purge the free blocks of all arenas whose delay expired (all with `force`). Only one
/// thread purges at a time; each block is claimed while it is purged so no allocation
/// can race with the purge.
pub fn try_purge_all(force: bool) {
    let now = prim::clock_now_ms();
    // Acquire: enter the purge critical section after the previous purger left it.
    if PURGE_GUARD
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    for i in 0..arena_count() {
        let a = arena_at(i);
        if a.is_null() {
            continue;
        }
        // SAFETY: published arenas live for the process.
        let a = unsafe { &*a };
        // Relaxed: see `free`.
        let expire = a.purge_expire.load(Ordering::Relaxed);
        if expire == 0 || (!force && now < expire) {
            continue;
        }
        a.purge_expire.store(0, Ordering::Relaxed);
        // Claim each block due (so nobody allocates it meanwhile) and purge each run of
        // adjacent claimed blocks with one system call.
        let mut run = 0; // blocks claimed just before `idx`
        for idx in 0..=a.block_count {
            let claimed = idx < a.block_count
                && bitmap::is_any_claimed(a.purge(), idx, 1)
                // (a block in use again keeps its stale purge bit: its allocator clears
                // it; `claim` then set a bit that was already set, nothing to undo)
                && bitmap::claim(a.inuse(), idx, 1);
            if claimed {
                run += 1;
                continue;
            }
            if run > 0 {
                let first = idx - run;
                // SAFETY: we own the blocks (claimed above) and they hold no live data.
                unsafe { purge_blocks(a, first, run) };
                bitmap::unclaim(a.purge(), first, run);
                bitmap::unclaim(a.inuse(), first, run);
                run = 0;
            }
        }
    }
    // Release: leave the critical section.
    PURGE_GUARD.store(false, Ordering::Release);
}

/// In a forked child the purging thread may have vanished while holding the guard.
#[cfg_attr(windows, allow(dead_code))]
pub fn fork_child_reset() {
    // Relaxed: single-threaded context (fork child).
    PURGE_GUARD.store(false, Ordering::Relaxed);
}

/// Start and size of an arena (`mi_arena_area`).
pub fn area(id: ArenaId) -> Option<(*mut u8, usize)> {
    if id <= 0 || id as usize > arena_count() {
        return None;
    }
    let a = arena_at(id as usize - 1);
    if a.is_null() {
        return None;
    }
    // SAFETY: published arenas live for the process.
    let a = unsafe { &*a };
    Some((a.start, a.size()))
}

/// Whether `p` lies inside any arena.
pub fn contains(p: *const u8) -> bool {
    (0..arena_count()).any(|i| {
        let a = arena_at(i);
        // SAFETY: published arenas live for the process.
        !a.is_null()
            && unsafe {
                (p as usize) >= (*a).start as usize
                    && (p as usize) < (*a).start as usize + (*a).size()
            }
    })
}

/// Unmap all arenas that came from the OS (process exit with `destroy_on_exit`).
///
/// # Safety
/// No memory of any arena may be used afterwards.
pub unsafe fn destroy_all() {
    let n = arena_count();
    for slot in ARENAS.iter().take(n) {
        let a = slot.swap(ptr::null_mut(), Ordering::AcqRel);
        if a.is_null() {
            continue;
        }
        if (*a).memid.kind == MemKind::Os {
            os::free(&(*a).memid);
        }
        let meta_size = (*a).meta_size;
        prim::munmap(a as *mut u8, meta_size);
    }
    ARENA_COUNT.store(0, Ordering::Release);
}

/// Register user memory as an arena (`mi_manage_os_memory_ex`). Returns the id, 0 if
/// the area is too small, or −1 if the arena table is full.
///
/// # Safety
/// The memory must be owned by the caller, mapped, and handed to us for good.
pub unsafe fn manage_os_memory(
    start: *mut u8,
    size: usize,
    is_committed: bool,
    is_large: bool,
    is_zero: bool,
    numa_node: i32,
    exclusive: bool,
) -> ArenaId {
    if size < ARENA_BLOCK_SIZE || start.is_null() {
        return 0;
    }
    if arena_count() >= MAX_ARENAS {
        return -1;
    }
    // SAFETY: the caller hands this memory to us for good.
    let id = unsafe {
        add(
            start,
            size,
            is_large,
            is_zero,
            numa_node.max(-1),
            exclusive,
            MemId {
                is_pinned: is_large,
                // (uncommitted blocks are made read-write when first claimed)
                initially_committed: is_committed,
                ..MemId::external()
            },
        )
    };
    if id == 0 && arena_count() >= MAX_ARENAS {
        return -1;
    }
    id
}

/// Reserve `pages` 1 GiB huge pages (as one arena) on a NUMA node. Returns
/// (0 or ENOMEM, arena id).
pub fn reserve_huge_os_pages_at(
    pages: usize,
    numa_node: i32,
    timeout_msecs: usize,
    exclusive: bool,
) -> (i32, ArenaId) {
    if pages == 0 {
        return (0, 0);
    }
    if !prim::HUGE_1GIB_PAGES {
        crate::mi_warning!(
            "failed to reserve {} GiB huge pages (not supported on this system)",
            pages
        );
        return (ENOMEM, 0);
    }
    const GIB: usize = 1 << 30;
    let start_time = prim::clock_now_ms();
    let nodes = crate::stats::NUMA_NODE_COUNT.load(Ordering::Relaxed).max(1) as i32;
    let node = if numa_node < 0 { -1 } else { numa_node % nodes };
    // Map the pages one by one at consecutive addresses; stop early on failure or time-out.
    let size = pages * GIB;
    // SAFETY: reserve address space only (no access), then map huge pages over it.
    let base = prim::mmap(ptr::null_mut(), size + GIB, false);
    if base.is_null() {
        crate::mi_warning!("failed to reserve {} GiB huge pages", pages);
        return (ENOMEM, 0);
    }
    let aligned = align_up(base as usize, GIB) as *mut u8;
    let mut got = 0usize;
    // A failed `MAP_FIXED` mapping may already have removed that GiB of our reservation
    // (mmap(2)), and another thread may have mapped something there since: it is not
    // ours to unmap any more.
    let mut lost = 0usize;
    while got < pages {
        let addr = aligned.wrapping_add(got * GIB);
        // SAFETY: `addr` is the next GiB of the reservation made above.
        if !unsafe { prim::map_huge_1gib_at(addr, if nodes > 1 { node } else { -1 }) } {
            lost = GIB;
            break;
        }
        got += 1;
        let elapsed = (prim::clock_now_ms() - start_time) as usize;
        if timeout_msecs > 0
            && (elapsed > timeout_msecs || elapsed / got * pages > 2 * timeout_msecs)
        {
            break;
        }
    }
    // SAFETY: unmapping the unused parts of our own reservation.
    unsafe {
        let pre = aligned as usize - base as usize;
        if pre > 0 {
            prim::munmap(base, pre);
        }
        let used_end = aligned as usize + got * GIB + lost;
        let end = base as usize + size + GIB;
        if end > used_end {
            prim::munmap(used_end as *mut u8, end - used_end);
        }
    }
    if got == 0 {
        crate::mi_warning!("failed to reserve {} GiB huge pages", pages);
        return (ENOMEM, 0);
    }
    crate::mi_verbose!(
        "numa node {}: reserved {} GiB huge pages (of the {} GiB requested)",
        node,
        got,
        pages
    );
    let memid = MemId {
        kind: MemKind::Os,
        os_base: aligned,
        os_size: got * GIB,
        is_pinned: true,
        initially_zero: true,
        initially_committed: true,
        ..MemId::none()
    };
    // SAFETY: the huge pages are ours for the life of the arena.
    let id = unsafe { add(aligned, got * GIB, true, true, node, exclusive, memid) };
    if id == 0 {
        // SAFETY: not registered: give it back.
        unsafe { prim::munmap(aligned, got * GIB) };
        return (ENOMEM, 0);
    }
    (0, id)
}

/// Reserve huge pages spread over NUMA nodes.
pub fn reserve_huge_os_pages_interleave(
    pages: usize,
    numa_nodes: usize,
    timeout_msecs: usize,
) -> i32 {
    if pages == 0 {
        return 0;
    }
    let nodes = if numa_nodes == 0 {
        crate::stats::NUMA_NODE_COUNT.load(Ordering::Relaxed).max(1)
    } else {
        numa_nodes
    };
    let per = pages / nodes;
    let rem = pages % nodes;
    let node_timeout = if timeout_msecs == 0 {
        0
    } else {
        timeout_msecs / nodes + 50
    };
    for node in 0..nodes {
        let n = per + if node < rem { 1 } else { 0 };
        if n == 0 {
            continue;
        }
        let (err, _) = reserve_huge_os_pages_at(n, node as i32, node_timeout, false);
        if err != 0 {
            return err;
        }
    }
    0
}

/// Print the arenas and their block bitmaps on the verbose channel. `abandoned` tells
/// whether the block at an address starts an abandoned segment (the segment layer keeps
/// that map); `None` leaves that row out.
pub fn debug_show(show_inuse: bool, abandoned: Option<fn(usize) -> bool>, show_purge: bool) {
    let (mut total_inuse, mut total_abandoned) = (0, 0);
    for i in 0..arena_count() {
        let a = arena_at(i);
        if a.is_null() {
            continue;
        }
        // SAFETY: published arenas live for the process.
        let a = unsafe { &*a };
        crate::mi_verbose!(
            "arena {}: {} blocks of size {}MiB (in {} fields) {}",
            i,
            a.block_count,
            ARENA_BLOCK_SIZE / (1 << 20),
            a.field_count,
            if a.is_large { "(large)" } else { "" }
        );
        let in_bits = |bits: &[AtomicUsize], idx: usize| bitmap::is_claimed(bits, idx, 1);
        if show_inuse {
            total_inuse += show_row(a, "inuse", |idx| in_bits(a.inuse(), idx));
        }
        if let Some(is_abandoned) = abandoned {
            total_abandoned += show_row(a, "abandoned", |idx| {
                is_abandoned(a.block_start(idx) as usize)
            });
        }
        if show_purge {
            show_row(a, "purge", |idx| in_bits(a.purge(), idx));
        }
    }
    if show_inuse {
        crate::mi_verbose!("total inuse blocks    : {}", total_inuse);
    }
    if abandoned.is_some() {
        crate::mi_verbose!("total abandoned blocks: {}", total_abandoned);
    }
}

/// Print one bitmap row of an arena (64 blocks a line) and return its count of set bits.
fn show_row(a: &Arena, name: &str, is_set: impl Fn(usize) -> bool) -> usize {
    let mut line = crate::output::StackBuf::<160>::new();
    let mut count = 0;
    for idx in 0..a.block_count {
        let set = is_set(idx);
        count += set as usize;
        let _ = core::fmt::Write::write_char(&mut line, if set { 'x' } else { '.' });
        if (idx + 1) % 64 == 0 || idx + 1 == a.block_count {
            crate::mi_verbose!("  {}", line.as_str());
            line.clear();
        }
    }
    crate::mi_verbose!("  blocks {}: {}", name, count);
    count
}
