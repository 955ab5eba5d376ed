//! OS memory policy on top of `prim`: aligned mappings, commit/purge decisions, the
//! rounding of large requests, and the accounting of reserved memory. (The `committed`
//! statistic counts what segments use and have not purged, which the segment and arena
//! layers know, not what is mapped read-write: with overcommit that is every arena.)

use crate::options::{self, Opt};
use crate::prim;
use crate::stats::STATS_MAIN;
use crate::sync::{AtomicUsize, Ordering};
use crate::types::*;
use core::ptr;

/// Where a piece of memory came from, so it can be returned the same way.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemKind {
    /// Nothing (a failed allocation).
    None,
    /// A mapping of its own: `base`/`size` describe the whole mapping (which may be larger
    /// than the aligned part handed out).
    Os,
    /// Blocks of an arena.
    Arena,
    /// Memory provided by the user or static storage: never unmapped.
    External,
}

/// Provenance of a memory range (mimalloc's `mi_memid_t`).
#[derive(Clone, Copy, Debug)]
pub struct MemId {
    pub kind: MemKind,
    /// `Os`: the start and size of the whole mapping.
    pub os_base: *mut u8,
    pub os_size: usize,
    /// `Arena`: the arena index and the first block.
    pub arena_index: usize,
    pub block_index: usize,
    pub block_count: usize,
    /// Reads of the range see zeros.
    pub initially_zero: bool,
    /// Never purged (large OS pages or user memory that must stay).
    pub is_pinned: bool,
    /// The whole range was mapped read-write (counted as committed).
    pub initially_committed: bool,
}

impl MemId {
    pub const fn none() -> MemId {
        MemId {
            kind: MemKind::None,
            os_base: ptr::null_mut(),
            os_size: 0,
            arena_index: 0,
            block_index: 0,
            block_count: 0,
            initially_zero: false,
            is_pinned: false,
            initially_committed: false,
        }
    }
    pub const fn external() -> MemId {
        MemId {
            kind: MemKind::External,
            ..MemId::none()
        }
    }
}

/// Round a large request up to a granularity that keeps fragmentation of the address
/// space low: 4 KiB below 512 KiB, then 64 KiB, 256 KiB, 1 MiB and 4 MiB steps.
pub fn good_alloc_size(size: usize) -> usize {
    let align = if size < 512 * 1024 {
        prim::page_size()
    } else if size < 2 * 1024 * 1024 {
        64 * 1024
    } else if size < 8 * 1024 * 1024 {
        256 * 1024
    } else if size < 32 * 1024 * 1024 {
        1024 * 1024
    } else {
        4 * 1024 * 1024
    };
    if size >= usize::MAX - align {
        return size; // overflow: let the caller fail on it
    }
    align_up(size, align)
}

/// Map `size` bytes such that `p + offset` is aligned to `alignment`, committed.
pub fn alloc_aligned_at(size: usize, alignment: usize, offset: usize) -> (*mut u8, MemId) {
    alloc_aligned_at_ex(size, alignment, offset, true)
}

/// Map `size` bytes such that `p + offset` is aligned to `alignment` (a power of two);
/// `p` itself is page aligned. Returns null and sets errno to ENOMEM on failure.
/// As `alloc_aligned_at`; with `commit == false` the range is only reserved (no access)
/// and must be committed with `commit` before use.
pub fn alloc_aligned_at_ex(
    size: usize,
    alignment: usize,
    offset: usize,
    commit: bool,
) -> (*mut u8, MemId) {
    let ps = prim::page_size();
    let alignment = alignment.max(ps);
    debug_assert!(is_power_of_two(alignment) && offset % ps == 0);
    let size = align_up(size, ps);
    if size == 0 || size > (isize::MAX as usize) / 2 - alignment {
        set_errno(ENOMEM);
        return (ptr::null_mut(), MemId::none());
    }
    // First try: at a hint address that is already aligned (a randomised bump pointer),
    // else wherever the kernel likes, which is often aligned for large sizes.
    let hint = if offset == 0 {
        aligned_hint(size, alignment)
    } else {
        ptr::null_mut()
    };
    let mut p = prim::mmap(hint, size, commit);
    if !hint.is_null() && p != hint && !p.is_null() {
        // SAFETY: the mapping we just made, not at the hint: retry without one.
        unsafe { prim::munmap(p, size) };
        p = prim::mmap(ptr::null_mut(), size, commit);
    }
    if p.is_null() {
        return os_fail(size);
    }
    let aligned = if (p as usize + offset) & (alignment - 1) == 0 {
        p
    } else {
        // SAFETY: `p` is the mapping we just made.
        unsafe { prim::munmap(p, size) };
        // (Windows cannot trim a mapping: its platform layer re-reserves at an aligned
        // address instead)
        #[cfg(windows)]
        let aligned = prim::mmap_aligned(size, alignment, offset, commit);
        #[cfg(not(windows))]
        let aligned = over_allocate_and_trim(size, alignment, offset, commit);
        if aligned.is_null() {
            return os_fail(size + alignment);
        }
        aligned
    };
    STATS_MAIN.mmap_calls.increase(1);
    // (`committed` counts what segments use, not what is mapped: see `doc/stats.md`)
    STATS_MAIN.reserved.increase(size);
    let memid = MemId {
        kind: MemKind::Os,
        os_base: aligned,
        os_size: size,
        initially_zero: true,
        initially_committed: commit,
        ..MemId::none()
    };
    (aligned, memid)
}

