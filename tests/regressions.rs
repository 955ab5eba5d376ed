//! Regression tests of defects found by the issue-19 review (one test per defect).
//!
//! They go through the C API only. The huge-free test is meaningful in debug builds
//! (`--features capi,debug`), where a freed block is filled with a pattern; bin/test.sh
//! runs this file in that build too.
#![cfg(feature = "capi")]

use std::ffi::c_void;

use mimalloc::capi::*;

mod common;
use common::{GIB, MIB};

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
