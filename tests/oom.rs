//! Out-of-memory behaviour under an address-space limit.
//!
//! Each test forks a child, lowers `RLIMIT_AS` in it to its current virtual size plus a
//! little headroom, and runs checks that only use the allocator under test and raw
//! system calls. The child reports a failed check through a pipe and its exit code; the
//! parent turns that into a test failure. Contract: api.md §0 "Error reporting model"
//! plus our deliberate difference (DESIGN.md "errno"): every allocation failure returns
//! NULL with `errno = ENOMEM`, the original block of a failed re-allocation stays valid,
//! and the process keeps working.
#![cfg(feature = "capi")]
#![allow(unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of)]

use std::ffi::{c_int, c_void};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mimalloc::capi::*;

mod common;
use common::{errno, set_errno, GIB, KIB, MIB};

/// Forks one child at a time: no other test of this binary is inside the allocator while
/// a child is created.
static FORK_LOCK: Mutex<()> = Mutex::new(());
/// Write end of the report pipe, in the child.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

// ---------------------------------------------------------------------------------------
// Child side: nothing here allocates through the system allocator.
// ---------------------------------------------------------------------------------------

/// Report a failed check to the parent and end the child.
fn child_fail(msg: &str) -> ! {
    unsafe {
        let fd = REPORT_FD.load(Ordering::Relaxed);
        libc::write(fd, msg.as_ptr() as *const c_void, msg.len());
        libc::_exit(1)
    }
}

/// `ensure!(cond)`: in the child, fail with the line and text of `cond` unless it holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            child_fail(concat!("oom.rs:", line!(), ": ", stringify!($cond)));
        }
    };
}

/// Current virtual size of this process in bytes (first field of /proc/self/statm),
/// read with raw system calls.
fn vm_size() -> usize {
    let mut buf = [0u8; 256];
    unsafe {
        let fd = libc::open(
            c"/proc/self/statm".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            child_fail("cannot open /proc/self/statm");
        }
        let n = libc::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len());
        libc::close(fd);
        if n <= 0 {
            child_fail("cannot read /proc/self/statm");
        }
    }
    let pages = buf
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0usize, |a, &b| a * 10 + (b - b'0') as usize);
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Grow the stack now, so that running out of address space later cannot fault it.
#[inline(never)]
fn pretouch_stack() {
    let mut buf = [0u8; 256 * KIB];
    for i in (0..buf.len()).step_by(4096) {
        unsafe { std::ptr::write_volatile(&mut buf[i], 1) };
    }
    std::hint::black_box(&buf);
}

/// Write a byte into every page of `[p, p+n)` and read them back.
unsafe fn touch(p: *mut c_void, n: usize, v: u8) -> bool {
    let b = p as *mut u8;
    let mut i = 0;
    while i < n {
        std::ptr::write_volatile(b.add(i), v);
        i += 4096;
    }
    std::ptr::write_volatile(b.add(n - 1), v);
    let mut i = 0;
    while i < n {
        if std::ptr::read_volatile(b.add(i)) != v {
            return false;
        }
        i += 4096;
    }
    std::ptr::read_volatile(b.add(n - 1)) == v
}

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
enum Outcome {
    Exited(i32, String),
    Signaled(i32),
    TimedOut,
}

/// Fork; in the child set `RLIMIT_AS` to the current size + `headroom` (none if `None`),
/// run `body` and exit 0; in the parent wait (at most 120 s) and return how it ended.
fn run_child(headroom: Option<usize>, body: unsafe fn()) -> Outcome {
    let _guard = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut fds = [0 as c_int; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // child
        unsafe { libc::close(fds[0]) };
        REPORT_FD.store(fds[1], Ordering::Relaxed);
        pretouch_stack();
        if let Some(h) = headroom {
            let limit = (vm_size() + h) as libc::rlim_t;
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) } != 0 {
                child_fail("setrlimit(RLIMIT_AS) failed");
            }
        }
        let r = std::panic::catch_unwind(|| unsafe { body() });
        if r.is_err() {
            child_fail("panic in child");
        }
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(fds[1]) };
    let start = Instant::now();
    let mut status: c_int = 0;
    let outcome = loop {
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid failed");
        if r == pid {
            if libc::WIFEXITED(status) {
                break Outcome::Exited(libc::WEXITSTATUS(status), String::new());
            }
            if libc::WIFSIGNALED(status) {
                break Outcome::Signaled(libc::WTERMSIG(status));
            }
        }
        if start.elapsed() > Duration::from_secs(120) {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            break Outcome::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut report = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr() as *mut c_void, buf.len()) };
        if n <= 0 {
            break;
        }
        report.extend_from_slice(&buf[..n as usize]);
    }
    unsafe { libc::close(fds[0]) };
    match outcome {
        Outcome::Exited(c, _) => Outcome::Exited(c, String::from_utf8_lossy(&report).into_owned()),
        o => o,
    }
}

