//! Fault injection: the OS layer's mmap, commit, protect and purge calls fail on demand
//! (`mimalloc::fault`, a test-only feature: `cargo test --features capi,fault_injection
//! --test fault`). Contract (api.md §0 and our errno decision, doc/design.md): an
//! allocation the OS cannot back returns NULL with errno ENOMEM (posix_memalign returns
//! ENOMEM, `new` aborts), the original block of a failed reallocation stays valid, a
//! failed purge or protect changes nothing the program can see, nothing leaks (the
//! committed statistic and the mapped address space return to their baseline after
//! `mi_collect(true)`), and allocation works again when the OS recovers.
//!
//! Each scenario runs in a child process (the fault switches are process-wide), under
//! several option settings so that each injection point is on the path: the default
//! (segments in arenas), no arena reservation (segments straight from the OS), and
//! arenas whose blocks are committed on demand. `RLIMIT_AS` (the kernel's own ENOMEM)
//! is covered by tests/oom.rs.
#![cfg(all(feature = "capi", feature = "fault_injection"))]

use std::ffi::c_void;
use std::ptr::null_mut;

use mimalloc::capi::*;
use mimalloc::fault::{self, Mode, Point, POINTS};

mod common;
use common::{errno, in_child, run_child_ok, set_errno, spawn_child, GIB, KIB, MIB};

/// The option settings each scenario runs under (see the module note).
const SETTINGS: [&[(&str, &str)]; 3] = [
    &[],
    &[("MIMALLOC_ARENA_RESERVE", "0")],
    &[("MIMALLOC_ARENA_EAGER_COMMIT", "0")],
];

/// Run helper test `name` in a child under every setting of `SETTINGS`, printing what
/// it reports about the injection points.
fn in_children(name: &str) {
    for env in SETTINGS {
        let (stdout, _) = run_child_ok(name, env);
        // (the first may follow the test harness's "test name ... " on its line)
        for line in stdout
            .lines()
            .filter_map(|l| l.find("fault:").map(|i| &l[i..]))
        {
            println!("{env:?} {line}");
        }
    }
}

unsafe extern "C" fn capture(msg: *const std::ffi::c_char, arg: *mut c_void) {
    let text = &mut *(arg as *mut String);
    text.push_str(&std::ffi::CStr::from_ptr(msg).to_string_lossy());
}

/// `mi_option_verbose` (api.md §8).
const OPT_VERBOSE: mi_option_t = 2;