/// Map `size + alignment` bytes and unmap both ends so that only `size` bytes with
/// `p + offset` aligned stay mapped. Null on failure.
#[cfg(not(windows))]
fn over_allocate_and_trim(size: usize, alignment: usize, offset: usize, commit: bool) -> *mut u8 {
    let over = size + alignment;
    let q = prim::mmap(ptr::null_mut(), over, commit);
    if q.is_null() {
        return q;
    }
    let aligned = (align_up(q as usize + offset, alignment) - offset) as *mut u8;
    let aligned = if (aligned as usize) < q as usize {
        aligned.wrapping_add(alignment)
    } else {
        aligned
    };
    let pre = aligned as usize - q as usize;
    let post = over - pre - size;
    // SAFETY: both trimmed ranges lie inside the fresh mapping `q` and are unused.
    unsafe {
        if pre > 0 {
            prim::munmap(q, pre);
        }
        if post > 0 {
            prim::munmap(aligned.add(size), post);
        }
    }
    aligned
}

/// Next address of the hint area: starting at 2 TiB plus a random multiple of 32 MiB
/// (up to 4 TiB), bumped by each aligned mapping; secure builds leave a 32 MiB gap
/// between mappings. Mapping at a suitably aligned hint avoids over-allocating and
/// trimming, and randomises where our memory is.
static HINT_NEXT: AtomicUsize = AtomicUsize::new(0);
const HINT_BASE: usize = 2 << 40;
const HINT_END: usize = 30 << 40;
const HINT_MAX_SIZE: usize = 1 << 30;

fn aligned_hint(size: usize, alignment: usize) -> *mut u8 {
    if size > HINT_MAX_SIZE || alignment > SEGMENT_ALIGN || SEGMENT_ALIGN % alignment != 0 {
        return ptr::null_mut();
    }
    let step = align_up(size, SEGMENT_ALIGN) + if SECURE > 0 { SEGMENT_ALIGN } else { 0 };
    // Relaxed: any value is a valid hint; races just hand out different hints.
    let start = HINT_NEXT.load(Ordering::Relaxed);
    if start == 0 || start > HINT_END {
        let r = if DEBUG > 0 && SECURE == 0 {
            0
        } else {
            crate::random::os_random_weak(HINT_BASE)
        };
        let init = HINT_BASE + (r % ((4usize << 40) / SEGMENT_ALIGN)) * SEGMENT_ALIGN;
        let _ = HINT_NEXT.compare_exchange(start, init, Ordering::Relaxed, Ordering::Relaxed);
    }
    let hint = HINT_NEXT.fetch_add(step, Ordering::Relaxed);
    if hint == 0 || hint > HINT_END {
        return ptr::null_mut();
    }
    hint as *mut u8
}

#[cold]
fn os_fail(size: usize) -> (*mut u8, MemId) {
    let err = get_errno();
    crate::mi_warning!(
        "unable to allocate OS memory (error: {} (0x{:x}), size: 0x{:x} bytes)",
        err,
        err,
        size
    );
    set_errno(ENOMEM);
    (ptr::null_mut(), MemId::none())
}

/// Return an `Os` mapping.
///
/// # Safety
/// `memid` must describe a live mapping from `alloc_aligned` that nothing uses.
pub unsafe fn free(memid: &MemId) {
    if memid.kind != MemKind::Os {
        return;
    }
    // SAFETY: per the contract the mapping is ours and unused.
    let err = unsafe { prim::munmap(memid.os_base, memid.os_size) };
    if err != 0 {
        crate::mi_warning!(
            "unable to free OS memory (error: {}, address: {:p}, size: 0x{:x} bytes)",
            err,
            memid.os_base,
            memid.os_size
        );
    }
    STATS_MAIN.reserved.decrease(memid.os_size);
}