/// Run `body` in a child limited to `headroom` more bytes of address space; it must pass.
fn expect_pass(headroom: usize, body: unsafe fn()) {
    match run_child(Some(headroom), body) {
        Outcome::Exited(0, _) => {}
        Outcome::Exited(c, msg) => panic!("child failed (exit {c}): {msg}"),
        Outcome::Signaled(s) => panic!("child killed by signal {s}"),
        Outcome::TimedOut => panic!("child did not finish in 120 s"),
    }
}

/// Run `body` in a child (no limit); it must die of SIGABRT.
fn expect_abort(body: unsafe fn()) {
    match run_child(None, body) {
        Outcome::Signaled(s) => assert_eq!(
            s,
            libc::SIGABRT,
            "child killed by signal {s}, expected SIGABRT"
        ),
        o => panic!("expected the child to abort, got {o:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Failing requests
// ---------------------------------------------------------------------------------------

#[test]
fn malloc_beyond_the_limit_returns_null_with_enomem() {
    expect_pass(256 * MIB, || unsafe {
        for n in [GIB, 512 * MIB, 300 * MIB] {
            set_errno(0);
            ensure!(mi_malloc(n).is_null());
            ensure!(errno() == libc::ENOMEM);
        }
    });
}

#[test]
fn malloc_within_the_limit_works_after_a_failure() {
    expect_pass(256 * MIB, || unsafe {
        ensure!(mi_malloc(GIB).is_null());
        let p = mi_malloc(64 * MIB);
        ensure!(!p.is_null());
        ensure!(touch(p, 64 * MIB, 0x5a));
        mi_free(p);
    });
}

#[test]
fn small_allocations_work_after_a_failure() {
    expect_pass(256 * MIB, || unsafe {
        ensure!(mi_malloc(GIB).is_null());
        let mut head: *mut *mut c_void = null_mut();
        for i in 0..20_000usize {
            let p = mi_malloc(8 + i % 1000) as *mut *mut c_void;
            ensure!(!p.is_null());
            *p = head as *mut c_void;
            head = p;
        }
        while !head.is_null() {
            let next = *head as *mut *mut c_void;
            mi_free(head as *mut c_void);
            head = next;
        }
        let p = mi_malloc(100_000);
        ensure!(!p.is_null());
        mi_free(p);
    });
}

#[test]
fn zalloc_and_calloc_beyond_the_limit_return_null_with_enomem() {
    expect_pass(256 * MIB, || unsafe {
        set_errno(0);
        ensure!(mi_zalloc(GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_calloc(1, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_calloc(GIB / 8, 8).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_mallocn(GIB / 8, 8).is_null());
        ensure!(errno() == libc::ENOMEM);
        let p = mi_calloc(1000, 8);
        ensure!(!p.is_null());
        mi_free(p);
    });
}

#[test]
fn calloc_overflow_returns_null_with_enomem_under_the_limit() {
    expect_pass(256 * MIB, || unsafe {
        set_errno(0);
        ensure!(mi_calloc(usize::MAX / 2, 4).is_null());
        ensure!(errno() == libc::ENOMEM);
        let p = mi_calloc(10, 10);
        ensure!(!p.is_null());
        mi_free(p);
    });
}

#[test]
fn realloc_beyond_the_limit_fails_and_keeps_the_block() {
    expect_pass(256 * MIB, || unsafe {
        let p = mi_malloc(MIB);
        ensure!(!p.is_null());
        ensure!(touch(p, MIB, 0x33));
        set_errno(0);
        ensure!(mi_realloc(p, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        ensure!(touch(p, MIB, 0x33));
        set_errno(0);
        ensure!(mi_rezalloc(p, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_reallocn(p, GIB / 16, 16).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_realloc_aligned(p, GIB, 4096).is_null());
        ensure!(errno() == libc::ENOMEM);
        ensure!(touch(p, MIB, 0x44));
        let q = mi_realloc(p, 2 * MIB);
        ensure!(!q.is_null());
        mi_free(q);
    });
}

#[test]
fn aligned_allocation_beyond_the_limit_returns_null_with_enomem() {
    expect_pass(256 * MIB, || unsafe {
        set_errno(0);
        ensure!(mi_malloc_aligned(GIB, 4096).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_zalloc_aligned(GIB, 64).is_null());
        ensure!(errno() == libc::ENOMEM);
        // the alignment alone needs more address space than is left
        set_errno(0);
        ensure!(mi_malloc_aligned(4096, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_malloc_aligned_at(GIB, 4096, 8).is_null());
        ensure!(errno() == libc::ENOMEM);
        let p = mi_malloc_aligned(100, 64);
        ensure!(!p.is_null() && p as usize % 64 == 0);
        mi_free(p);
    });
}

#[test]
fn posix_memalign_beyond_the_limit_returns_enomem_and_leaves_the_pointer() {
    expect_pass(256 * MIB, || unsafe {
        let sentinel = 0x1234usize as *mut c_void;
        let mut p = sentinel;
        ensure!(mi_posix_memalign(&mut p as *mut *mut c_void as _, 64, GIB) == libc::ENOMEM);
        ensure!(p == sentinel);
        ensure!(mi_posix_memalign(&mut p as *mut *mut c_void as _, 64, 1000) == 0);
        ensure!(p != sentinel && !p.is_null());
        mi_free(p);
    });
}

#[test]
fn reallocarray_and_reallocarr_beyond_the_limit_fail_with_enomem() {
    expect_pass(256 * MIB, || unsafe {
        let p = mi_malloc(100);
        set_errno(0);
        ensure!(mi_reallocarray(p, GIB / 8, 8).is_null());
        ensure!(errno() == libc::ENOMEM);
        let mut q = p;
        set_errno(0);
        ensure!(mi_reallocarr(&mut q as *mut *mut c_void as _, GIB / 8, 8) == libc::ENOMEM);
        ensure!(q == p);
        mi_free(p);
    });
}

#[test]
fn valloc_pvalloc_memalign_beyond_the_limit_return_null() {
    expect_pass(256 * MIB, || unsafe {
        set_errno(0);
        ensure!(mi_valloc(GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_pvalloc(GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_memalign(4096, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
        set_errno(0);
        ensure!(mi_aligned_alloc(4096, GIB).is_null());
        ensure!(errno() == libc::ENOMEM);
    });
}

#[test]
fn strdup_works_after_a_failure() {
    expect_pass(256 * MIB, || unsafe {
        ensure!(mi_malloc(GIB).is_null());
        let s = mi_strdup(c"still working".as_ptr() as _) as *mut u8;
        ensure!(!s.is_null());
        ensure!(libc::strcmp(s as *const _, c"still working".as_ptr()) == 0);
        mi_free(s as *mut c_void);
    });
}

#[test]
fn new_nothrow_beyond_the_limit_returns_null() {
    expect_pass(256 * MIB, || unsafe {
        ensure!(mi_new_nothrow(GIB).is_null());
        ensure!(mi_new_aligned_nothrow(GIB, 64).is_null());
        let p = mi_new_nothrow(100);
        ensure!(!p.is_null());
        mi_free(p);
    });
}

// ---------------------------------------------------------------------------------------
// Running out for real
// ---------------------------------------------------------------------------------------

/// Allocate blocks of `size` bytes (linked through their first word) until the allocator
/// says no (at most `max`); the failure must be NULL with ENOMEM. Returns the list and
/// its length.
unsafe fn exhaust(size: usize, max: usize) -> (*mut *mut c_void, usize) {
    let mut head: *mut *mut c_void = null_mut();
    let mut count = 0;
    loop {
        set_errno(0);
        let p = mi_malloc(size) as *mut *mut c_void;
        if p.is_null() {
            ensure!(errno() == libc::ENOMEM);
            break;
        }
        *p = head as *mut c_void;
        *(p as *mut u8).add(size - 1) = 0x77;
        head = p;
        count += 1;
        if count >= max {
            child_fail("never ran out of memory under the address-space limit");
        }
    }
    (head, count)
}

/// Free a list built by `exhaust`, checking the last byte of every block.
unsafe fn free_list(mut head: *mut *mut c_void, size: usize) {
    while !head.is_null() {
        ensure!(*(head as *mut u8).add(size - 1) == 0x77);
        let next = *head as *mut *mut c_void;
        mi_free(head as *mut c_void);
        head = next;
    }
}

#[test]
fn exhausting_memory_with_large_blocks_ends_in_enomem_and_recovers() {
    expect_pass(256 * MIB, || unsafe {
        let (head, count) = exhaust(MIB, 10_000);
        ensure!(count >= 64); // at least a quarter of the headroom was usable
        free_list(head, MIB);
        // everything freed: the same memory serves again
        let (head, again) = exhaust(MIB, 10_000);
        ensure!(again >= count / 2);
        free_list(head, MIB);
        let p = mi_malloc(100);
        ensure!(!p.is_null());
        mi_free(p);
    });
}

#[test]
fn exhausting_memory_with_small_blocks_ends_in_enomem_and_recovers() {
    expect_pass(128 * MIB, || unsafe {
        let (head, count) = exhaust(256, 8_000_000);
        ensure!(count >= 32 * MIB / 256);
        free_list(head, 256);
        mi_collect(true);
        let (head, again) = exhaust(256, 8_000_000);
        ensure!(again >= count / 2);
        free_list(head, 256);
    });
}

#[test]
fn exhausting_memory_with_mixed_sizes_ends_in_enomem_and_recovers() {
    expect_pass(192 * MIB, || unsafe {
        // alternate sizes so every kind of page competes for the same address space
        let sizes = [64usize, 3000, 40_000, 300_000, 3 * MIB];
        let mut head: *mut *mut c_void = null_mut();
        let mut i = 0usize;
        let mut failures = 0;
        while failures < sizes.len() && i < 10_000_000 {
            let n = sizes[i % sizes.len()];
            i += 1;
            set_errno(0);
            let p = mi_malloc(n) as *mut *mut c_void;
            if p.is_null() {
                ensure!(errno() == libc::ENOMEM);
                failures += 1;
                continue;
            }
            *p = head as *mut c_void;
            head = p;
        }
        ensure!(failures == sizes.len());
        while !head.is_null() {
            let next = *head as *mut *mut c_void;
            mi_free(head as *mut c_void);
            head = next;
        }
        for n in sizes {
            let p = mi_malloc(n);
            ensure!(!p.is_null());
            mi_free(p);
        }
    });
}

// ---------------------------------------------------------------------------------------
// Freeing really releases: 64 cycles of 48 MiB fit only if each block is given back
// ---------------------------------------------------------------------------------------

const CYCLE_SIZE: usize = 48 * MIB;
const CYCLES: usize = 64;

#[test]
fn free_releases_huge_blocks_for_reuse() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc(CYCLE_SIZE);
            ensure!(!p.is_null());
            ensure!(touch(p, CYCLE_SIZE, 1));
            mi_free(p);
        }
    });
}

#[test]
fn free_size_releases_huge_blocks_for_reuse() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc(CYCLE_SIZE);
            ensure!(!p.is_null());
            mi_free_size(p, CYCLE_SIZE);
        }
    });
}

#[test]
fn free_aligned_variants_release_huge_aligned_blocks_for_reuse() {
    expect_pass(256 * MIB, || unsafe {
        for i in 0..CYCLES {
            let p = mi_malloc_aligned(CYCLE_SIZE, 64 * KIB);
            ensure!(!p.is_null() && p as usize % (64 * KIB) == 0);
            if i % 2 == 0 {
                mi_free_aligned(p, 64 * KIB);
            } else {
                mi_free_size_aligned(p, CYCLE_SIZE, 64 * KIB);
            }
        }
    });
}

#[test]
fn free_releases_blocks_with_alignment_beyond_16mib_for_reuse() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc_aligned(MIB, 64 * MIB);
            ensure!(!p.is_null() && p as usize % (64 * MIB) == 0);
            mi_free(p);
        }
    });
}

#[test]
fn cfree_releases_huge_blocks_for_reuse() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc(CYCLE_SIZE);
            ensure!(!p.is_null());
            mi_cfree(p);
        }
    });
}