/// The arena blocks in use (`mi_debug_show_arenas`, which prints on the verbose channel).
fn arena_blocks_in_use() -> usize {
    let mut text = String::new();
    let verbose = mi_option_is_enabled(OPT_VERBOSE);
    mi_option_set_enabled(OPT_VERBOSE, true);
    // (the callback appends to the String `arg` points to, until unregistered)
    mi_register_output(Some(capture), &mut text as *mut String as *mut c_void);
    mi_debug_show_arenas(true, false, false);
    mi_register_output(None, null_mut());
    mi_option_set_enabled(OPT_VERBOSE, verbose);
    let line = text
        .lines()
        .find(|l| l.contains("total inuse blocks"))
        .unwrap_or_else(|| panic!("no total in\n{text}"));
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// The current counts of segments, pages and arenas from the statistics (the whole
/// process: `mi_stats_print_out` merges the threads' statistics first), and of the
/// arena blocks in use. A leaked segment, huge block, page, arena or arena block shows
/// here exactly. (The mapped address space of the process would not do: the test
/// harness's threads use glibc's malloc, whose per-thread arenas and cached stacks
/// come and go.)
fn mapped() -> [usize; 4] {
    let mut text = String::new();
    // (the callback appends to the String `arg` points to, during the call)
    mi_stats_print_out(Some(capture), &mut text as *mut String as *mut c_void);
    let count = |label: &str, col: usize| -> usize {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row in\n{text}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        cols[col]
            .parse()
            .unwrap_or_else(|_| panic!("bad {label} row: {line}"))
    };
    // rows: label, peak, total, freed, current
    [
        count("segments:", 4),
        count("pages:", 4),
        count("arenas:", 1),
        arena_blocks_in_use(),
    ]
}

/// The committed statistic (what segments use and have not purged).
fn committed() -> usize {
    let mut c = 0usize;
    // SAFETY: NULL or writable pointers, as mi_process_info allows.
    unsafe {
        mi_process_info(
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut c,
            null_mut(),
            null_mut(),
        )
    };
    c
}

/// What must come back after everything is freed.
struct Base {
    committed: usize,
    counts: [usize; 4],
    /// Bytes of failed purges so far: memory a purge failed to return stays
    /// committed (and reusable) until it is used again, as in 2.1.7.
    unpurged: usize,
    /// Failed commits so far: an allocation whose arena blocks cannot be committed
    /// reserves another arena (as 2.1.7 does), whose blocks may fail too; arenas live
    /// as long as the process and are used once commits work again.
    commit_failures: usize,
}

fn baseline() -> Base {
    mi_collect(true);
    Base {
        committed: committed(),
        counts: mapped(),
        unpurged: fault::injected_bytes(Point::Purge),
        commit_failures: fault::injected(Point::Commit),
    }
}

/// Nothing leaked since `base`: the numbers of segments, pages and arena blocks in use
/// are back, and so is
/// the committed statistic but for what failed purges left behind, and the number of
/// arenas but for one per failed commit (see `Base`).
fn check_no_leak(base: &Base, what: &str) {
    let now = baseline();
    let arenas = now.commit_failures - base.commit_failures;
    let mut counts = now.counts;
    counts[2] = counts[2].max(base.counts[2] + arenas) - arenas;
    let unpurged = now.unpurged - base.unpurged;
    assert!(
        now.committed <= base.committed + unpurged,
        "{what}: committed {} after collect, {} before (+ {unpurged} not purged)",
        now.committed,
        base.committed
    );
    assert!(
        counts == base.counts,
        "{what}: [segments, pages, arenas, arena blocks in use] {:?} after collect, {:?} before",
        now.counts,
        base.counts
    );
}

/// A block from an allocation that may fail: NULL with ENOMEM, or `n` usable bytes
/// (written and read back).
unsafe fn check_block(p: *mut c_void, n: usize, what: &str) -> bool {
    if p.is_null() {
        assert_eq!(errno(), libc::ENOMEM, "{what}: NULL without ENOMEM");
        return false;
    }
    assert!(
        mi_usable_size(p) >= n,
        "{what}: usable size below the request"
    );
    let b = p as *mut u8;
    // (the ends and a few pages between: a huge block is not touched all over)
    for off in [0, n / 3, n / 2, n - 1] {
        *b.add(off) = off as u8 ^ 0x5a;
    }
    for off in [0, n / 3, n / 2, n - 1] {
        assert_eq!(*b.add(off), off as u8 ^ 0x5a, "{what}: contents");
    }
    true
}

/// Allocations of every kind and size class, each allowed to fail cleanly, on the
/// default heap, a new heap and a new thread; everything is freed again. Returns how
/// many allocations succeeded.
unsafe fn workload() -> usize {
    let mut ok = 0;
    let mut live: Vec<*mut c_void> = Vec::new();
    for (i, &n) in [16, 1000, 70 * KIB, MIB, 40 * MIB, 3 * GIB]
        .iter()
        .enumerate()
    {
        set_errno(0);
        let p = match i % 3 {
            0 => mi_malloc(n),
            1 => mi_zalloc(n),
            _ => mi_malloc_aligned(n, 4096),
        };
        if check_block(p, n, "malloc") {
            ok += 1;
            live.push(p);
        }
    }
    // huge alignment: a dedicated segment from the OS
    set_errno(0);
    let p = mi_malloc_aligned(1000, 64 * MIB);
    if check_block(p, 1000, "malloc_aligned(64 MiB)") {
        assert_eq!(p as usize % (64 * MIB), 0);
        ok += 1;
        live.push(p);
    }
    // realloc to a size that needs fresh memory: on failure the block is intact
    let p = mi_malloc(100);
    if check_block(p, 100, "malloc(100)") {
        *(p as *mut u8).add(99) = 0x77;
        set_errno(0);
        let q = mi_realloc(p, 48 * MIB);
        if q.is_null() {
            assert_eq!(errno(), libc::ENOMEM, "realloc: NULL without ENOMEM");
            assert_eq!(
                *(p as *mut u8).add(99),
                0x77,
                "realloc failure lost the block"
            );
            live.push(p);
        } else {
            assert_eq!(*(q as *mut u8).add(99), 0x77, "realloc lost the contents");
            ok += 1;
            live.push(q);
        }
    }
    // a heap of its own: created, used, destroyed
    let h = mi_heap_new();
    if !h.is_null() {
        for n in [32, 5000, 300 * KIB, 36 * MIB] {
            set_errno(0);
            let p = mi_heap_malloc(h, n);
            ok += check_block(p, n, "heap_malloc") as usize;
        }
        mi_heap_destroy(h);
    }
    // a thread of its own, which frees some blocks of ours remotely
    let handed: Vec<usize> = live.drain(..live.len() / 2).map(|p| p as usize).collect();
    let t = std::thread::spawn(move || {
        let mut ok = 0;
        for &p in &handed {
            mi_free(p as *mut c_void);
        }
        for n in [24, 20_000, 2 * MIB] {
            set_errno(0);
            let p = mi_malloc(n);
            if check_block(p, n, "thread malloc") {
                ok += 1;
                mi_free(p);
            }
        }
        ok
    });
    ok += t.join().unwrap();
    for p in live {
        mi_free(p);
    }
    ok
}

/// Print what the points saw (the parent passes it on).
fn report(what: &str) {
    for p in POINTS {
        println!(
            "fault: {what}: {p:?}: {} calls, {} failures injected",
            fault::calls(p),
            fault::injected(p)
        );
    }
}

/// With every mmap and commit failing, every allocation API that needs fresh memory
/// returns NULL with ENOMEM (posix_memalign returns ENOMEM and leaves `*p`); when the
/// OS recovers, the same requests succeed, and afterwards nothing has leaked.
#[test]
fn apis_return_null_with_enomem_when_the_os_fails_then_recover() {
    in_children("child_apis_when_the_os_fails");
}

#[test]
fn child_apis_when_the_os_fails() {
    if !in_child("child_apis_when_the_os_fails") {
        return;
    }
    unsafe {
        // warm up: the thread's data, the first segments, an arena if there are any
        mi_free(mi_malloc(8));
        let base = baseline();
        let keep = mi_malloc(100) as *mut u8;
        *keep.add(99) = 0x42;
        // 3 GiB fits in no arena we reserve, and 64 MiB alignment never comes from one
        const BIG: usize = 3 * GIB;
        type Alloc = unsafe fn() -> *mut c_void;
        let apis: [(&str, Alloc); 13] = [
            ("mi_malloc", || mi_malloc(BIG)),
            ("mi_zalloc", || mi_zalloc(BIG)),
            ("mi_calloc", || mi_calloc(3, GIB)),
            ("mi_mallocn", || mi_mallocn(3, GIB)),
            ("mi_malloc_aligned", || mi_malloc_aligned(BIG, 4096)),
            ("mi_malloc_aligned(64 MiB)", || {
                mi_malloc_aligned(1000, 64 * MIB)
            }),
            ("mi_zalloc_aligned_at", || {
                mi_zalloc_aligned_at(BIG, 256, 16)
            }),
            ("mi_aligned_alloc", || mi_aligned_alloc(64, BIG)),
            ("mi_memalign", || mi_memalign(64, BIG)),
            ("mi_valloc", || mi_valloc(BIG)),
            ("mi_pvalloc", || mi_pvalloc(BIG)),
            ("mi_new_nothrow", || mi_new_nothrow(BIG)),
            ("mi_heap_malloc", || {
                let h = mi_heap_new();
                assert!(!h.is_null());
                let p = mi_heap_malloc(h, BIG);
                if p.is_null() {
                    let e = errno();
                    mi_heap_delete(h);
                    set_errno(e);
                    return p;
                }
                // (recovered: leave the block to the default heap)
                mi_heap_delete(h);
                p
            }),
        ];
        fault::set(Point::Mmap, Mode::Always);
        fault::set(Point::Commit, Mode::Always);
        for (name, f) in apis {
            set_errno(0);
            assert!(f().is_null(), "{name} succeeded without the OS");
            assert_eq!(errno(), libc::ENOMEM, "errno after {name}");
        }
        let mut p: *mut c_void = null_mut();
        assert_eq!(mi_posix_memalign(&mut p, 64, BIG), libc::ENOMEM);
        assert!(p.is_null(), "posix_memalign touched *p");
        set_errno(0);
        assert!(mi_reallocarray(keep as *mut c_void, 3, GIB).is_null());
        assert_eq!(errno(), libc::ENOMEM, "errno after mi_reallocarray");
        set_errno(0);
        assert!(mi_realloc(keep as *mut c_void, BIG).is_null());
        assert_eq!(errno(), libc::ENOMEM, "errno after mi_realloc");
        assert_eq!(*keep.add(99), 0x42, "a failed realloc lost the block");
        // the failures were injected, not a lucky lack of OS calls
        assert!(fault::injected(Point::Mmap) > 0);
        report("all failing");
        // the OS recovers: every API works again
        fault::clear();
        for (name, f) in apis {
            set_errno(0);
            let q = f();
            assert!(!q.is_null(), "{name} failed after the OS recovered");
            mi_free(q);
        }
        assert_eq!(mi_posix_memalign(&mut p, 64, BIG), 0);
        mi_free(p);
        let q = mi_realloc(keep as *mut c_void, BIG) as *mut u8;
        assert!(!q.is_null() && *q.add(99) == 0x42);
        mi_free(q as *mut c_void);
        check_no_leak(&base, "after the failures and recovery");
    }
}

/// `mi_new` (no new_handler in a Rust-only build) aborts when the OS fails.
#[test]
fn new_aborts_when_the_os_fails() {
    let out = spawn_child("child_new_when_the_os_fails", &[]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "mi_new did not abort: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn child_new_when_the_os_fails() {
    if !in_child("child_new_when_the_os_fails") {
        return;
    }
    fault::set(Point::Mmap, Mode::Always);
    let p = mi_new(3 * GIB);
    // (only reached if mi_new returned: the parent then sees a normal exit and fails)
    println!("mi_new returned {p:?}");
}

/// Each call the workload makes at a point fails in turn (the 1st, the 2nd, ... up to
/// 40 runs per point) in a workload that uses every kind of allocation: each
/// allocation either works (contents checked) or returns NULL with ENOMEM, and once the
/// point is back to normal nothing has leaked and the workload succeeds in full.
#[test]
fn the_nth_os_call_failing_is_survived_without_leaks() {
    in_children("child_nth_failures");
}

#[test]
fn child_nth_failures() {
    if !in_child("child_nth_failures") {
        return;
    }
    unsafe {
        let full = workload();
        let base = baseline();
        for point in POINTS {
            // how many calls one workload and the collection after it make here
            let calls = fault::calls(point);
            workload();
            baseline();
            let runs = (fault::calls(point) - calls).min(40);
            let before = fault::injected(point);
            for n in 1..=runs {
                fault::set(point, Mode::Nth(n));
                workload();
                mi_collect(true);
                fault::clear();
                check_no_leak(&base, &format!("{point:?} failing at call {n}"));
            }
            let hit = fault::injected(point) - before;
            println!("fault: {point:?}: {hit} of {runs} runs hit a failure");
            // (a run can make fewer calls than the first: what is cached differs)
            assert!(
                hit * 2 >= runs,
                "{point:?}: the failures missed the workload"
            );
            assert_eq!(workload(), full, "the workload after {point:?} failures");
        }
        report("nth");
    }
}

/// Every point fails at random (1 call in 6) while two threads run the workload; then
/// the OS recovers: nothing has leaked and everything works again.
#[test]
fn random_os_failures_on_two_threads_are_survived_without_leaks() {
    in_children("child_random_failures");
}

#[test]
fn child_random_failures() {
    if !in_child("child_random_failures") {
        return;
    }
    unsafe {
        let full = workload();
        let base = baseline();
        for (i, p) in POINTS.into_iter().enumerate() {
            fault::set(
                p,
                Mode::Random {
                    per_65536: 65536 / 6,
                    seed: 0x9e37_79b9_7f4a_7c15 ^ i as u64,
                },
            );
        }
        let t = std::thread::spawn(|| {
            for _ in 0..20 {
                // (the workload only uses blocks it allocated)
                workload();
            }
        });
        for _ in 0..20 {
            workload();
        }
        t.join().unwrap();
        fault::clear();
        let injected: usize = POINTS.iter().map(|&p| fault::injected(p)).sum();
        assert!(injected > 0, "no failure was injected");
        report("random");
        check_no_leak(&base, "after random failures");
        assert_eq!(workload(), full, "the workload after random failures");
    }
}

/// Purges and protections that fail change nothing the program sees: freed memory is
/// reused, contents of live blocks stay, and (once purging works again) a collection
/// gives the memory back.
#[test]
fn failing_purge_and_protect_are_harmless() {
    in_children("child_purge_and_protect_fail");
}

#[test]
fn child_purge_and_protect_fail() {
    if !in_child("child_purge_and_protect_fail") {
        return;
    }
    unsafe {
        workload();
        let base = baseline();
        fault::set(Point::Purge, Mode::Always);
        fault::set(Point::Protect, Mode::Always);
        let keep = mi_malloc(5 * MIB) as *mut u8;
        assert!(!keep.is_null());
        std::ptr::write_bytes(keep, 0xab, 5 * MIB);
        for round in 0..4 {
            let blocks: Vec<*mut c_void> = (0..8).map(|_| mi_malloc(3 * MIB)).collect();
            for &b in &blocks {
                assert!(check_block(b, 3 * MIB, "malloc under failing purges"));
                std::ptr::write_bytes(b as *mut u8, round, 3 * MIB);
            }
            for b in blocks {
                mi_free(b);
            }
            mi_collect(true);
        }
        for i in (0..5 * MIB).step_by(4096) {
            assert_eq!(
                *keep.add(i),
                0xab,
                "a live block changed under failing purges"
            );
        }
        mi_free(keep as *mut c_void);
        report("purge and protect failing");
        fault::clear();
        check_no_leak(&base, "after failing purges");
    }
}

/// Committing arena memory fails (arenas whose blocks are made read-write on first
/// use, `arena_eager_commit=0`, or in secure builds after a purge made them
/// inaccessible): an allocation then comes from elsewhere (the OS) or returns NULL with
/// ENOMEM; nothing leaks, and it works once commits work again.
#[test]
fn failing_commits_are_survived_without_leaks() {
    run_child_ok(
        "child_commit_fails",
        &[("MIMALLOC_ARENA_EAGER_COMMIT", "0")],
    );
}

#[test]
fn child_commit_fails() {
    if !in_child("child_commit_fails") {
        return;
    }
    unsafe {
        workload();
        let base = baseline();
        fault::set(Point::Commit, Mode::Always);
        // arena blocks never used yet: each needs a commit
        let blocks: Vec<*mut c_void> = (0..6).map(|_| mi_malloc(100 * MIB)).collect();
        for &b in &blocks {
            if check_block(b, 100 * MIB, "malloc while commits fail") {
                mi_free(b);
            }
        }
        let failed = fault::injected(Point::Commit);
        assert!(failed > 0, "no commit was attempted");
        report("commit failing");
        fault::clear();
        check_no_leak(&base, "after failing commits");
        let arenas = mapped()[2];
        let p = mi_malloc(100 * MIB);
        assert!(check_block(p, 100 * MIB, "malloc after commits recovered"));
        mi_free(p);
        check_no_leak(&base, "after the recovery");
        assert_eq!(
            mapped()[2],
            arenas,
            "a new arena although the old ones are free"
        );
    }
}

/// Defect found by `random_os_failures_on_two_threads_are_survived_without_leaks` in the
/// secure build: a segment is freed while making its memory read-write again fails
/// (secure builds make guard pages and purged slices inaccessible, and undo that when
/// the segment goes back to its arena). The arena block then still counted as
/// committed, and the next segment there faulted on the inaccessible slices. Now the
/// arena commits such a block again before reuse. (Meaningful in secure builds; in
/// the others nothing is made inaccessible.)
#[test]
fn a_segment_freed_while_unprotecting_fails_is_safe_to_reuse() {
    run_child_ok("child_unprotect_fails_at_segment_free", &[]);
}

#[test]
fn child_unprotect_fails_at_segment_free() {
    if !in_child("child_unprotect_fails_at_segment_free") {
        return;
    }
    unsafe {
        // A fresh segment of our own: one small block keeps it alive, 8 medium ones
        // fill it; freed and collected, their slices are purged (in secure builds:
        // made inaccessible).
        let h = mi_heap_new();
        let keep = mi_heap_malloc(h, 64);
        let blocks: Vec<*mut c_void> = (0..8).map(|_| mi_heap_malloc(h, 2 * MIB)).collect();
        for &b in &blocks {
            assert!(check_block(b, 2 * MIB, "malloc"));
        }
        for b in blocks {
            mi_free(b);
        }
        mi_heap_collect(h, true);
        mi_collect(true);
        // The segment is freed while making it read-write fails (and so does making
        // its arena block inaccessible when the arena purges it, which would have
        // hidden the defect: a purged block is committed again before reuse).
        fault::set(Point::Commit, Mode::Always);
        fault::set(Point::Protect, Mode::Always);
        let _ = keep;
        mi_heap_destroy(h);
        mi_collect(true);
        fault::clear();
        report("unprotect failing at segment free");
        // Its memory is used again, all of it.
        let blocks: Vec<*mut c_void> = (0..12).map(|_| mi_malloc(2 * MIB)).collect();
        for &b in &blocks {
            assert!(!b.is_null());
            std::ptr::write_bytes(b as *mut u8, 0x3c, 2 * MIB);
        }
        for b in blocks {
            mi_free(b);
        }
    }
}
