//! Geometry and tuning constants shared by every layer (mimalloc's `types.h`), and the
//! build-mode switches derived from cargo features.
//!
//! Numbers are for 64-bit targets and match mimalloc 2.1.7 (internals.md §2).

pub const INTPTR_SIZE: usize = core::mem::size_of::<usize>();
pub const MAX_ALIGN_SIZE: usize = 16;

pub const SEGMENT_SLICE_SHIFT: usize = 16;
pub const SEGMENT_SLICE_SIZE: usize = 1 << SEGMENT_SLICE_SHIFT; // 64 KiB
pub const SEGMENT_SHIFT: usize = 9 + SEGMENT_SLICE_SHIFT;
pub const SEGMENT_SIZE: usize = 1 << SEGMENT_SHIFT; // 32 MiB
pub const SEGMENT_ALIGN: usize = SEGMENT_SIZE;
pub const SEGMENT_MASK: usize = SEGMENT_ALIGN - 1;
pub const SLICES_PER_SEGMENT: usize = SEGMENT_SIZE / SEGMENT_SLICE_SIZE; // 512

/// One bit per 64 KiB slice of a segment (or of a 32 MiB arena block).
pub type SliceMask = [usize; SLICES_PER_SEGMENT / usize::BITS as usize];
pub const SLICE_MASK_FULL: SliceMask = [usize::MAX; SLICES_PER_SEGMENT / usize::BITS as usize];

/// Number of slices in a mask.
#[inline]
pub fn mask_count(m: &SliceMask) -> usize {
    m.iter().map(|w| w.count_ones() as usize).sum()
}

pub const SMALL_PAGE_SIZE: usize = SEGMENT_SLICE_SIZE; // 64 KiB
pub const MEDIUM_PAGE_SIZE: usize = 8 * SEGMENT_SLICE_SIZE; // 512 KiB
pub const SMALL_OBJ_SIZE_MAX: usize = SMALL_PAGE_SIZE / 4; // 16 KiB
pub const MEDIUM_OBJ_SIZE_MAX: usize = MEDIUM_PAGE_SIZE / 4; // 128 KiB
pub const MEDIUM_OBJ_WSIZE_MAX: usize = MEDIUM_OBJ_SIZE_MAX / INTPTR_SIZE;
pub const LARGE_OBJ_SIZE_MAX: usize = SEGMENT_SIZE / 2; // 16 MiB
pub const MAX_ALIGN_GUARANTEE: usize = MEDIUM_OBJ_SIZE_MAX;
pub const BLOCK_ALIGNMENT_MAX: usize = SEGMENT_SIZE / 2;
/// Largest request ever honoured (64 KiB × (2^32 − 2)).
pub const MAX_ALLOC_SIZE: usize = SEGMENT_SLICE_SIZE * ((1usize << 32) - 2);

pub const SMALL_WSIZE_MAX: usize = 128;
pub const SMALL_SIZE_MAX: usize = SMALL_WSIZE_MAX * INTPTR_SIZE; // 1024

pub const BIN_HUGE: usize = 73;
pub const BIN_FULL: usize = BIN_HUGE + 1;
pub const SEGMENT_BIN_MAX: usize = 35;

pub const RETIRE_CYCLES: u8 = 16;

/// Free lists are extended by at most this many bytes' worth of blocks at a time.
pub const MAX_EXTEND_SIZE: usize = 4 * 1024;
pub const MIN_EXTEND: usize = if SECURE >= 1 { 8 * SECURE } else { 4 };

/// Arena blocks are the size of a segment.
pub const ARENA_BLOCK_SIZE: usize = SEGMENT_SIZE;

// --- build modes -------------------------------------------------------------------------