#[test]
fn reallocf_failure_frees_the_block() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc(CYCLE_SIZE);
            ensure!(!p.is_null());
            set_errno(0);
            ensure!(mi_reallocf(p, usize::MAX / 2).is_null());
            ensure!(errno() == libc::ENOMEM);
        }
    });
}

#[test]
fn realloc_to_zero_frees_the_old_block() {
    expect_pass(256 * MIB, || unsafe {
        for _ in 0..CYCLES {
            let p = mi_malloc(CYCLE_SIZE);
            ensure!(!p.is_null());
            let q = mi_realloc(p, 0);
            ensure!(!q.is_null());
            mi_free(q);
        }
    });
}

#[test]
fn realloc_moving_a_block_frees_the_old_one() {
    expect_pass(256 * MIB, || unsafe {
        let mut p = mi_malloc(CYCLE_SIZE);
        ensure!(!p.is_null());
        for i in 0..CYCLES {
            // alternate between two huge sizes: every call moves the block
            let n = if i % 2 == 0 {
                CYCLE_SIZE + 20 * MIB
            } else {
                CYCLE_SIZE
            };
            p = mi_realloc(p, n);
            ensure!(!p.is_null());
        }
        mi_free(p);
    });
}

#[test]
fn freed_medium_blocks_are_reused_across_rounds() {
    expect_pass(256 * MIB, || unsafe {
        // 16 rounds of 128 MiB in 64 KiB blocks: 2 GiB in total through 256 MiB
        for round in 0..16 {
            let mut head: *mut *mut c_void = null_mut();
            for _ in 0..2048 {
                let p = mi_malloc(64 * KIB) as *mut *mut c_void;
                ensure!(!p.is_null());
                *p = head as *mut c_void;
                head = p;
            }
            free_list_unchecked(head);
            if round % 2 == 1 {
                mi_collect(true);
            }
        }
    });
}

