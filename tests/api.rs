//! Integration tests of the C API (api.md §1, §2, §4, §6, §10 and the thread/ownership
//! functions), called through the exported `extern "C"` functions of `mimalloc::capi`.
//!
//! Expected values come from `shared/spec/api.md` (and the size-class description of
//! `internals.md` §3); our build deliberately differs from C mimalloc 2.1.7 in that every
//! allocation failure sets `errno = ENOMEM` (`shared/DESIGN.md`, "errno").
//!
//! Where padding builds (debug, secure, tracking, `padding`) answer differently from
//! release builds the test says so with `PADDING`.
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
// (`is_multiple_of` is newer than the crate's rust-version; the casts keep the tests
// independent of the exact pointer types of the C API layer)
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};

use mimalloc::capi::*;

mod common;
use common::{errno, set_errno, KIB, MIB, PAD, PADDING};

// ---------------------------------------------------------------------------------------
// Constants of api.md §0 (64-bit) and helpers
// ---------------------------------------------------------------------------------------

/// `MI_PADDING_SIZE`.
const MEDIUM_OBJ_SIZE_MAX: usize = 128 * KIB;
const BLOCK_ALIGNMENT_MAX: usize = 16 * MIB;
const MAX_ALLOC_SIZE: usize = 65536 * ((1usize << 32) - 2);
const PTR: usize = std::mem::size_of::<*mut c_void>();
/// `MI_DEBUG > 0`: frees and usable-size queries validate the pointer.
const DEBUG: bool = cfg!(feature = "debug");
/// With `override`, libc's `malloc` is ours: "foreign" blocks must come from elsewhere.
const OVERRIDE: bool = cfg!(feature = "override");

fn os_page_size() -> usize {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}
fn is_aligned<T>(p: *const T, align: usize) -> bool {
    (p as usize) % align == 0
}
fn round_up(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}
unsafe fn free<T>(p: *mut T) {
    mi_free(p as *mut c_void)
}
unsafe fn usable<T>(p: *const T) -> usize {
    mi_usable_size(p as *const c_void)
}

/// Block sizes of the size-class bins 0..=52 (internals.md §3, `MI_PAGE_QUEUES_EMPTY`).
const BIN_SIZES: [usize; 53] = [
    8, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
    640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
    10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536, 81920,
    98304, 114688, 131072,
];
/// `_mi_bin_size(MI_BIN_HUGE)` = (16384+1)*8.
const BIN_HUGE_SIZE: usize = 131080;

/// `mi_bin(size)` of internals.md §3 (64-bit), `size` already including padding.
fn model_bin(size: usize) -> usize {
    let w = size.div_ceil(8);
    if w <= 1 {
        1
    } else if w <= 8 {
        (w + 1) & !1
    } else if w > 16384 {
        73
    } else {
        let w1 = w - 1;
        let b = (usize::BITS - 1 - w1.leading_zeros()) as usize;
        4 * b + ((w1 >> (b - 2)) & 3) - 3
    }
}
fn model_bin_size(size: usize) -> usize {
    let bin = model_bin(size);
    if bin == 73 {
        BIN_HUGE_SIZE
    } else {
        BIN_SIZES[bin]
    }
}
/// `_mi_os_good_alloc_size` (internals.md §3).
fn model_os_good_alloc_size(size: usize) -> usize {
    let a = if size < 512 * KIB {
        os_page_size()
    } else if size < 2 * MIB {
        64 * KIB
    } else if size < 8 * MIB {
        256 * KIB
    } else if size < 32 * MIB {
        MIB
    } else {
        4 * MIB
    };
    round_up(size, a)
}
/// `mi_good_size` (api.md §2).
fn model_good_size(size: usize) -> usize {
    if size <= MEDIUM_OBJ_SIZE_MAX {
        model_bin_size(size + PAD)
    } else {
        round_up(size + PAD, os_page_size())
    }
}
/// `mi_usable_size(mi_malloc(size))` (api.md §2): the block size in release builds,
/// the exact request in padding builds (0 is bumped to one word).
fn model_usable_size(size: usize) -> usize {
    if PADDING {
        if size == 0 {
            8
        } else {
            size
        }
    } else if size <= MEDIUM_OBJ_SIZE_MAX {
        model_bin_size(size)
    } else {
        model_os_good_alloc_size(size)
    }
}

/// Visit the byte positions of a block of `n` bytes that the fill/check helpers use: all of
/// them for blocks up to 256 KiB, else the first and last 64 KiB and every 4093rd byte
/// between (at least one per OS page).
fn each_pos(n: usize, mut f: impl FnMut(usize) -> bool) -> bool {
    const EDGE: usize = 64 * KIB;
    if n <= 4 * EDGE {
        return (0..n).all(f);
    }
    (0..EDGE).all(&mut f) && (EDGE..n - EDGE).step_by(4093).all(&mut f) && (n - EDGE..n).all(&mut f)
}
fn pat(i: usize, seed: u8) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 9) ^ seed as usize) as u8 | 1
}
unsafe fn fill<T>(p: *mut T, n: usize, seed: u8) {
    let b = p as *mut u8;
    each_pos(n, |i| {
        *b.add(i) = pat(i, seed);
        true
    });
}
unsafe fn check<T>(p: *const T, n: usize, seed: u8) -> bool {
    let b = p as *const u8;
    each_pos(n, |i| *b.add(i) == pat(i, seed))
}
unsafe fn is_zero<T>(p: *const T, n: usize) -> bool {
    let b = p as *const u8;
    each_pos(n, |i| *b.add(i) == 0)
}

/// Allocate `count` blocks of `size` bytes, scribble over their whole usable size and free
/// them, so that following allocations of that size are likely to get dirty memory back.
unsafe fn leave_dirty_blocks(size: usize, count: usize) {
    let blocks: Vec<*mut c_void> = (0..count)
        .map(|_| {
            let p = mi_malloc(size);
            assert!(!p.is_null(), "mi_malloc({size}) failed");
            fill(p, mi_usable_size(p), 0xA5);
            p
        })
        .collect();
    for p in blocks {
        mi_free(p);
    }
}

/// Sizes covering every kind of block: tiny, small, medium, large and huge (api.md §0).
const SIZES_ALL_KINDS: [usize; 14] = [
    0,
    1,
    8,
    9,
    100,
    1000,
    1025,
    16 * KIB + 1,
    MEDIUM_OBJ_SIZE_MAX,
    MEDIUM_OBJ_SIZE_MAX + 1,
    600_000,
    3 * MIB,
    16 * MIB + 1,
    40 * MIB,
];

// ---------------------------------------------------------------------------------------
// §1 Standard malloc interface
// ---------------------------------------------------------------------------------------

#[test]
fn version_is_217() {
    assert_eq!(unsafe { mi_version() }, 217);
}

#[test]
fn malloc_zero_returns_distinct_non_null_one_word_blocks() {
    unsafe {
        let p = mi_malloc(0);
        let q = mi_malloc(0);
        assert!(!p.is_null() && !q.is_null());
        assert_ne!(p, q);
        assert_eq!(mi_usable_size(p), 8);
        assert_eq!(mi_usable_size(q), 8);
        *(p as *mut u64) = u64::MAX;
        *(q as *mut u64) = 0;
        assert_eq!(*(p as *mut u64), u64::MAX);
        mi_free(p);
        mi_free(q);
    }
}

#[test]
fn malloc_blocks_of_every_small_size_are_writable_and_disjoint() {
    unsafe {
        let blocks: Vec<(*mut c_void, usize)> = (1..=2100usize)
            .map(|n| {
                let p = mi_malloc(n);
                assert!(!p.is_null(), "mi_malloc({n})");
                fill(p, n, n as u8);
                (p, n)
            })
            .collect();
        for &(p, n) in &blocks {
            assert!(check(p, n, n as u8), "block of {n} bytes was overwritten");
            mi_free(p);
        }
    }
}

#[test]
fn malloc_aligns_to_8_up_to_8_bytes_and_to_16_above() {
    unsafe {
        let mut sizes: Vec<usize> = (0..=4100).collect();
        sizes.extend(SIZES_ALL_KINDS);
        for n in sizes {
            let p = mi_malloc(n);
            assert!(!p.is_null());
            let align = if n <= 8 { 8 } else { 16 };
            assert!(
                is_aligned(p, align),
                "mi_malloc({n}) = {p:p} not {align}-aligned"
            );
            mi_free(p);
        }
    }
}