/// `MI_SECURE` level: 4 with feature `secure`, 3/2/1 with `secure3`/`secure2`/`secure1`
/// (the highest one enabled wins, as cargo features only add), else 0. Each level adds
/// to the one below: 1 guard pages and randomised free lists, 2 a hint when a guard
/// page cannot be placed, 3 encoded free lists and padding, 4 double-free and pointer
/// checks.
pub const SECURE: usize = if cfg!(feature = "secure") {
    4
} else if cfg!(feature = "secure3") {
    3
} else if cfg!(feature = "secure2") {
    2
} else if cfg!(feature = "secure1") {
    1
} else {
    0
};
/// `MI_DEBUG` level: 3 with `debug_full`, 2 with `debug`, else 0.
pub const DEBUG: usize = if cfg!(feature = "debug_full") {
    3
} else if cfg!(feature = "debug") {
    2
} else {
    0
};
/// Padding after every block with a canary (debug, secure, tracking, or explicit).
pub const PADDING: bool = !cfg!(feature = "no_padding")
    && (cfg!(feature = "padding")
        || DEBUG > 0
        || SECURE >= 3
        || cfg!(feature = "track_valgrind")
        || cfg!(feature = "track_asan"));
pub const PADDING_SIZE: usize = if PADDING { 8 } else { 0 };
pub const PADDING_WSIZE: usize = if PADDING { 1 } else { 0 };
/// Free-list links are encoded with per-page keys.
pub const ENCODE_FREELIST: bool = SECURE >= 3 || DEBUG > 0;

/// Entries of a heap's direct page table (one per word size up to `SMALL_WSIZE_MAX`).
pub const PAGES_DIRECT: usize = SMALL_WSIZE_MAX + PADDING_WSIZE + 1;

/// Fill patterns of debug builds.
pub const DEBUG_UNINIT: u8 = 0xD0;
pub const DEBUG_FREED: u8 = 0xDF;
pub const DEBUG_PADDING: u8 = 0xDE;

// errno values used by error reports (Linux).
pub const EAGAIN: i32 = libc::EAGAIN;
pub const ENOMEM: i32 = libc::ENOMEM;
pub const EFAULT: i32 = libc::EFAULT;
pub const EINVAL: i32 = libc::EINVAL;
pub const EOVERFLOW: i32 = libc::EOVERFLOW;

// --- small helpers -------------------------------------------------------------------------

#[inline(always)]
pub const fn align_up(x: usize, align: usize) -> usize {
    debug_assert!(align != 0);
    let mask = align - 1;
    if align & mask == 0 {
        (x + mask) & !mask
    } else {
        x.div_ceil(align) * align
    }
}

#[inline(always)]
pub const fn align_down(x: usize, align: usize) -> usize {
    debug_assert!(align != 0);
    let mask = align - 1;
    if align & mask == 0 {
        x & !mask
    } else {
        (x / align) * align
    }
}

#[inline(always)]
pub const fn wsize_from_size(size: usize) -> usize {
    size.div_ceil(INTPTR_SIZE)
}

#[inline(always)]
pub const fn is_power_of_two(x: usize) -> bool {
    x & x.wrapping_sub(1) == 0
}

/// `count * size`, or `None` on overflow.
#[inline(always)]
pub fn mul_overflow(count: usize, size: usize) -> Option<usize> {
    if count == 1 {
        Some(size)
    } else {
        count.checked_mul(size)
    }
}

/// Set errno for the calling thread.
#[inline]
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    #[cfg(not(windows))]
    unsafe {
        *libc::__errno_location() = e
    };
    // SAFETY: `_errno` returns this thread's errno slot of the C runtime.
    #[cfg(windows)]
    unsafe {
        *_errno() = e
    };
}

#[inline]
pub fn get_errno() -> i32 {
    // SAFETY: as above.
    #[cfg(not(windows))]
    unsafe {
        *libc::__errno_location()
    }
    // SAFETY: as above.
    #[cfg(windows)]
    unsafe {
        *_errno()
    }
}

#[cfg(windows)]
extern "C" {
    /// The C runtime's per-thread errno (msvcrt/ucrt).
    fn _errno() -> *mut i32;
}
