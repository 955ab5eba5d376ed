//! Regression tests of defects found by the issue-19 review (one test per defect).
//!
//! They go through the C API only. The huge-free test is meaningful in debug builds
//! (`--features capi,debug`), where a freed block is filled with a pattern; bin/test.sh
//! runs this file in that build too.
#![cfg(feature = "capi")]

use std::ffi::c_void;
use std::ptr::null_mut;

use mimalloc::capi::*;

mod common;
use common::{errno, set_errno, GIB, MIB};

/// Peak resident set of this process, in bytes.
fn max_rss() -> usize {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut ru), 0);
        ru.ru_maxrss as usize * 1024
    }
}

/// Defect: a debug build's free of a huge block filled the whole block with the freed
/// pattern (2.1.7 skips huge pages there: their memory may be decommitted already), so
/// freeing a block of many GiB touched all of it. Allocating and freeing a 2 GiB block
/// that the program touched one page of must not raise the peak resident set by
/// anything near the block's size.
#[test]
fn freeing_a_huge_block_does_not_touch_it() {
    const SIZE: usize = 2 * GIB;
    let before = max_rss();
    // SAFETY: plain C API calls on a block we own.
    unsafe {
        let p = mi_malloc(SIZE) as *mut u8;
        assert!(!p.is_null(), "a 2 GiB block (reserved, not touched)");
        *p = 1;
        *p.add(SIZE - 1) = 2;
        mi_free(p as *mut c_void);
        // and the same for a remote free, which takes the other path through `free`
        let q = mi_malloc(SIZE) as usize;
        assert!(q != 0);
        std::thread::spawn(move || mi_free(q as *mut c_void))
            .join()
            .unwrap();
    }
    let grown = max_rss().saturating_sub(before);
    assert!(
        grown < 256 * MIB,
        "freeing two untouched 2 GiB blocks raised the peak RSS by {} MiB",
        grown / MIB
    );
}

/// Defect: invalid alignments (0, not a power of two) in `aligned_alloc` and `memalign`
/// (and the `mi_*_aligned` family they are built on) set `errno` to ENOMEM; POSIX and
/// glibc report an invalid argument as EINVAL. `posix_memalign` returns EINVAL and
/// leaves errno alone (api.md §4).
#[test]
fn invalid_alignments_report_einval() {
    // SAFETY: plain C API calls; every successful result is freed.
    unsafe {
        for a in [0usize, 3, 24, 48, 100, (1 << 20) + 8] {
            set_errno(0);
            assert!(mi_aligned_alloc(a, 10).is_null(), "mi_aligned_alloc({a})");
            assert_eq!(
                errno(),
                libc::EINVAL,
                "errno after mi_aligned_alloc({a},10)"
            );
            set_errno(0);
            assert!(mi_memalign(a, 10).is_null(), "mi_memalign({a})");
            assert_eq!(errno(), libc::EINVAL, "errno after mi_memalign({a},10)");
            set_errno(0);
            assert!(mi_malloc_aligned(10, a).is_null());
            assert_eq!(
                errno(),
                libc::EINVAL,
                "errno after mi_malloc_aligned(10,{a})"
            );
            set_errno(0);
            assert!(mi_zalloc_aligned_at(10, a, 8).is_null());
            assert_eq!(errno(), libc::EINVAL, "errno after mi_zalloc_aligned_at");
            set_errno(0);
            let mut p: *mut c_void = null_mut();
            assert_eq!(mi_posix_memalign(&mut p, a, 10), libc::EINVAL);
            assert!(p.is_null(), "*p untouched");
            assert_eq!(
                errno(),
                0,
                "posix_memalign returns its error, errno untouched"
            );
        }
        // A valid alignment with an impossible size is still a lack of memory.
        set_errno(0);
        assert!(mi_aligned_alloc(64, usize::MAX).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        // And valid requests leave errno alone.
        set_errno(0);
        let p = mi_aligned_alloc(64, 100);
        assert!(!p.is_null() && p as usize % 64 == 0);
        assert_eq!(errno(), 0);
        mi_free(p);
    }
}