unsafe fn free_list_unchecked(mut head: *mut *mut c_void) {
    while !head.is_null() {
        let next = *head as *mut *mut c_void;
        mi_free(head as *mut c_void);
        head = next;
    }
}

// ---------------------------------------------------------------------------------------
// C++ `new` failure protocol (api.md §10.1): no new-handler is installed, so the
// throwing forms end the process with SIGABRT (abort, or an uncaught std::bad_alloc)
// ---------------------------------------------------------------------------------------

#[test]
fn new_failure_aborts() {
    expect_abort(|| unsafe {
        let _ = mi_new(usize::MAX);
    });
}

#[test]
fn new_n_overflow_aborts() {
    expect_abort(|| unsafe {
        let _ = mi_new_n(usize::MAX / 2, 4);
    });
}

#[test]
fn new_aligned_with_invalid_alignment_aborts() {
    expect_abort(|| unsafe {
        let _ = mi_new_aligned(100, 24);
    });
}

#[test]
fn new_realloc_failure_aborts() {
    expect_abort(|| unsafe {
        let p = mi_malloc(10);
        let _ = mi_new_realloc(p, usize::MAX);
    });
}

#[test]
fn new_failure_beyond_the_limit_aborts() {
    match run_child(Some(256 * MIB), || unsafe {
        let _ = mi_new(GIB);
    }) {
        Outcome::Signaled(s) => assert_eq!(s, libc::SIGABRT),
        o => panic!("expected the child to abort, got {o:?}"),
    }
}