#[test]
fn malloc_power_of_two_sizes_up_to_128k_are_naturally_aligned_in_release() {
    if PADDING {
        return; // padding moves the request into the next (non power-of-two) bin
    }
    unsafe {
        for k in 3..=17 {
            let n = 1usize << k;
            let ps: Vec<*mut c_void> = (0..4).map(|_| mi_malloc(n)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_aligned(p, n), "mi_malloc({n}) = {p:p}");
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn malloc_ptrdiff_max_plus_one_fails_with_enomem() {
    unsafe {
        set_errno(0);
        assert!(mi_malloc(isize::MAX as usize + 1).is_null());
        assert_eq!(errno(), libc::ENOMEM);
    }
}

#[test]
fn malloc_size_max_fails_with_enomem() {
    unsafe {
        set_errno(0);
        assert!(mi_malloc(usize::MAX).is_null());
        assert_eq!(errno(), libc::ENOMEM);
    }
}

#[test]
fn malloc_above_max_alloc_size_fails_with_enomem_and_allocation_still_works() {
    unsafe {
        set_errno(0);
        assert!(mi_malloc(MAX_ALLOC_SIZE + 1).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        let p = mi_malloc(32);
        assert!(!p.is_null());
        mi_free(p);
    }
}

#[test]
fn malloc_64mib_plus_8_is_usable_to_its_end() {
    unsafe {
        let n = 64 * MIB + 8;
        let p = mi_malloc(n);
        assert!(!p.is_null());
        assert!(mi_usable_size(p) >= n);
        fill(p, n, 3);
        assert!(check(p, n, 3));
        mi_free(p);
    }
}

#[test]
fn malloc_usable_size_covers_the_request_for_all_kinds_of_blocks() {
    unsafe {
        for n in SIZES_ALL_KINDS {
            let p = mi_malloc(n);
            assert!(!p.is_null(), "mi_malloc({n})");
            let u = mi_usable_size(p);
            assert!(u >= n, "usable {u} < {n}");
            fill(p, u, 7);
            assert!(check(p, u, 7));
            mi_free(p);
        }
    }
}

#[test]
fn calloc_zeroes_memory_that_was_dirty_before() {
    unsafe {
        for (n, count) in [
            (1, 64),
            (8, 64),
            (100, 64),
            (1000, 64),
            (5000, 32),
            (100_000, 8),
            (600_000, 4),
            (3 * MIB, 2),
            (20 * MIB, 2),
        ] {
            leave_dirty_blocks(n, count);
            let ps: Vec<*mut c_void> = (0..count).map(|_| mi_calloc(1, n)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_zero(p, n), "mi_calloc(1,{n}) not zeroed");
            }
            ps.into_iter().for_each(|p| mi_free(p));
            leave_dirty_blocks(n, count);
            let ps: Vec<*mut c_void> = (0..count).map(|_| mi_calloc(n, 1)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_zero(p, n), "mi_calloc({n},1) not zeroed");
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn calloc_multiplies_count_and_size() {
    unsafe {
        let p = mi_calloc(1000, 3);
        assert!(!p.is_null());
        assert!(mi_usable_size(p) >= 3000);
        assert!(is_zero(p, 3000));
        mi_free(p);
    }
}

#[test]
fn calloc_overflow_fails_with_enomem() {
    unsafe {
        let cases = [
            (mi_calloc as *const () as usize, usize::MAX / 1000), // test-api `calloc-overflow`
            (usize::MAX / 2 + 1, 2),
            (usize::MAX, usize::MAX),
            (1usize << 33, 1usize << 31),
        ];
        for (c, s) in cases {
            set_errno(0);
            assert!(mi_calloc(c, s).is_null(), "mi_calloc({c},{s})");
            assert_eq!(errno(), libc::ENOMEM, "errno after mi_calloc({c},{s})");
        }
    }
}

#[test]
fn calloc_with_zero_count_or_size_returns_a_small_block() {
    unsafe {
        for (c, s) in [(0, 1000), (1000, 0), (0, 0)] {
            let p = mi_calloc(c, s);
            assert!(!p.is_null(), "mi_calloc({c},{s})");
            assert!(
                mi_usable_size(p) <= 16,
                "mi_calloc({c},{s}) usable {}",
                mi_usable_size(p)
            );
            mi_free(p);
        }
    }
}

#[test]
fn realloc_of_null_allocates() {
    unsafe {
        let p = mi_realloc(null_mut(), 4);
        assert!(!p.is_null());
        assert!(mi_usable_size(p) >= 4);
        mi_free(p);
        let p = mi_realloc(null_mut(), 5000);
        assert!(!p.is_null());
        assert!(mi_usable_size(p) >= 5000);
        mi_free(p);
    }
}

#[test]
fn realloc_of_null_to_zero_returns_non_null() {
    unsafe {
        let p = mi_realloc(null_mut(), 0);
        assert!(!p.is_null());
        mi_free(p);
    }
}

#[test]
fn realloc_to_zero_returns_a_new_minimal_block_with_zero_first_byte() {
    unsafe {
        // make 8-byte blocks dirty so that the new minimal block is likely a dirty one
        leave_dirty_blocks(1, 128);
        let p = mi_malloc(4);
        assert!(!p.is_null());
        let q = mi_realloc(p, 0);
        assert!(!q.is_null());
        assert_ne!(q, p, "realloc(p,0) must return a new block");
        assert_eq!(mi_usable_size(q), 8);
        assert_eq!(*(q as *const u8), 0, "first byte of realloc(p,0) must be 0");
        mi_free(q);
    }
}

/// Sizes crossing every kind boundary, used to grow and shrink one block.
const REALLOC_CHAIN: [usize; 14] = [
    1,
    7,
    16,
    100,
    1000,
    1025,
    16 * KIB,
    16 * KIB + 1,
    MEDIUM_OBJ_SIZE_MAX,
    MEDIUM_OBJ_SIZE_MAX + 1,
    600_000,
    3 * MIB,
    17 * MIB,
    40 * MIB,
];

#[test]
fn realloc_growing_preserves_contents_across_all_size_kinds() {
    unsafe {
        let mut p = mi_malloc(REALLOC_CHAIN[0]);
        fill(p, REALLOC_CHAIN[0], 11);
        for w in REALLOC_CHAIN.windows(2) {
            let (old, new) = (w[0], w[1]);
            p = mi_realloc(p, new);
            assert!(!p.is_null(), "realloc {old} -> {new}");
            assert!(mi_usable_size(p) >= new);
            assert!(check(p, old, 11), "contents lost growing {old} -> {new}");
            fill(p, new, 11);
        }
        mi_free(p);
    }
}

#[test]
fn realloc_shrinking_preserves_the_prefix_across_all_size_kinds() {
    unsafe {
        let top = *REALLOC_CHAIN.last().unwrap();
        let mut p = mi_malloc(top);
        assert!(!p.is_null());
        for w in REALLOC_CHAIN.windows(2).rev() {
            let (new, old) = (w[0], w[1]);
            fill(p, new, 12);
            p = mi_realloc(p, new);
            assert!(!p.is_null(), "realloc {old} -> {new}");
            assert!(mi_usable_size(p) >= new);
            assert!(check(p, new, 12), "contents lost shrinking {old} -> {new}");
        }
        mi_free(p);
    }
}

#[test]
fn realloc_keeps_the_block_when_shrinking_to_at_least_half() {
    unsafe {
        // api.md §1 example: mi_malloc(100); realloc(p,60) returns p
        let p = mi_malloc(100);
        assert!(!p.is_null());
        let u = mi_usable_size(p);
        assert_eq!(mi_realloc(p, 60), p);
        assert_eq!(
            mi_realloc(p, u),
            p,
            "newsize == usable size must stay in place"
        );
        assert_eq!(mi_realloc(p, u - u / 2), p);
        mi_free(p);
    }
}

#[test]
fn realloc_moves_the_block_when_shrinking_below_half() {
    unsafe {
        let p = mi_malloc(100);
        assert!(!p.is_null());
        fill(p, 40, 13);
        // usable size is 112 in release and 100 in padding builds: 40 is below half of both
        let q = mi_realloc(p, 40);
        assert!(!q.is_null());
        assert_ne!(q, p);
        assert!(check(q, 40, 13));
        mi_free(q);
    }
}

#[test]
fn realloc_failure_returns_null_with_enomem_and_keeps_the_block() {
    unsafe {
        let p = mi_malloc(48);
        fill(p, 48, 14);
        for n in [usize::MAX, isize::MAX as usize + 1, MAX_ALLOC_SIZE + 1] {
            set_errno(0);
            assert!(mi_realloc(p, n).is_null(), "mi_realloc(p,{n})");
            assert_eq!(errno(), libc::ENOMEM);
            assert!(check(p, 48, 14));
        }
        mi_free(p);
    }
}

#[test]
fn realloc_of_a_block_from_another_thread_moves_it_to_this_thread() {
    unsafe {
        let addr = std::thread::spawn(|| {
            let p = mi_malloc(64);
            fill(p, 64, 15);
            p as usize
        })
        .join()
        .unwrap();
        let q = mi_realloc(addr as *mut c_void, 10_000);
        assert!(!q.is_null());
        assert!(check(q, 64, 15));
        assert!(
            mi_check_owned(q),
            "moved block must be in the caller's default heap"
        );
        mi_free(q);
    }
}

#[test]
fn expand_of_null_returns_null() {
    unsafe {
        assert!(mi_expand(null_mut(), 10).is_null());
    }
}

#[test]
fn expand_within_usable_size_returns_the_same_block_in_release() {
    if PADDING {
        return; // see expand_always_fails_in_padding_builds
    }
    unsafe {
        for n in [1, 100, 1000, 5000, 200_000, 20 * MIB] {
            let p = mi_malloc(n);
            let u = mi_usable_size(p);
            assert_eq!(mi_expand(p, u), p, "expand({n}) to usable {u}");
            assert_eq!(mi_expand(p, n / 2), p, "expand({n}) shrinking");
            assert_eq!(
                mi_usable_size(p),
                u,
                "shrinking expand must not change the block"
            );
            mi_free(p);
        }
    }
}

#[test]
fn expand_always_fails_in_padding_builds() {
    if !PADDING {
        return;
    }
    unsafe {
        let p = mi_malloc(100);
        assert!(mi_expand(p, 100).is_null());
        assert!(mi_expand(p, 50).is_null());
        mi_free(p);
    }
}

#[test]
fn expand_beyond_usable_size_returns_null_and_keeps_the_block() {
    unsafe {
        for n in [1, 100, 1000, 200_000, 20 * MIB] {
            let p = mi_malloc(n);
            fill(p, n, 16);
            let u = mi_usable_size(p);
            assert!(mi_expand(p, u + 1).is_null());
            assert!(mi_expand(p, usize::MAX).is_null());
            assert!(check(p, n, 16));
            mi_free(p);
        }
    }
}

#[test]
fn free_of_null_is_a_noop() {
    unsafe {
        set_errno(libc::EDOM);
        mi_free(null_mut());
        assert_eq!(errno(), libc::EDOM);
    }
}

#[test]
fn free_ignores_pointers_where_no_segment_can_be() {
    // As mimalloc: a pointer whose 32 MiB segment would be the first one (null's) or in
    // the upper half of the address space is ignored without being read.
    let segment = 32usize << 20;
    for p in [
        8,
        0x1000,
        segment - 8,
        segment,
        0xFFFF_8000_0000_1000,
        usize::MAX - 7,
    ] {
        unsafe {
            set_errno(libc::EDOM);
            mi_free(p as *mut c_void);
            assert_eq!(errno(), libc::EDOM, "free({p:#x})");
        }
    }
    // A pointer just past the first segment is looked at: ours work as before.
    unsafe {
        let q = mi_malloc(24);
        assert!(!q.is_null() && (q as usize) > segment);
        mi_free(q);
    }
}

#[test]
fn free_never_changes_errno() {
    unsafe {
        let mut blocks: Vec<*mut c_void> = SIZES_ALL_KINDS.iter().map(|&n| mi_malloc(n)).collect();
        blocks.push(mi_malloc_aligned(100, 4096));
        blocks.push(mi_malloc_aligned(10, 64 * MIB)); // dedicated huge segment
        blocks.push(mi_malloc_aligned_at(1000, 1 * MIB, 24));
        for (i, &p) in blocks.iter().enumerate() {
            assert!(!p.is_null());
            let e = [0, libc::EDOM, libc::ENOMEM][i % 3];
            set_errno(e);
            mi_free(p);
            assert_eq!(errno(), e, "mi_free changed errno (block {i})");
        }
        set_errno(libc::EDOM);
        mi_collect(true);
        let p = mi_malloc(10);
        mi_free(p);
        assert_eq!(errno(), libc::EDOM, "free after collect changed errno");
    }
}

#[test]
fn free_from_another_thread_never_changes_errno() {
    unsafe {
        let addrs: Vec<usize> = SIZES_ALL_KINDS
            .iter()
            .map(|&n| mi_malloc(n) as usize)
            .collect();
        std::thread::spawn(move || {
            for a in addrs {
                set_errno(libc::EDOM);
                mi_free(a as *mut c_void);
                assert_eq!(errno(), libc::EDOM);
            }
        })
        .join()
        .unwrap();
    }
}

#[test]
fn strdup_copies_the_string_into_a_mimalloc_block() {
    unsafe {
        let s = CString::new("hello, mimalloc").unwrap();
        let d = mi_strdup(s.as_ptr() as _) as *mut c_char;
        assert!(!d.is_null());
        assert_ne!(d as *const c_char, s.as_ptr());
        assert_eq!(CStr::from_ptr(d), s.as_c_str());
        assert!(usable(d) > s.as_bytes().len());
        assert!(mi_is_in_heap_region(d as *const c_void));
        free(d);
    }
}

#[test]
fn strdup_of_empty_string_returns_empty_string() {
    unsafe {
        let d = mi_strdup(c"".as_ptr() as _) as *mut c_char;
        assert!(!d.is_null());
        assert_eq!(*d, 0);
        free(d);
    }
}

#[test]
fn strdup_of_null_returns_null() {
    unsafe {
        assert!(mi_strdup(null::<c_char>() as _).is_null());
    }
}

#[test]
fn strdup_copies_long_strings() {
    unsafe {
        let long: String = (0..200_000)
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        let s = CString::new(long).unwrap();
        let d = mi_strdup(s.as_ptr() as _) as *mut c_char;
        assert_eq!(CStr::from_ptr(d), s.as_c_str());
        free(d);
    }
}

#[test]
fn strndup_truncates_and_terminates() {
    unsafe {
        let d = mi_strndup(c"abcdef".as_ptr() as _, 3) as *mut c_char;
        assert!(!d.is_null());
        assert_eq!(CStr::from_ptr(d).to_bytes(), b"abc");
        free(d);
    }
}

#[test]
fn strndup_stops_at_the_terminator() {
    unsafe {
        let d = mi_strndup(c"abc".as_ptr() as _, 100) as *mut c_char;
        assert_eq!(CStr::from_ptr(d).to_bytes(), b"abc");
        free(d);
    }
}

#[test]
fn strndup_reads_at_most_n_bytes_of_an_unterminated_buffer() {
    unsafe {
        // the buffer has no terminator: strndup must not look past n bytes
        let buf: [u8; 4] = *b"wxyz";
        let d = mi_strndup(buf.as_ptr() as *const c_char as _, 4) as *mut c_char;
        assert_eq!(CStr::from_ptr(d).to_bytes(), b"wxyz");
        free(d);
    }
}

#[test]
fn strndup_with_zero_length_returns_empty_string() {
    unsafe {
        let d = mi_strndup(c"abc".as_ptr() as _, 0) as *mut c_char;
        assert!(!d.is_null());
        assert_eq!(*d, 0);
        free(d);
    }
}

#[test]
fn strndup_of_null_returns_null() {
    unsafe {
        assert!(mi_strndup(null::<c_char>() as _, 5).is_null());
    }
}

#[test]
fn realpath_without_buffer_returns_a_mimalloc_copy_of_the_resolved_path() {
    unsafe {
        let r = mi_realpath(c".".as_ptr() as _, null_mut::<c_char>() as _) as *mut c_char;
        assert!(!r.is_null());
        let expect = std::fs::canonicalize(".").unwrap();
        assert_eq!(
            CStr::from_ptr(r).to_str().unwrap(),
            expect.to_str().unwrap()
        );
        assert!(mi_is_in_heap_region(r as *const c_void));
        assert!(usable(r) > expect.as_os_str().len());
        free(r);
    }
}

#[test]
fn realpath_with_buffer_fills_and_returns_that_buffer() {
    unsafe {
        let mut buf = vec![0 as c_char; libc::PATH_MAX as usize];
        let r = mi_realpath(c"/".as_ptr() as _, buf.as_mut_ptr() as _) as *mut c_char;
        assert_eq!(r, buf.as_mut_ptr());
        assert_eq!(CStr::from_ptr(r).to_bytes(), b"/");
    }
}

#[test]
fn realpath_of_a_missing_file_returns_null() {
    unsafe {
        let r = mi_realpath(
            c"/nonexistent/mimalloc-test/x".as_ptr() as _,
            null_mut::<c_char>() as _,
        );
        assert!(r.is_null());
    }
}

// ---------------------------------------------------------------------------------------
// §2 Extended functions
// ---------------------------------------------------------------------------------------

#[test]
fn malloc_small_serves_every_size_up_to_1024() {
    unsafe {
        let ps: Vec<*mut c_void> = (0..=1024usize).map(|n| mi_malloc_small(n)).collect();
        for (n, &p) in ps.iter().enumerate() {
            assert!(!p.is_null(), "mi_malloc_small({n})");
            assert!(mi_usable_size(p) >= n);
            fill(p, n, n as u8);
        }
        for (n, &p) in ps.iter().enumerate() {
            assert!(check(p, n, n as u8));
            mi_free(p);
        }
    }
}

#[test]
fn zalloc_small_returns_zeroed_memory() {
    unsafe {
        for n in [0, 1, 8, 100, 512, 1024] {
            leave_dirty_blocks(n, 64);
            let ps: Vec<*mut c_void> = (0..64).map(|_| mi_zalloc_small(n)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_zero(p, n), "mi_zalloc_small({n})");
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn zalloc_returns_zeroed_memory_for_all_kinds_of_blocks() {
    unsafe {
        for n in SIZES_ALL_KINDS {
            let count = if n > MIB { 2 } else { 32 };
            leave_dirty_blocks(n, count);
            let ps: Vec<*mut c_void> = (0..count).map(|_| mi_zalloc(n)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_zero(p, n), "mi_zalloc({n})");
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn zalloc_zero_returns_a_minimal_block() {
    unsafe {
        let p = mi_zalloc(0);
        assert!(!p.is_null());
        assert_eq!(mi_usable_size(p), 8);
        mi_free(p);
    }
}

#[test]
fn mallocn_allocates_count_times_size() {
    unsafe {
        let p = mi_mallocn(10, 100);
        assert!(!p.is_null());
        assert!(mi_usable_size(p) >= 1000);
        fill(p, 1000, 17);
        assert!(check(p, 1000, 17));
        mi_free(p);
    }
}

#[test]
fn mallocn_overflow_fails_with_enomem() {
    unsafe {
        set_errno(0);
        assert!(mi_mallocn(usize::MAX / 2 + 1, 2).is_null());
        assert_eq!(errno(), libc::ENOMEM);
    }
}

#[test]
fn reallocn_resizes_to_count_times_size() {
    unsafe {
        let p = mi_mallocn(4, 8);
        fill(p, 32, 18);
        let q = mi_reallocn(p, 100, 8);
        assert!(!q.is_null());
        assert!(mi_usable_size(q) >= 800);
        assert!(check(q, 32, 18));
        mi_free(q);
    }
}

#[test]
fn reallocn_overflow_fails_with_enomem_and_keeps_the_block() {
    unsafe {
        let p = mi_malloc(32);
        fill(p, 32, 19);
        set_errno(0);
        assert!(mi_reallocn(p, usize::MAX / 4, 8).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(p, 32, 19));
        mi_free(p);
    }
}

#[test]
fn reallocf_success_preserves_contents() {
    unsafe {
        let p = mi_malloc(100);
        fill(p, 100, 20);
        let q = mi_reallocf(p, 100_000);
        assert!(!q.is_null());
        assert!(check(q, 100, 20));
        mi_free(q);
    }
}

#[test]
fn reallocf_to_zero_returns_a_minimal_block() {
    unsafe {
        let p = mi_malloc(100);
        let q = mi_reallocf(p, 0);
        assert!(!q.is_null());
        assert_eq!(mi_usable_size(q), 8);
        mi_free(q);
    }
}

#[test]
fn reallocf_failure_returns_null_with_enomem() {
    unsafe {
        // (that the block is freed is checked under an address-space limit in tests/oom.rs)
        let p = mi_malloc(100);
        set_errno(0);
        assert!(mi_reallocf(p, usize::MAX).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(mi_reallocf(null_mut(), usize::MAX).is_null());
    }
}

#[test]
fn usable_size_of_null_is_zero() {
    unsafe {
        assert_eq!(mi_usable_size(null()), 0);
    }
}

#[test]
fn usable_size_matches_the_size_class_model_for_medium_and_small_sizes() {
    unsafe {
        let mut sizes: Vec<usize> = (0..=20_000).collect();
        sizes.extend((20_000..=MEDIUM_OBJ_SIZE_MAX).step_by(997));
        sizes.extend([MEDIUM_OBJ_SIZE_MAX - 1, MEDIUM_OBJ_SIZE_MAX]);
        for n in sizes {
            let p = mi_malloc(n);
            assert_eq!(
                mi_usable_size(p),
                model_usable_size(n),
                "mi_usable_size(mi_malloc({n}))"
            );
            mi_free(p);
        }
    }
}

#[test]
fn usable_size_of_large_and_huge_blocks_matches_the_os_rounding() {
    unsafe {
        for n in [
            MEDIUM_OBJ_SIZE_MAX + 1,
            200_000,
            512 * KIB - 1,
            512 * KIB,
            600_000,
            2 * MIB + 1,
            5 * MIB,
            8 * MIB + 3,
            16 * MIB,
            16 * MIB + 1,
            17 * MIB,
            32 * MIB + 5,
            40 * MIB,
        ] {
            let p = mi_malloc(n);
            assert!(!p.is_null());
            assert_eq!(
                mi_usable_size(p),
                model_usable_size(n),
                "mi_usable_size(mi_malloc({n}))"
            );
            mi_free(p);
        }
    }
}

#[test]
fn usable_size_of_600000_is_655360_in_release() {
    if PADDING {
        return;
    }
    unsafe {
        let p = mi_malloc(600_000);
        assert_eq!(mi_usable_size(p), 655_360);
        mi_free(p);
        let p = mi_malloc(100);
        assert_eq!(mi_usable_size(p), 112);
        mi_free(p);
    }
}

#[test]
fn usable_size_is_the_exact_request_in_padding_builds() {
    if !PADDING {
        return;
    }
    unsafe {
        for n in [1, 7, 100, 1000, 100_000, 600_000, 20 * MIB] {
            let p = mi_malloc(n);
            assert_eq!(mi_usable_size(p), n);
            mi_free(p);
        }
    }
}

#[test]
fn usable_size_after_in_place_realloc_keeps_the_old_value() {
    unsafe {
        let p = mi_malloc(100);
        let u = mi_usable_size(p);
        assert_eq!(mi_realloc(p, 60), p);
        assert_eq!(mi_usable_size(p), u);
        mi_free(p);
    }
}

#[test]
fn good_size_matches_the_verified_release_values() {
    if PADDING {
        return;
    }
    // api.md §2, "Verified release values"
    let table: [(usize, usize); 23] = [
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
        (131073, 135168),
    ];
    for (n, g) in table {
        assert_eq!(unsafe { mi_good_size(n) }, g, "mi_good_size({n})");
    }
}

#[test]
fn good_size_of_one_is_16_in_padding_builds() {
    if !PADDING {
        return;
    }
    assert_eq!(unsafe { mi_good_size(1) }, 16);
}

#[test]
fn good_size_matches_the_size_class_model_for_every_size_up_to_140000() {
    for n in 0..=140_000usize {
        assert_eq!(
            unsafe { mi_good_size(n) },
            model_good_size(n),
            "mi_good_size({n})"
        );
    }
}

#[test]
fn good_size_values_up_to_128k_are_exactly_the_used_bin_sizes() {
    if PADDING {
        return;
    }
    let mut got: Vec<usize> = (0..=MEDIUM_OBJ_SIZE_MAX)
        .map(|n| unsafe { mi_good_size(n) })
        .collect();
    got.dedup();
    // bins 3, 5, 7 (24, 40, 56) are never used on 64-bit (internals.md §3)
    let mut expect: Vec<usize> = vec![8, 16, 32, 48, 64];
    expect.extend(&BIN_SIZES[9..]);
    assert_eq!(got, expect);
}

#[test]
fn good_size_above_128k_rounds_up_to_the_page_size() {
    let ps = os_page_size();
    for n in [131_073, 200_000, 600_000, 3 * MIB + 1, 40 * MIB + 17] {
        assert_eq!(
            unsafe { mi_good_size(n) },
            round_up(n + PAD, ps),
            "mi_good_size({n})"
        );
    }
}

#[test]
fn good_size_is_the_usable_size_of_small_and_medium_allocations() {
    if PADDING {
        return;
    }
    unsafe {
        for n in (0..=MEDIUM_OBJ_SIZE_MAX).step_by(61) {
            let p = mi_malloc(n);
            assert_eq!(mi_usable_size(p), mi_good_size(n), "size {n}");
            mi_free(p);
        }
    }
}

// ---------------------------------------------------------------------------------------
// §4 Aligned allocation
// ---------------------------------------------------------------------------------------

#[test]
fn malloc_aligned_small_requests_are_aligned() {
    unsafe {
        // test-api malloc-aligned1..4, mimalloc-aligned12
        for (n, a, count) in [(32, 32, 1), (48, 32, 2), (8, 16, 8), (0x100, 0x100, 1)] {
            let ps: Vec<*mut c_void> = (0..count).map(|_| mi_malloc_aligned(n, a)).collect();
            for &p in &ps {
                assert!(!p.is_null());
                assert!(is_aligned(p, a), "mi_malloc_aligned({n},{a}) = {p:p}");
                assert!(mi_usable_size(p) >= n);
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn malloc_aligned_4097_at_4096_has_usable_size_below_16000() {
    unsafe {
        let p = mi_malloc_aligned(4097, 4096);
        assert!(!p.is_null() && is_aligned(p, 4096));
        let u = mi_usable_size(p);
        assert!((4097..16000).contains(&u), "usable {u}");
        if !PADDING {
            assert_eq!(u, 8192);
        }
        mi_free(p);
    }
}

#[test]
fn malloc_aligned_13_times_every_power_of_two_up_to_16mib() {
    unsafe {
        // test-api malloc-aligned6
        let mut align = 1;
        while align <= BLOCK_ALIGNMENT_MAX {
            let ps: Vec<*mut c_void> = (0..8)
                .map(|_| mi_malloc_aligned(align * 13, align))
                .collect();
            for &p in &ps {
                assert!(!p.is_null(), "mi_malloc_aligned({}, {align})", align * 13);
                assert!(is_aligned(p, align));
                assert!(mi_usable_size(p) >= align * 13);
            }
            ps.into_iter().for_each(|p| mi_free(p));
            align *= 2;
        }
    }
}

#[test]
fn malloc_aligned_1024_at_multiples_of_16mib_up_to_256mib() {
    unsafe {
        // test-api malloc-aligned7, malloc-aligned8
        for n in [1, 2, 4, 8, 16] {
            let a = n * BLOCK_ALIGNMENT_MAX;
            let p = mi_malloc_aligned(1024, a);
            assert!(!p.is_null(), "alignment {a}");
            assert!(is_aligned(p, a), "{p:p} not aligned to {a}");
            fill(p, 1024, 21);
            assert!(check(p, 1024, 21));
            assert!(mi_usable_size(p) >= 1024);
            mi_free(p);
        }
    }
}

#[test]
fn zalloc_aligned_large_alignments_and_sizes_are_aligned_and_zeroed() {
    unsafe {
        // test-api malloc-aligned9 (here every result must be non-NULL and zeroed)
        let sizes = [
            8,
            512,
            MIB,
            BLOCK_ALIGNMENT_MAX,
            BLOCK_ALIGNMENT_MAX + 1,
            2 * BLOCK_ALIGNMENT_MAX,
            8 * BLOCK_ALIGNMENT_MAX,
            0,
        ];
        for i in 0..28 {
            let a = 1usize << i;
            let ps: Vec<*mut c_void> = sizes.iter().map(|&n| mi_zalloc_aligned(n, a)).collect();
            for (&p, &n) in ps.iter().zip(&sizes) {
                assert!(!p.is_null(), "mi_zalloc_aligned({n}, {a})");
                assert!(is_aligned(p, a), "mi_zalloc_aligned({n}, {a}) = {p:p}");
                assert!(is_zero(p, n), "mi_zalloc_aligned({n}, {a}) not zeroed");
            }
            // dirty them so that reuse in the next round would show missing zeroing
            for (&p, &n) in ps.iter().zip(&sizes) {
                fill(p, n, 22);
                mi_free(p);
            }
        }
    }
}

#[test]
fn malloc_aligned_growing_alignments_freed_in_reverse() {
    unsafe {
        // test-api malloc-aligned10
        let mut ps = Vec::new();
        for j in 0..=10 {
            let a = 1usize << j;
            let p = mi_malloc_aligned(43 + a, a);
            assert!(!p.is_null() && is_aligned(p, a));
            ps.push(p);
        }
        while let Some(p) = ps.pop() {
            mi_free(p);
        }
    }
}

#[test]
fn malloc_aligned_every_size_up_to_2048_with_every_alignment_up_to_the_size() {
    unsafe {
        // test-api mimalloc-aligned13
        let mut ps = Vec::with_capacity(10);
        for size in 1..=2048usize {
            let mut a = 1;
            while a <= size {
                for _ in 0..10 {
                    let p = mi_malloc_aligned(size, a);
                    assert!(
                        !p.is_null() && is_aligned(p, a),
                        "mi_malloc_aligned({size},{a}) = {p:p}"
                    );
                    ps.push(p);
                }
                ps.drain(..).for_each(|p| mi_free(p));
                a *= 2;
            }
        }
    }
}

#[test]
fn aligned_alignments_1_2_4_8_are_accepted() {
    unsafe {
        for a in [1, 2, 4, 8] {
            for n in [0, 1, 3, 8, 100] {
                let p = mi_malloc_aligned(n, a);
                assert!(
                    !p.is_null() && is_aligned(p, a),
                    "mi_malloc_aligned({n},{a})"
                );
                mi_free(p);
            }
        }
    }
}

#[test]
fn aligned_zero_size_returns_an_aligned_block() {
    unsafe {
        for a in [16, 64, 4096, 1 * MIB, 64 * MIB] {
            let p = mi_malloc_aligned(0, a);
            assert!(!p.is_null() && is_aligned(p, a), "mi_malloc_aligned(0,{a})");
            mi_free(p);
        }
    }
}

/// Alignments that are 0 or not a power of two (api.md §4).
const BAD_ALIGNMENTS: [usize; 6] = [0, 3, 24, 48, 100, (1 << 20) + 8];

#[test]
fn aligned_functions_reject_non_power_of_two_alignments() {
    unsafe {
        for a in BAD_ALIGNMENTS {
            assert!(
                mi_malloc_aligned(10, a).is_null(),
                "mi_malloc_aligned(10,{a})"
            );
            assert!(
                mi_malloc_aligned_at(10, a, 0).is_null(),
                "mi_malloc_aligned_at"
            );
            assert!(mi_zalloc_aligned(10, a).is_null(), "mi_zalloc_aligned");
            assert!(
                mi_zalloc_aligned_at(10, a, 8).is_null(),
                "mi_zalloc_aligned_at"
            );
            assert!(mi_calloc_aligned(2, 10, a).is_null(), "mi_calloc_aligned");
            assert!(
                mi_calloc_aligned_at(2, 10, a, 8).is_null(),
                "mi_calloc_aligned_at"
            );
            if a > PTR {
                // (alignments <= sizeof(void*), even 0 and 3, make it a plain mi_realloc)
                assert!(
                    mi_realloc_aligned(null_mut(), 10, a).is_null(),
                    "mi_realloc_aligned(NULL)"
                );
            }
            assert!(mi_memalign(a, 10).is_null(), "mi_memalign");
            assert!(mi_aligned_alloc(a, 10).is_null(), "mi_aligned_alloc");
        }
    }
}

#[test]
fn aligned_requests_above_the_maximum_size_fail_with_enomem() {
    unsafe {
        for (n, a) in [
            (usize::MAX, 16),
            (usize::MAX, 4096),
            (MAX_ALLOC_SIZE + 1, 64),
            (isize::MAX as usize, 64 * MIB),
        ] {
            set_errno(0);
            assert!(
                mi_malloc_aligned(n, a).is_null(),
                "mi_malloc_aligned({n},{a})"
            );
            assert_eq!(
                errno(),
                libc::ENOMEM,
                "errno after mi_malloc_aligned({n},{a})"
            );
            // (a non-zero offset is refused for alignments above 16 MiB anyway)
            let off = if a > BLOCK_ALIGNMENT_MAX { 0 } else { 8 };
            set_errno(0);
            assert!(mi_zalloc_aligned_at(n, a, off).is_null());
            assert_eq!(errno(), libc::ENOMEM);
        }
    }
}

#[test]
fn aligned_blocks_are_disjoint_and_usable_to_the_requested_size() {
    unsafe {
        let mut live: Vec<(*mut c_void, usize, u8)> = Vec::new();
        let mut seed = 0u8;
        for a in [16, 32, 64, 256, 4096, 65536, 1 << 20] {
            for n in [1, 17, 100, 1000, 5000, 70_000, 300_000] {
                let p = mi_malloc_aligned(n, a);
                assert!(!p.is_null() && is_aligned(p, a));
                assert!(
                    mi_usable_size(p) >= n,
                    "usable of mi_malloc_aligned({n},{a})"
                );
                seed = seed.wrapping_add(1);
                fill(p, n, seed);
                live.push((p, n, seed));
            }
        }
        for (p, n, s) in live {
            assert!(check(p, n, s), "aligned block of {n} bytes overwritten");
            mi_free(p);
        }
    }
}

#[test]
fn malloc_aligned_at_aligns_the_pointer_plus_offset() {
    unsafe {
        // test-api malloc-aligned-at1, -at2
        let p = mi_malloc_aligned_at(48, 32, 0);
        assert!(!p.is_null() && is_aligned(p, 32));
        mi_free(p);
        let p = mi_malloc_aligned_at(50, 32, 8);
        assert!(!p.is_null() && (p as usize + 8) % 32 == 0);
        mi_free(p);
        let mut live = Vec::new();
        for a in [8, 16, 64, 4096, 1 << 16, 1 << 20, BLOCK_ALIGNMENT_MAX] {
            for off in [0, 1, 8, 16, 24, a / 2, a - 1, a, a + 8, 3 * a + 5] {
                if DEBUG && off % PTR != 0 {
                    // debug builds reject pointers that are not word-aligned in
                    // mi_free/mi_usable_size (api.md §1 mi_free, §2 mi_usable_size)
                    continue;
                }
                for n in [1, 100, 5000] {
                    let p = mi_malloc_aligned_at(n, a, off);
                    assert!(!p.is_null(), "mi_malloc_aligned_at({n},{a},{off})");
                    assert_eq!(
                        (p as usize + off) % a,
                        0,
                        "mi_malloc_aligned_at({n},{a},{off}) = {p:p}"
                    );
                    assert!(mi_usable_size(p) >= n);
                    fill(p, n, off as u8);
                    live.push((p, n, off as u8));
                }
            }
        }
        for (p, n, s) in live {
            assert!(check(p, n, s));
            mi_free(p);
        }
    }
}

#[test]
fn aligned_at_beyond_16mib_alignment_with_an_offset_returns_null() {
    unsafe {
        for a in [32 * MIB, 64 * MIB] {
            assert!(
                mi_malloc_aligned_at(100, a, 8).is_null(),
                "alignment {a} offset 8"
            );
            assert!(mi_zalloc_aligned_at(100, a, 16).is_null());
            assert!(mi_calloc_aligned_at(10, 10, a, 16).is_null());
        }
    }
}

#[test]
fn aligned_at_beyond_16mib_alignment_without_offset_works() {
    unsafe {
        for a in [32 * MIB, 64 * MIB, 128 * MIB] {
            let p = mi_malloc_aligned_at(100, a, 0);
            assert!(!p.is_null() && is_aligned(p, a), "alignment {a}");
            fill(p, 100, 23);
            assert!(check(p, 100, 23));
            mi_free(p);
        }
    }
}

#[test]
fn zalloc_aligned_zeroes_dirty_memory() {
    unsafe {
        // test-api zalloc-aligned-small1 and test-api-fill zeroinit-zalloc_aligned-*
        for n in [512, 2048, 100_000, 3 * MIB] {
            leave_dirty_blocks(n + 32, 16);
            let ps: Vec<*mut c_void> = (0..16).map(|_| mi_zalloc_aligned(n, 32)).collect();
            for &p in &ps {
                assert!(!p.is_null() && is_aligned(p, 32));
                assert!(is_zero(p, n), "mi_zalloc_aligned({n},32)");
            }
            ps.into_iter().for_each(|p| mi_free(p));
        }
    }
}

#[test]
fn zalloc_aligned_at_zeroes_and_aligns_at_offset() {
    unsafe {
        leave_dirty_blocks(1000, 32);
        for off in [0, 8, 24, 100] {
            let p = mi_zalloc_aligned_at(900, 64, off);
            assert!(!p.is_null() && (p as usize + off) % 64 == 0);
            assert!(is_zero(p, 900));
            mi_free(p);
        }
    }
}

#[test]
fn calloc_aligned_zeroes_and_aligns() {
    unsafe {
        leave_dirty_blocks(4000, 32);
        for a in [16, 32, 256, 4096] {
            let p = mi_calloc_aligned(100, 30, a);
            assert!(!p.is_null() && is_aligned(p, a));
            assert!(mi_usable_size(p) >= 3000);
            assert!(is_zero(p, 3000));
            mi_free(p);
        }
    }
}

#[test]
fn calloc_aligned_at_zeroes_and_aligns_at_offset() {
    unsafe {
        leave_dirty_blocks(4000, 32);
        let p = mi_calloc_aligned_at(100, 30, 128, 16);
        assert!(!p.is_null() && (p as usize + 16) % 128 == 0);
        assert!(is_zero(p, 3000));
        mi_free(p);
    }
}

#[test]
fn calloc_aligned_overflow_fails_with_enomem() {
    unsafe {
        set_errno(0);
        assert!(mi_calloc_aligned(usize::MAX / 2 + 1, 2, 32).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        set_errno(0);
        assert!(mi_calloc_aligned_at(usize::MAX, 3, 32, 8).is_null());
        assert_eq!(errno(), libc::ENOMEM);
    }
}

#[test]
fn realloc_aligned_of_null_allocates_aligned() {
    unsafe {
        let p = mi_realloc_aligned(null_mut(), 100, 256);
        assert!(!p.is_null() && is_aligned(p, 256));
        mi_free(p);
    }
}

#[test]
fn realloc_aligned_growing_keeps_alignment_and_contents() {
    unsafe {
        for a in [32, 4096, 1 << 20] {
            let mut p = mi_malloc_aligned(10, a);
            fill(p, 10, 24);
            let mut old = 10;
            for n in [100, 5000, 200_000, 3 * MIB, 20 * MIB] {
                p = mi_realloc_aligned(p, n, a);
                assert!(
                    !p.is_null() && is_aligned(p, a),
                    "realloc_aligned to {n} at {a}"
                );
                assert!(check(p, old, 24));
                fill(p, n, 24);
                old = n;
            }
            mi_free(p);
        }
    }
}

#[test]
fn realloc_aligned_keeps_the_block_when_shrinking_to_at_least_half() {
    unsafe {
        let p = mi_malloc_aligned(1000, 64);
        let u = mi_usable_size(p);
        assert_eq!(mi_realloc_aligned(p, u, 64), p);
        assert_eq!(mi_realloc_aligned(p, u - u / 2, 64), p);
        mi_free(p);
    }
}

#[test]
fn realloc_aligned_keeps_the_misalignment_of_the_old_block_as_offset() {
    unsafe {
        // api.md §4: the offset is taken as `p % alignment`
        let p = mi_malloc_aligned_at(100, 64, 16);
        assert_eq!(p as usize % 64, 48);
        fill(p, 100, 43);
        let q = mi_realloc_aligned(p, 10_000, 64);
        assert!(!q.is_null());
        assert_eq!((q as usize + 48) % 64, 0, "{q:p}");
        assert!(check(q, 100, 43));
        mi_free(q);
    }
}

#[test]
fn realloc_aligned_to_zero_returns_a_new_aligned_block() {
    unsafe {
        let p = mi_malloc_aligned(1000, 64);
        let q = mi_realloc_aligned(p, 0, 64);
        assert!(!q.is_null());
        assert_ne!(q, p);
        assert!(is_aligned(q, 64));
        mi_free(q);
    }
}

#[test]
fn realloc_aligned_with_pointer_sized_alignment_behaves_like_realloc() {
    unsafe {
        let p = mi_malloc(100);
        fill(p, 100, 25);
        assert_eq!(
            mi_realloc_aligned(p, 60, 8),
            p,
            "in-place shrink as mi_realloc"
        );
        let q = mi_realloc_aligned(p, 10_000, 8);
        assert!(!q.is_null() && is_aligned(q, 8));
        assert!(check(q, 60, 25));
        mi_free(q);
    }
}

#[test]
fn realloc_aligned_with_invalid_alignment_fails_and_keeps_the_block() {
    unsafe {
        let p = mi_malloc(64);
        fill(p, 64, 26);
        let u = mi_usable_size(p);
        assert!(mi_realloc_aligned(p, 4 * u, 24).is_null());
        assert!(mi_realloc_aligned_at(p, 4 * u, 24, 0).is_null());
        assert!(check(p, 64, 26));
        mi_free(p);
    }
}

#[test]
fn realloc_aligned_failure_fails_with_enomem_and_keeps_the_block() {
    unsafe {
        let p = mi_malloc_aligned(64, 64);
        fill(p, 64, 27);
        set_errno(0);
        assert!(mi_realloc_aligned(p, usize::MAX, 64).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(p, 64, 27));
        mi_free(p);
    }
}

#[test]
fn realloc_aligned_at_keeps_the_offset_alignment() {
    unsafe {
        let mut p = mi_malloc_aligned_at(40, 128, 16);
        assert!((p as usize + 16) % 128 == 0);
        fill(p, 40, 28);
        let mut old = 40;
        for n in [500, 20_000, 2 * MIB] {
            p = mi_realloc_aligned_at(p, n, 128, 16);
            assert!(
                !p.is_null() && (p as usize + 16) % 128 == 0,
                "realloc_aligned_at to {n}"
            );
            assert!(check(p, old, 28));
            fill(p, n, 28);
            old = n;
        }
        let q = mi_realloc_aligned_at(null_mut(), 50, 256, 8);
        assert!(!q.is_null() && (q as usize + 8) % 256 == 0);
        mi_free(q);
        mi_free(p);
    }
}

// ---------------------------------------------------------------------------------------
// §6 Zero-initialised re-allocation
// ---------------------------------------------------------------------------------------

/// Sizes of test-api-fill ("small" 512, "large" 2048) plus medium and huge.
const ZERO_SIZES: [usize; 5] = [512, 2048, 40_000, 300_000, 6 * MIB];

#[test]
fn rezalloc_growing_three_times_gives_all_zero_memory() {
    unsafe {
        for n in ZERO_SIZES {
            leave_dirty_blocks(3 * n, 4);
            let p = mi_zalloc(n);
            assert!(is_zero(p, n));
            let p = mi_rezalloc(p, 3 * n);
            assert!(!p.is_null());
            assert!(is_zero(p, 3 * n), "mi_rezalloc {n} -> {}", 3 * n);
            mi_free(p);
        }
    }
}

#[test]
fn rezalloc_preserves_contents_and_zeroes_the_new_tail() {
    unsafe {
        for n in ZERO_SIZES {
            leave_dirty_blocks(3 * n, 4);
            let p = mi_zalloc(n);
            fill(p, n, 29);
            let p = mi_rezalloc(p, 3 * n);
            assert!(!p.is_null());
            assert!(check(p, n, 29), "contents lost in mi_rezalloc of {n}");
            assert!(
                is_zero((p as *mut u8).add(n), 2 * n),
                "tail of mi_rezalloc {n} -> {}",
                3 * n
            );
            mi_free(p);
        }
    }
}

#[test]
fn rezalloc_of_null_returns_zeroed_memory() {
    unsafe {
        leave_dirty_blocks(1000, 32);
        let p = mi_rezalloc(null_mut(), 1000);
        assert!(!p.is_null() && is_zero(p, 1000));
        mi_free(p);
    }
}

#[test]
fn rezalloc_shrinking_preserves_the_prefix() {
    unsafe {
        let p = mi_zalloc(10_000);
        fill(p, 100, 30);
        let q = mi_rezalloc(p, 100);
        assert!(!q.is_null() && check(q, 100, 30));
        mi_free(q);
    }
}

#[test]
fn recalloc_growing_three_times_gives_all_zero_memory() {
    unsafe {
        for n in ZERO_SIZES {
            leave_dirty_blocks(3 * n, 4);
            let p = mi_calloc(n / 4, 4);
            assert!(is_zero(p, n));
            let p = mi_recalloc(p, 3 * n / 4, 4);
            assert!(!p.is_null());
            assert!(is_zero(p, 3 * n), "mi_recalloc {n} -> {}", 3 * n);
            mi_free(p);
        }
    }
}

#[test]
fn recalloc_overflow_fails_with_enomem_and_keeps_the_block() {
    unsafe {
        let p = mi_calloc(10, 10);
        fill(p, 100, 31);
        set_errno(0);
        assert!(mi_recalloc(p, usize::MAX / 2, 3).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(p, 100, 31));
        mi_free(p);
    }
}

#[test]
fn rezalloc_aligned_growing_gives_zeroed_aligned_memory() {
    unsafe {
        // test-api rezalloc_aligned-small1: 512 -> 1536 at 32
        for n in ZERO_SIZES {
            leave_dirty_blocks(3 * n + 32, 4);
            let p = mi_zalloc_aligned(n, 32);
            fill(p, n / 2, 32);
            let p = mi_rezalloc_aligned(p, 3 * n, 32);
            assert!(!p.is_null() && is_aligned(p, 32));
            assert!(check(p, n / 2, 32));
            assert!(
                is_zero((p as *mut u8).add(n / 2), 3 * n - n / 2),
                "mi_rezalloc_aligned {n}"
            );
            mi_free(p);
        }
    }
}

#[test]
fn rezalloc_aligned_at_gives_zeroed_memory_aligned_at_offset() {
    unsafe {
        leave_dirty_blocks(3000, 16);
        let p = mi_zalloc_aligned_at(1000, 64, 8);
        assert!((p as usize + 8) % 64 == 0);
        let p = mi_rezalloc_aligned_at(p, 3000, 64, 8);
        assert!(!p.is_null() && (p as usize + 8) % 64 == 0);
        assert!(is_zero(p, 3000));
        mi_free(p);
    }
}

#[test]
fn recalloc_aligned_growing_gives_zeroed_aligned_memory() {
    unsafe {
        for n in ZERO_SIZES {
            leave_dirty_blocks(3 * n + 32, 4);
            let p = mi_calloc_aligned(n / 8, 8, 32);
            let p = mi_recalloc_aligned(p, 3 * n / 8, 8, 32);
            assert!(!p.is_null() && is_aligned(p, 32));
            assert!(is_zero(p, 3 * n), "mi_recalloc_aligned {n}");
            mi_free(p);
        }
    }
}

#[test]
fn recalloc_aligned_at_gives_zeroed_memory_aligned_at_offset() {
    unsafe {
        leave_dirty_blocks(3000, 16);
        let p = mi_calloc_aligned_at(100, 10, 128, 24);
        let p = mi_recalloc_aligned_at(p, 300, 10, 128, 24);
        assert!(!p.is_null() && (p as usize + 24) % 128 == 0);
        assert!(is_zero(p, 3000));
        mi_free(p);
    }
}

#[test]
fn recalloc_aligned_overflow_fails_and_keeps_the_block() {
    unsafe {
        let p = mi_calloc_aligned(10, 10, 64);
        fill(p, 100, 33);
        assert!(mi_recalloc_aligned(p, usize::MAX, 16, 64).is_null());
        assert!(mi_recalloc_aligned_at(p, usize::MAX, 16, 64, 8).is_null());
        assert!(check(p, 100, 33));
        mi_free(p);
    }
}

#[test]
fn heap_forms_of_zero_reallocation_zero_the_new_memory() {
    unsafe {
        let h = mi_heap_get_default();
        leave_dirty_blocks(3000, 16);
        let p = mi_zalloc(1000);
        let p = mi_heap_rezalloc(h, p, 3000);
        assert!(!p.is_null() && is_zero(p, 3000), "mi_heap_rezalloc");
        assert!(mi_check_owned(p));
        mi_free(p);
        let p = mi_calloc(100, 10);
        let p = mi_heap_recalloc(h, p, 300, 20);
        assert!(!p.is_null() && is_zero(p, 6000), "mi_heap_recalloc");
        mi_free(p);
    }
}

#[test]
fn heap_forms_of_aligned_zero_reallocation_zero_and_align() {
    unsafe {
        let h = mi_heap_get_default();
        leave_dirty_blocks(20_000, 8);
        let p = mi_zalloc_aligned(1000, 64);
        let p = mi_heap_rezalloc_aligned(h, p, 9000, 64);
        assert!(
            !p.is_null() && is_aligned(p, 64) && is_zero(p, 9000),
            "mi_heap_rezalloc_aligned"
        );
        mi_free(p);
        let p = mi_zalloc_aligned_at(1000, 64, 8);
        let p = mi_heap_rezalloc_aligned_at(h, p, 12_000, 64, 8);
        assert!(
            !p.is_null() && (p as usize + 8) % 64 == 0 && is_zero(p, 12_000),
            "mi_heap_rezalloc_aligned_at"
        );
        mi_free(p);
        let p = mi_calloc_aligned(100, 10, 128);
        let p = mi_heap_recalloc_aligned(h, p, 1000, 15, 128);
        assert!(
            !p.is_null() && is_aligned(p, 128) && is_zero(p, 15_000),
            "mi_heap_recalloc_aligned"
        );
        mi_free(p);
        let p = mi_calloc_aligned_at(100, 10, 128, 16);
        let p = mi_heap_recalloc_aligned_at(h, p, 1000, 20, 128, 16);
        assert!(
            !p.is_null() && (p as usize + 16) % 128 == 0 && is_zero(p, 20_000),
            "mi_heap_recalloc_aligned_at"
        );
        assert!(mi_check_owned(p));
        mi_free(p);
    }
}

#[test]
fn aligned_recalloc_and_aligned_offset_recalloc_zero_and_align() {
    unsafe {
        leave_dirty_blocks(3000, 16);
        let p = mi_calloc_aligned(10, 10, 64);
        let p = mi_aligned_recalloc(p, 300, 10, 64);
        assert!(
            !p.is_null() && is_aligned(p, 64) && is_zero(p, 3000),
            "mi_aligned_recalloc"
        );
        mi_free(p);
        let p = mi_calloc_aligned_at(10, 10, 64, 8);
        let p = mi_aligned_offset_recalloc(p, 300, 10, 64, 8);
        assert!(
            !p.is_null() && (p as usize + 8) % 64 == 0 && is_zero(p, 3000),
            "mi_aligned_offset_recalloc"
        );
        mi_free(p);
    }
}

// ---------------------------------------------------------------------------------------
// §10 POSIX / Unix / Windows / C++ names
// ---------------------------------------------------------------------------------------

#[test]
fn cfree_of_null_is_a_noop() {
    unsafe { mi_cfree(null_mut()) }
}

#[test]
fn cfree_ignores_pointers_not_from_mimalloc() {
    unsafe {
        static mut STATIC_WORD: u64 = 42;
        let mut stack_word: u64 = 43;
        mi_cfree(std::ptr::addr_of_mut!(STATIC_WORD) as *mut c_void);
        mi_cfree(&mut stack_word as *mut u64 as *mut c_void);
        assert_eq!(std::ptr::addr_of!(STATIC_WORD).read(), 42);
        assert_eq!(stack_word, 43);
        if !OVERRIDE {
            let foreign = libc::malloc(64) as *mut u8;
            assert!(!foreign.is_null());
            fill(foreign, 64, 34);
            mi_cfree(foreign as *mut c_void);
            assert!(check(foreign, 64, 34));
            libc::free(foreign as *mut c_void);
        }
    }
}

#[test]
fn cfree_accepts_mimalloc_blocks() {
    unsafe {
        // (that they are really released is checked under an address-space limit in oom.rs)
        for n in SIZES_ALL_KINDS {
            let p = mi_malloc(n);
            assert!(mi_is_in_heap_region(p));
            mi_cfree(p);
        }
    }
}

#[test]
fn underscore_expand_failure_sets_enomem() {
    unsafe {
        let p = mi_malloc(16);
        set_errno(0);
        assert!(mi__expand(p, MIB).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        set_errno(0);
        assert!(mi__expand(null_mut(), 8).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        mi_free(p);
    }
}

#[test]
fn underscore_expand_success_leaves_errno_alone_in_release() {
    if PADDING {
        return; // mi_expand always fails there
    }
    unsafe {
        let p = mi_malloc(100);
        set_errno(0);
        assert_eq!(mi__expand(p, mi_usable_size(p)), p);
        assert_eq!(errno(), 0);
        mi_free(p);
    }
}

#[test]
fn malloc_size_and_malloc_usable_size_equal_usable_size() {
    unsafe {
        assert_eq!(mi_malloc_size(null()), 0);
        assert_eq!(mi_malloc_usable_size(null()), 0);
        for n in SIZES_ALL_KINDS {
            let p = mi_malloc(n);
            let u = mi_usable_size(p);
            assert_eq!(mi_malloc_size(p), u);
            assert_eq!(mi_malloc_usable_size(p), u);
            mi_free(p);
        }
        let p = mi_malloc_aligned_at(100, 4096, 8);
        assert_eq!(mi_malloc_size(p), mi_usable_size(p));
        mi_free(p);
    }
}

#[test]
fn malloc_good_size_equals_good_size() {
    unsafe {
        for n in (0..300_000)
            .step_by(37)
            .chain([0, 1, 131072, 131073, 40 * MIB])
        {
            assert_eq!(mi_malloc_good_size(n), mi_good_size(n));
        }
    }
}

#[test]
fn posix_memalign_with_pointer_sized_alignment_succeeds() {
    unsafe {
        let mut p: *mut c_void = null_mut();
        assert_eq!(
            mi_posix_memalign(&mut p as *mut *mut c_void as _, PTR, 32),
            0
        );
        assert!(!p.is_null() && is_aligned(p, PTR));
        mi_free(p);
    }
}

#[test]
fn posix_memalign_with_large_alignments_succeeds() {
    unsafe {
        for a in [16, 4096, 64 * KIB, MIB, 32 * MIB, 128 * MIB] {
            let mut p: *mut c_void = null_mut();
            assert_eq!(
                mi_posix_memalign(&mut p as *mut *mut c_void as _, a, 1000),
                0,
                "alignment {a}"
            );
            assert!(!p.is_null() && is_aligned(p, a));
            assert!(mi_usable_size(p) >= 1000);
            mi_free(p);
        }
    }
}

#[test]
fn posix_memalign_with_null_result_pointer_is_einval() {
    unsafe {
        set_errno(0);
        assert_eq!(
            mi_posix_memalign(null_mut::<*mut c_void>() as _, 16, 32),
            libc::EINVAL
        );
        assert_eq!(errno(), 0, "posix_memalign must not set errno");
    }
}

#[test]
fn posix_memalign_alignment_not_a_multiple_of_pointer_size_is_einval() {
    unsafe {
        for a in [1, 2, 3, 4, 12] {
            let sentinel = 0x1234usize as *mut c_void;
            let mut p = sentinel;
            set_errno(0);
            assert_eq!(
                mi_posix_memalign(&mut p as *mut *mut c_void as _, a, 32),
                libc::EINVAL,
                "alignment {a}"
            );
            assert_eq!(p, sentinel, "result pointer changed on error");
            assert_eq!(errno(), 0);
        }
    }
}

#[test]
fn posix_memalign_non_power_of_two_alignment_is_einval() {
    unsafe {
        for a in [0, 3 * PTR, 48, 4096 + 8] {
            let sentinel = 0x1234usize as *mut c_void;
            let mut p = sentinel;
            set_errno(0);
            assert_eq!(
                mi_posix_memalign(&mut p as *mut *mut c_void as _, a, 32),
                libc::EINVAL,
                "alignment {a}"
            );
            assert_eq!(p, sentinel);
            assert_eq!(errno(), 0);
        }
    }
}

#[test]
fn posix_memalign_zero_size_stores_a_freeable_block() {
    unsafe {
        let mut p: *mut c_void = null_mut();
        assert_eq!(mi_posix_memalign(&mut p as *mut *mut c_void as _, 64, 0), 0);
        assert!(!p.is_null() && is_aligned(p, 64));
        mi_free(p);
    }
}

#[test]
fn posix_memalign_size_max_is_enomem_and_leaves_the_pointer() {
    unsafe {
        let sentinel = 0x1234usize as *mut c_void;
        let mut p = sentinel;
        assert_eq!(
            mi_posix_memalign(&mut p as *mut *mut c_void as _, PTR, usize::MAX),
            libc::ENOMEM
        );
        assert_eq!(p, sentinel);
    }
}

#[test]
fn memalign_aligns_with_swapped_arguments() {
    unsafe {
        // test-api memalign1
        let ps: Vec<*mut c_void> = (0..8).map(|_| mi_memalign(16, 8)).collect();
        for &p in &ps {
            assert!(!p.is_null() && is_aligned(p, 16));
        }
        ps.into_iter().for_each(|p| mi_free(p));
        let p = mi_memalign(4096, 100);
        assert!(!p.is_null() && is_aligned(p, 4096) && mi_usable_size(p) >= 100);
        mi_free(p);
    }
}

#[test]
fn valloc_returns_page_aligned_blocks() {
    unsafe {
        let ps = os_page_size();
        for n in [0, 1, 100, ps, ps + 1, MIB] {
            let p = mi_valloc(n);
            assert!(!p.is_null() && is_aligned(p, ps), "mi_valloc({n})");
            assert!(mi_usable_size(p) >= n);
            mi_free(p);
        }
    }
}

#[test]
fn pvalloc_rounds_the_size_up_to_whole_pages() {
    unsafe {
        let ps = os_page_size();
        for n in [1, 100, ps, ps + 1, 3 * ps + 7] {
            let p = mi_pvalloc(n);
            assert!(!p.is_null() && is_aligned(p, ps), "mi_pvalloc({n})");
            let u = mi_usable_size(p);
            assert!(u >= round_up(n, ps), "mi_pvalloc({n}) usable {u}");
            fill(p, round_up(n, ps), 35);
            mi_free(p);
        }
    }
}

#[test]
fn pvalloc_zero_returns_a_page_aligned_block() {
    unsafe {
        let p = mi_pvalloc(0);
        assert!(!p.is_null() && is_aligned(p, os_page_size()));
        mi_free(p);
    }
}

#[test]
fn pvalloc_near_size_max_fails_with_enomem() {
    unsafe {
        for n in [usize::MAX, usize::MAX - os_page_size(), usize::MAX - 1] {
            set_errno(0);
            assert!(mi_pvalloc(n).is_null(), "mi_pvalloc({n})");
            assert_eq!(errno(), libc::ENOMEM);
        }
    }
}

#[test]
fn aligned_alloc_does_not_require_size_to_be_a_multiple_of_alignment() {
    unsafe {
        let p = mi_aligned_alloc(16, 10);
        assert!(!p.is_null() && is_aligned(p, 16));
        mi_free(p);
        let p = mi_aligned_alloc(4096, 5000);
        assert!(!p.is_null() && is_aligned(p, 4096) && mi_usable_size(p) >= 5000);
        mi_free(p);
    }
}

#[test]
fn reallocarray_of_null_with_zero_count_returns_a_block_and_keeps_errno() {
    unsafe {
        // test-api reallocarray-null-sizezero
        set_errno(0);
        let p = mi_reallocarray(null_mut(), 0, 16);
        assert!(!p.is_null());
        assert_eq!(errno(), 0);
        mi_free(p);
    }
}

#[test]
fn reallocarray_grows_and_preserves_contents() {
    unsafe {
        let p = mi_reallocarray(null_mut(), 4, 16);
        assert!(!p.is_null());
        fill(p, 64, 36);
        set_errno(0);
        let q = mi_reallocarray(p, 1000, 16);
        assert!(!q.is_null() && mi_usable_size(q) >= 16_000);
        assert!(check(q, 64, 36));
        assert_eq!(errno(), 0);
        mi_free(q);
    }
}

#[test]
fn reallocarray_overflow_sets_enomem_and_keeps_the_block() {
    unsafe {
        let p = mi_malloc(64);
        fill(p, 64, 37);
        set_errno(0);
        assert!(mi_reallocarray(p, usize::MAX / 8, 16).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(p, 64, 37));
        set_errno(0);
        assert!(
            mi_reallocarray(p, 1, usize::MAX).is_null(),
            "too large without overflow"
        );
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(p, 64, 37));
        mi_free(p);
    }
}

#[test]
fn reallocarr_with_null_address_is_einval() {
    if cfg!(feature = "debug") {
        return; // asserts in debug builds (api.md §10)
    }
    unsafe {
        set_errno(0);
        assert_eq!(mi_reallocarr(null_mut(), 4, 4), libc::EINVAL);
        assert_eq!(errno(), libc::EINVAL);
    }
}

#[test]
fn reallocarr_of_a_null_pointer_allocates() {
    unsafe {
        let mut q: *mut c_void = null_mut();
        assert_eq!(mi_reallocarr(&mut q as *mut *mut c_void as _, 16, 16), 0);
        assert!(!q.is_null() && mi_usable_size(q) >= 256);
        mi_free(q);
    }
}

#[test]
fn reallocarr_grows_and_stores_the_new_pointer() {
    unsafe {
        // main-override.c: assert(reallocarr(&p,16,16)==0)
        let mut q = mi_malloc(16);
        fill(q, 16, 38);
        assert_eq!(mi_reallocarr(&mut q as *mut *mut c_void as _, 1000, 16), 0);
        assert!(!q.is_null() && mi_usable_size(q) >= 16_000);
        assert!(check(q, 16, 38));
        mi_free(q);
    }
}

#[test]
fn reallocarr_overflow_returns_enomem_and_keeps_the_pointer() {
    unsafe {
        let orig = mi_malloc(16);
        fill(orig, 16, 39);
        let mut q = orig;
        set_errno(0);
        assert_eq!(
            mi_reallocarr(&mut q as *mut *mut c_void as _, usize::MAX, 2),
            libc::ENOMEM
        );
        assert_eq!(q, orig);
        assert_eq!(errno(), libc::ENOMEM);
        assert!(check(q, 16, 39));
        mi_free(q);
    }
}

/// A NUL-terminated string of 16-bit units (`unsigned short`, api.md §10).
fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

#[test]
fn wcsdup_copies_a_16_bit_string() {
    unsafe {
        let s = wide("wide \u{263A} \u{1F600} string");
        let d = mi_wcsdup(s.as_ptr() as _) as *mut u16;
        assert!(!d.is_null());
        assert_ne!(d as *const u16, s.as_ptr());
        assert_eq!(std::slice::from_raw_parts(d, s.len()), &s[..]);
        assert!(usable(d) >= 2 * s.len());
        free(d);
    }
}

#[test]
fn wcsdup_of_empty_string_returns_empty_string() {
    unsafe {
        let s: [u16; 1] = [0];
        let d = mi_wcsdup(s.as_ptr() as _) as *mut u16;
        assert!(!d.is_null());
        assert_eq!(*d, 0);
        free(d);
    }
}

#[test]
fn wcsdup_of_null_returns_null() {
    unsafe {
        assert!(mi_wcsdup(null::<u16>() as _).is_null());
    }
}

#[test]
fn mbsdup_copies_an_unsigned_char_string() {
    unsafe {
        let s: &[u8] = b"\xc3\xa9t\xc3\xa9 \xff\x80\0";
        let d = mi_mbsdup(s.as_ptr() as _) as *mut u8;
        assert!(!d.is_null());
        assert_eq!(std::slice::from_raw_parts(d, s.len()), s);
        free(d);
        assert!(mi_mbsdup(null::<u8>() as _).is_null());
    }
}

/// An environment variable that is set in this process (PATH if possible), with its value.
fn some_set_env_var() -> (CString, CString) {
    let pick = |k: std::ffi::OsString, v: std::ffi::OsString| {
        use std::os::unix::ffi::OsStringExt;
        let (k, v) = (k.into_vec(), v.into_vec());
        if k.is_empty() || v.is_empty() || k.contains(&b'=') {
            return None;
        }
        Some((CString::new(k).ok()?, CString::new(v).ok()?))
    };
    if let Some(v) = std::env::var_os("PATH") {
        if let Some(kv) = pick("PATH".into(), v) {
            return kv;
        }
    }
    std::env::vars_os()
        .find_map(|(k, v)| pick(k, v))
        .expect("no environment variable set")
}

#[test]
fn dupenv_s_copies_the_value_and_reports_its_length_without_nul() {
    unsafe {
        let (name, value) = some_set_env_var();
        let mut buf: *mut c_char = 0x1234usize as *mut c_char;
        let mut size: usize = 12345;
        assert_eq!(
            mi_dupenv_s(
                &mut buf as *mut *mut c_char as _,
                &mut size as *mut usize as _,
                name.as_ptr() as _
            ),
            0
        );
        assert!(!buf.is_null());
        assert_eq!(CStr::from_ptr(buf), value.as_c_str());
        assert_eq!(size, value.as_bytes().len());
        assert!(mi_is_in_heap_region(buf as *const c_void));
        free(buf);
    }
}

#[test]
fn dupenv_s_accepts_a_null_size_pointer() {
    unsafe {
        let (name, value) = some_set_env_var();
        let mut buf: *mut c_char = null_mut();
        assert_eq!(
            mi_dupenv_s(
                &mut buf as *mut *mut c_char as _,
                null_mut::<usize>() as _,
                name.as_ptr() as _
            ),
            0
        );
        assert_eq!(CStr::from_ptr(buf), value.as_c_str());
        free(buf);
    }
}

#[test]
fn dupenv_s_of_an_unset_variable_gives_null_and_zero_size() {
    unsafe {
        let name = c"MIMALLOC_RS_TEST_SURELY_UNSET_VARIABLE_93d1";
        assert!(std::env::var_os("MIMALLOC_RS_TEST_SURELY_UNSET_VARIABLE_93d1").is_none());
        let mut buf: *mut c_char = 0x1234usize as *mut c_char;
        let mut size: usize = 12345;
        assert_eq!(
            mi_dupenv_s(
                &mut buf as *mut *mut c_char as _,
                &mut size as *mut usize as _,
                name.as_ptr() as _
            ),
            0
        );
        assert!(buf.is_null());
        assert_eq!(size, 0);
    }
}

#[test]
fn dupenv_s_with_null_buffer_or_name_is_einval() {
    unsafe {
        let mut size: usize = 0;
        assert_eq!(
            mi_dupenv_s(
                null_mut::<*mut c_char>() as _,
                &mut size as *mut usize as _,
                c"PATH".as_ptr() as _
            ),
            libc::EINVAL
        );
        let mut buf: *mut c_char = null_mut();
        assert_eq!(
            mi_dupenv_s(
                &mut buf as *mut *mut c_char as _,
                &mut size as *mut usize as _,
                null::<c_char>() as _
            ),
            libc::EINVAL
        );
    }
}

#[test]
fn wdupenv_s_is_unsupported_on_linux_and_clears_its_outputs() {
    unsafe {
        let name = wide("PATH");
        let mut buf: *mut u16 = 0x1234usize as *mut u16;
        let mut size: usize = 12345;
        assert_eq!(
            mi_wdupenv_s(
                &mut buf as *mut *mut u16 as _,
                &mut size as *mut usize as _,
                name.as_ptr() as _
            ),
            libc::EINVAL
        );
        assert!(buf.is_null());
        assert_eq!(size, 0);
    }
}

#[test]
fn wdupenv_s_with_null_buffer_or_name_is_einval() {
    unsafe {
        let name = wide("PATH");
        let mut size: usize = 0;
        assert_eq!(
            mi_wdupenv_s(
                null_mut::<*mut u16>() as _,
                &mut size as *mut usize as _,
                name.as_ptr() as _
            ),
            libc::EINVAL
        );
        let mut buf: *mut u16 = null_mut();
        assert_eq!(
            mi_wdupenv_s(
                &mut buf as *mut *mut u16 as _,
                &mut size as *mut usize as _,
                null::<u16>() as _
            ),
            libc::EINVAL
        );
    }
}

#[test]
fn free_size_and_free_aligned_variants_accept_their_blocks() {
    unsafe {
        // (that they release the memory is checked under an address-space limit in oom.rs)
        for n in SIZES_ALL_KINDS {
            let p = mi_malloc(n);
            mi_free_size(p, n);
            let p = mi_malloc_aligned(n, 64);
            mi_free_aligned(p, 64);
            let p = mi_malloc_aligned(n, 4096);
            mi_free_size_aligned(p, n, 4096);
        }
        set_errno(libc::EDOM);
        mi_free_size(null_mut(), 0);
        mi_free_aligned(null_mut(), 16);
        mi_free_size_aligned(null_mut(), 0, 16);
        assert_eq!(errno(), libc::EDOM);
    }
}

#[test]
fn new_variants_return_usable_blocks() {
    unsafe {
        let p = mi_new(100);
        assert!(!p.is_null() && mi_usable_size(p) >= 100);
        mi_free(p);
        let p = mi_new(0);
        assert!(!p.is_null());
        mi_free(p);
        let p = mi_new_aligned(100, 256);
        assert!(!p.is_null() && is_aligned(p, 256));
        mi_free(p);
        let p = mi_new_nothrow(5000);
        assert!(!p.is_null() && mi_usable_size(p) >= 5000);
        mi_free(p);
        let p = mi_new_aligned_nothrow(5000, 4096);
        assert!(!p.is_null() && is_aligned(p, 4096));
        mi_free(p);
        let p = mi_new_n(100, 30);
        assert!(!p.is_null() && mi_usable_size(p) >= 3000);
        mi_free(p);
    }
}

#[test]
fn new_realloc_variants_preserve_contents() {
    unsafe {
        let p = mi_new(64);
        fill(p, 64, 40);
        let p = mi_new_realloc(p, 100_000);
        assert!(!p.is_null() && mi_usable_size(p) >= 100_000 && check(p, 64, 40));
        let p = mi_new_reallocn(p, 50, 4);
        assert!(!p.is_null() && mi_usable_size(p) >= 200 && check(p, 64, 40));
        let p = mi_new_realloc(p, 0);
        assert!(!p.is_null(), "mi_new_realloc(p, 0) never fails");
        mi_free(p);
    }
}

#[test]
fn heap_alloc_new_variants_allocate_from_the_given_heap() {
    unsafe {
        let h = mi_heap_get_default();
        let p = mi_heap_alloc_new(h, 300);
        assert!(!p.is_null() && mi_usable_size(p) >= 300);
        assert!(mi_check_owned(p));
        mi_free(p);
        let p = mi_heap_alloc_new_n(h, 30, 40);
        assert!(!p.is_null() && mi_usable_size(p) >= 1200);
        mi_free(p);
    }
}

#[test]
fn new_nothrow_variants_return_null_on_failure() {
    unsafe {
        // no new-handler is installed: the nothrow forms return NULL (api.md §10.1)
        assert!(mi_new_nothrow(usize::MAX).is_null());
        assert!(mi_new_aligned_nothrow(usize::MAX, 64).is_null());
        assert!(
            mi_new_aligned_nothrow(100, 24).is_null(),
            "invalid alignment is a failure"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Ownership queries (mi_check_owned, mi_is_in_heap_region)
// ---------------------------------------------------------------------------------------

#[test]
fn check_owned_is_true_for_blocks_of_the_default_heap() {
    unsafe {
        for n in SIZES_ALL_KINDS {
            let p = mi_malloc(n);
            assert!(mi_check_owned(p), "block of {n} bytes");
            let inner = (p as *mut u8).add((n / 2) & !7);
            assert!(
                mi_check_owned(inner as *const c_void),
                "interior pointer of {n}-byte block"
            );
            mi_free(p);
        }
        let p = mi_malloc_aligned(1000, 1 << 20);
        assert!(mi_check_owned(p));
        mi_free(p);
    }
}

#[test]
fn check_owned_is_false_for_foreign_and_unaligned_pointers() {
    unsafe {
        let stack_word = 0u64;
        assert!(!mi_check_owned(&stack_word as *const u64 as *const c_void));
        assert!(!mi_check_owned(null()));
        if !OVERRIDE {
            let foreign = libc::malloc(100);
            assert!(!mi_check_owned(foreign));
            libc::free(foreign);
        }
        let p = mi_malloc(100);
        assert!(
            !mi_check_owned((p as *const u8).add(1) as *const c_void),
            "unaligned"
        );
        mi_free(p);
    }
}

#[test]
fn check_owned_is_false_for_blocks_of_another_thread() {
    unsafe {
        let (to_main, from_thread) = std::sync::mpsc::channel::<usize>();
        let (to_thread, from_main) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let p = mi_malloc(100);
            to_main.send(p as usize).unwrap();
            from_main.recv().unwrap(); // stay alive while the other thread looks
            mi_free(p);
        });
        let p = from_thread.recv().unwrap() as *const c_void;
        assert!(mi_is_in_heap_region(p));
        assert!(!mi_check_owned(p), "block of a live other thread's heap");
        to_thread.send(()).unwrap();
        t.join().unwrap();
    }
}

#[test]
fn is_in_heap_region_is_true_for_every_kind_of_block() {
    unsafe {
        let mut ps: Vec<(*mut c_void, usize)> =
            SIZES_ALL_KINDS.iter().map(|&n| (mi_malloc(n), n)).collect();
        ps.push((mi_malloc_aligned(100, 64 * MIB), 100));
        ps.push((mi_malloc_aligned_at(100, MIB, 8), 100));
        for &(p, n) in &ps {
            assert!(mi_is_in_heap_region(p), "block of {n} bytes at {p:p}");
            if n > 16 {
                let inner = (p as *mut u8).add(n - 1);
                assert!(
                    mi_is_in_heap_region(inner as *const c_void),
                    "last byte of {n}-byte block"
                );
            }
        }
        ps.into_iter().for_each(|(p, _)| mi_free(p));
    }
}

#[test]
fn is_in_heap_region_is_false_for_foreign_pointers() {
    unsafe {
        static STATIC_WORD: u64 = 1;
        let stack_word = 0u64;
        assert!(!mi_is_in_heap_region(null()));
        assert!(!mi_is_in_heap_region(
            &stack_word as *const u64 as *const c_void
        ));
        assert!(!mi_is_in_heap_region(
            &STATIC_WORD as *const u64 as *const c_void
        ));
        if !OVERRIDE {
            let foreign = libc::malloc(100);
            assert!(!mi_is_in_heap_region(foreign));
            libc::free(foreign);
            let big = libc::malloc(64 << 20);
            assert!(!mi_is_in_heap_region(big));
            libc::free(big);
        }
        let mapped = libc::mmap(
            null_mut(),
            1 << 20,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(mapped, libc::MAP_FAILED);
        assert!(!mi_is_in_heap_region(mapped));
        libc::munmap(mapped, 1 << 20);
    }
}

// ---------------------------------------------------------------------------------------
// Threads (mi_thread_init, mi_thread_done) and collection
// ---------------------------------------------------------------------------------------

#[test]
fn thread_init_is_idempotent_and_allocation_works_after_it() {
    std::thread::spawn(|| unsafe {
        mi_thread_init();
        mi_thread_init();
        let p = mi_malloc(100);
        assert!(!p.is_null() && mi_check_owned(p));
        fill(p, 100, 41);
        assert!(check(p, 100, 41));
        mi_free(p);
    })
    .join()
    .unwrap();
}

#[test]
fn thread_done_without_any_allocation_is_a_noop() {
    std::thread::spawn(|| unsafe {
        mi_thread_done();
        mi_thread_done();
        let p = mi_malloc(100);
        assert!(!p.is_null());
        mi_free(p);
    })
    .join()
    .unwrap();
}

#[test]
fn allocation_after_thread_done_works_and_old_blocks_stay_valid() {
    std::thread::spawn(|| unsafe {
        let old: Vec<(*mut c_void, usize)> =
            SIZES_ALL_KINDS.iter().map(|&n| (mi_malloc(n), n)).collect();
        for &(p, n) in &old {
            fill(p, n, 42);
        }
        mi_thread_done();
        let fresh: Vec<*mut c_void> = (0..1000).map(|i| mi_malloc(i % 300)).collect();
        assert!(fresh.iter().all(|p| !p.is_null()));
        for &(p, n) in &old {
            assert!(
                check(p, n, 42),
                "block of {n} bytes changed by mi_thread_done"
            );
            mi_free(p); // frees into pages that were abandoned
        }
        fresh.into_iter().for_each(|p| mi_free(p));
        mi_thread_done();
        mi_thread_done(); // second call is a no-op
    })
    .join()
    .unwrap();
}

#[test]
fn blocks_outlive_their_thread_and_are_freed_by_another() {
    unsafe {
        let blocks: Vec<(usize, usize)> = std::thread::spawn(|| {
            let mut v = Vec::new();
            for i in 0..2000usize {
                let n = if i % 500 == 0 {
                    3 * MIB
                } else if i % 50 == 0 {
                    70_000
                } else {
                    i % 700
                };
                let p = mi_malloc(n);
                fill(p, n, i as u8);
                v.push((p as usize, n));
            }
            v
        })
        .join()
        .unwrap();
        for (i, &(a, n)) in blocks.iter().enumerate() {
            assert!(
                check(a as *const u8, n, i as u8),
                "block {i} of a dead thread changed"
            );
        }
        for (a, _) in blocks {
            mi_free(a as *mut c_void);
        }
        // memory of the dead thread is reusable
        let ps: Vec<*mut c_void> = (0..2000).map(|i| mi_malloc(i % 700)).collect();
        assert!(ps.iter().all(|p| !p.is_null()));
        ps.into_iter().for_each(|p| mi_free(p));
    }
}

#[test]
fn collect_keeps_live_blocks_intact() {
    unsafe {
        let ps: Vec<(*mut c_void, usize)> = (0..3000usize)
            .map(|i| {
                let n = (i * 37) % 5000;
                let p = mi_malloc(n);
                fill(p, n, i as u8);
                (p, n)
            })
            .collect();
        for (i, &(p, _)) in ps.iter().enumerate() {
            if i % 2 == 0 {
                mi_free(p);
            }
        }
        mi_collect(false);
        mi_collect(true);
        for (i, &(p, n)) in ps.iter().enumerate() {
            if i % 2 == 1 {
                assert!(check(p, n, i as u8), "live block {i} changed by mi_collect");
                mi_free(p);
            }
        }
    }
}

#[test]
fn over_aligned_huge_blocks_hold_the_whole_request() {
    // Alignments above 16 MiB get a dedicated segment; the block must still have room
    // for every requested byte whatever the segment's address.
    unsafe {
        for shift in 25..=27 {
            let align = 1usize << shift;
            for size in [1usize, 1000, 100_000, 1 << 20, 3 << 20] {
                let p = mi_malloc_aligned(size, align) as *mut u8;
                assert!(!p.is_null() && p as usize % align == 0);
                assert!(
                    mi_usable_size(p as *const c_void) >= size,
                    "usable of {size} at align {align}"
                );
                core::ptr::write_bytes(p, 0x5A, size);
                assert_eq!(*p.add(size - 1), 0x5A);
                mi_free(p as *mut c_void);
            }
        }
    }
}