/// Make a reserved range accessible (read-write). Returns false on failure.
///
/// # Safety
/// The range must be an owned, page-aligned part of a reservation.
pub unsafe fn commit(p: *mut u8, size: usize) -> bool {
    STATS_MAIN.commit_calls.increase(1);
    let err = prim::protect(p, size, true);
    if err != 0 {
        crate::mi_warning!(
            "cannot commit OS memory (error: {}, address: {:p}, size: 0x{:x} bytes)",
            err,
            p,
            size
        );
        return false;
    }
    true
}

/// Turn a page-aligned range into a guard (no access) or back (read-write), as the
/// secure builds do around segment metadata and at segment ends. Failure is not fatal
/// (the memory stays usable, only unguarded) but is reported: with `MI_SECURE >= 2` an
/// `ENOMEM` comes with a hint at the usual cause, the kernel's limit on mappings (each
/// guard page splits one mapping into three).
///
/// # Safety
/// The range must be an owned, page-aligned part of a reservation that holds no live
/// data while it is a guard.
pub unsafe fn protect_guard(p: *mut u8, size: usize, guard: bool) -> bool {
    // SAFETY: per the contract.
    let err = unsafe { prim::protect(p, size, !guard) };
    if err == 0 {
        return true;
    }
    if SECURE >= 2 && err == libc::ENOMEM {
        crate::mi_warning!(
            "the next warning may be caused by a low memory map limit.\n  On Linux this is controlled by the vm.max_map_count -- maybe increase it?\n  For example: sudo sysctl -w vm.max_map_count=262144"
        );
    }
    crate::mi_warning!(
        "cannot {} OS memory (error: {}, address: {:p}, size: 0x{:x} bytes)",
        if guard { "protect" } else { "unprotect" },
        err,
        p,
        size
    );
    false
}

/// Return the physical memory of an unused range to the OS, by decommit
/// (`MADV_DONTNEED`, reads see zeros afterwards) or by reset (`MADV_FREE`) as the
/// `purge_decommits` option says. Returns true if the range now reads as zeros.
///
/// # Safety
/// The range must be owned, hold no live data, and lie in read-write memory.
pub unsafe fn purge(p: *mut u8, size: usize) -> bool {
    let ps = prim::page_size();
    // Only whole OS pages inside the range.
    let start = align_up(p as usize, ps);
    let end = align_down(p as usize + size, ps);
    if end <= start {
        return false;
    }
    let (start, len) = (start as *mut u8, end - start);
    STATS_MAIN.purge_calls.increase(1);
    STATS_MAIN.purged.increase(len);
    if options::get(Opt::PurgeDecommits) != 0 && !options::is_preloading() {
        // SAFETY: per the contract.
        let err = unsafe { prim::decommit(start, len) };
        if err != 0 {
            crate::mi_warning!(
                "cannot decommit OS memory (error: {}, address: {:p}, size: 0x{:x} bytes)",
                err,
                start,
                len
            );
            return false;
        }
        true
    } else {
        STATS_MAIN.reset_calls.increase(1);
        STATS_MAIN.reset.increase(len);
        // SAFETY: per the contract.
        let err = unsafe { prim::reset(start, len) };
        if err != 0 {
            crate::mi_warning!(
                "cannot reset OS memory (error: {}, address: {:p}, size: 0x{:x} bytes)",
                err,
                start,
                len
            );
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_alloc_size_rounds_by_magnitude() {
        let ps = prim::page_size();
        assert_eq!(good_alloc_size(1), ps);
        assert_eq!(good_alloc_size(600_000), 655_360);
        assert_eq!(good_alloc_size(2 << 20), 2 << 20);
        assert_eq!(good_alloc_size((2 << 20) + 1), (2 << 20) + 256 * 1024);
        assert_eq!(good_alloc_size((8 << 20) + 1), 9 << 20);
        assert_eq!(good_alloc_size((32 << 20) + 1), 36 << 20);
        assert_eq!(good_alloc_size(usize::MAX - 10), usize::MAX - 10);
    }

    #[test]
    fn aligned_mappings_are_aligned_and_freed() {
        for (size, align, offset) in [
            (1 << 20, 1 << 25, 0),
            (3 << 20, 1 << 26, 0),
            (64 << 10, 1 << 25, 1 << 25),
        ] {
            let (p, memid) = alloc_aligned_at(size, align, offset);
            assert!(!p.is_null());
            assert_eq!((p as usize + offset) % align, 0);
            // SAFETY: fresh mapping of `size` bytes.
            unsafe {
                assert_eq!(*p, 0);
                p.add(size - 1).write(1);
                free(&memid);
            }
        }
    }
}
