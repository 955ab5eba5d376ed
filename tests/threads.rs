//! Threads that come and go: a thread's memory outlives it (its segments are abandoned)
//! and must be reused by the threads that follow (reclaimed when they need memory or
//! free into it), whatever the timing; `abandoned_reclaim_on_free` and
//! `max_segment_reclaim` work as in 2.1.7 (api.md §6).
//!
//! The tests that look at process-wide numbers (committed memory, abandoned segments,
//! options) run in a child process (see `common::run_child_ok`).
#![cfg(feature = "capi")]
#![allow(unused_unsafe)]

mod common;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use common::*;
use mimalloc::capi::*;

// mi_option_t values (api.md §9.1)
const PURGE_DELAY: mi_option_t = 15;
const MAX_SEGMENT_RECLAIM: mi_option_t = 21;
const ABANDONED_RECLAIM_ON_FREE: mi_option_t = 26;

/// (current, peak) committed bytes as `mi_process_info` reports them.
fn commit() -> (usize, usize) {
    let (mut e, mut u, mut s, mut rss, mut prss, mut cur, mut peak, mut f) =
        (0, 0, 0, 0, 0, 0, 0, 0);
    unsafe {
        mi_process_info(
            &mut e, &mut u, &mut s, &mut rss, &mut prss, &mut cur, &mut peak, &mut f,
        )
    };
    (cur, peak)
}

fn abandoned() -> usize {
    mimalloc::__internal::abandoned_count()
}

/// A block of `size` bytes whose first word is its size and whose other words up to 16
/// and last word are a pattern of its address, so any thread can check it.
unsafe fn make_block(size: usize) -> *mut usize {
    let p = mi_malloc(size) as *mut usize;
    assert!(!p.is_null(), "out of memory for {size} bytes");
    let words = size / 8;
    *p = size;
    for i in 1..words.min(16) {
        *p.add(i) = pattern(p, i);
    }
    *p.add(words - 1) = pattern(p, words - 1);
    p
}

fn pattern(p: *const usize, i: usize) -> usize {
    (p as usize).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0x1_0000_01B3)
}

/// A block (see `make_block`) that a thread allocated before it exited: its segment is
/// abandoned.
fn block_of_exited_thread(size: usize) -> usize {
    std::thread::spawn(move || unsafe { make_block(size) as usize })
        .join()
        .unwrap()
}

unsafe fn check_and_free(p: *mut usize) {
    if p.is_null() {
        return;
    }
    let size = *p;
    assert!(
        (16..=32 << 20).contains(&size),
        "corrupted size word {size:#x} at {p:p}"
    );
    let words = size / 8;
    for i in 1..words.min(16) {
        assert_eq!(
            *p.add(i),
            pattern(p, i),
            "corrupted block {p:p} of {size} bytes"
        );
    }
    assert_eq!(
        *p.add(words - 1),
        pattern(p, words - 1),
        "corrupted end of {p:p}"
    );
    assert!(mi_usable_size(p as *const c_void) >= size);
    mi_free(p as *mut c_void);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

#[test]
fn waves_of_one_allocation_threads_reuse_abandoned_memory() {
    run_child_ok("child_waves", &[]);
}

/// Waves of threads that each allocate one small block and exit; the block is freed two
/// waves later by another thread. Without reuse of abandoned segments every thread would
/// take a fresh segment (a header and a page: 128 KiB committed each, 600 MiB for these
/// 4800 threads); with it the whole run stays within a few segments.
#[test]
fn child_waves() {
    if !in_child("child_waves") {
        return;
    }
    const THREADS: usize = 16;
    const WAVES: usize = 300;
    let slots: Arc<Vec<AtomicUsize>> =
        Arc::new((0..3 * THREADS).map(|_| AtomicUsize::new(0)).collect());
    for wave in 0..WAVES {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let slots = slots.clone();
                std::thread::spawn(move || unsafe {
                    let old = slots[((wave + 1) % 3) * THREADS + i].swap(0, Ordering::AcqRel);
                    check_and_free(old as *mut usize);
                    let p = make_block(16 + (i * 37 + wave * 11) % 240);
                    slots[(wave % 3) * THREADS + i].store(p as usize, Ordering::Release);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let (_, peak) = commit();
    assert!(
        peak < 64 * MIB,
        "peak committed {} KiB: abandoned memory is not reused",
        peak / KIB
    );
    // At most one abandoned segment per thread of the last two waves.
    assert!(
        abandoned() <= 2 * THREADS,
        "{} abandoned segments",
        abandoned()
    );
    for s in slots.iter() {
        unsafe { check_and_free(s.swap(0, Ordering::AcqRel) as *mut usize) };
    }
    unsafe { mi_collect(true) };
    assert_eq!(
        abandoned(),
        0,
        "mi_collect(true) on the main thread reclaims everything"
    );
}

#[test]
fn exits_in_the_middle_of_cross_thread_frees() {
    run_child_ok("child_exits", &[]);
}

/// 64 threads at a time, 640 in all, each a random number of operations long: allocate a
/// block of random size (up to huge), swap it into a random shared slot, check and free
/// the block it displaced (mostly another thread's, often an exited thread's). Threads
/// end at random moments while others free their blocks; a quarter call `mi_thread_done`
/// half-way and go on. Every block is checked before it is freed, and at the end
/// everything is freed and the memory goes back.
#[test]
fn child_exits() {
    if !in_child("child_exits") {
        return;
    }
    const ALIVE: usize = 64;
    const TOTAL: usize = 640;
    const SLOTS: usize = 4096;
    unsafe { mi_collect(true) };
    let (start_commit, _) = commit();
    let slots: Arc<Vec<AtomicUsize>> = Arc::new((0..SLOTS).map(|_| AtomicUsize::new(0)).collect());
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let (done_tx, done_rx) = mpsc::channel::<usize>();
    let mut handles: Vec<Option<std::thread::JoinHandle<()>>> = Vec::new();
    let mut started = 0;
    let mut running = 0;
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    while started < TOTAL || running > 0 {
        if started < TOTAL && running < ALIVE {
            let (slots, counts, done) = (slots.clone(), counts.clone(), done_tx.clone());
            let id = started;
            let mut r = Rng(rng.next() | 1);
            let ops = 20 + r.below(1500);
            let thread_done_at = if r.below(4) == 0 { ops / 2 } else { usize::MAX };
            handles.push(Some(std::thread::spawn(move || unsafe {
                for i in 0..ops {
                    let slot = r.below(SLOTS as u64);
                    let p = if r.below(8) == 0 {
                        std::ptr::null_mut()
                    } else {
                        let size = match r.below(10_000) {
                            0..=8999 => 16 + r.below(1024),
                            9000..=9899 => 1024 + r.below(128 * 1024),
                            9900..=9994 => 128 * 1024 + r.below(4 << 20),
                            _ => (17 << 20) + r.below(8 << 20),
                        };
                        counts.0.fetch_add(1, Ordering::Relaxed);
                        make_block(size)
                    };
                    let old = slots[slot].swap(p as usize, Ordering::AcqRel) as *mut usize;
                    if !old.is_null() {
                        check_and_free(old);
                        counts.1.fetch_add(1, Ordering::Relaxed);
                    }
                    if i == thread_done_at {
                        mi_thread_done();
                    }
                }
                done.send(id).unwrap();
            })));
            started += 1;
            running += 1;
            continue;
        }
        // Wait for a thread to finish; join it (its heap is torn down by then).
        let id = done_rx.recv().unwrap();
        handles[id].take().unwrap().join().unwrap();
        running -= 1;
    }
    for s in slots.iter() {
        let p = s.swap(0, Ordering::AcqRel) as *mut usize;
        if !p.is_null() {
            unsafe { check_and_free(p) };
            counts.1.fetch_add(1, Ordering::Relaxed);
        }
    }
    assert_eq!(
        counts.0.load(Ordering::Relaxed),
        counts.1.load(Ordering::Relaxed)
    );
    unsafe { mi_collect(true) };
    assert_eq!(abandoned(), 0);
    let (end_commit, peak) = commit();
    assert!(
        end_commit <= start_commit + 8 * MIB,
        "{} KiB committed at the end (start {} KiB, peak {} KiB)",
        end_commit / KIB,
        start_commit / KIB,
        peak / KIB
    );
}

#[test]
fn reclaim_on_free_follows_the_option() {
    run_child_ok("child_reclaim_on_free", &[]);
    run_child_ok(
        "child_reclaim_on_free",
        &[("MIMALLOC_ABANDONED_RECLAIM_ON_FREE", "0")],
    );
}

/// A thread leaves a block behind; a new thread whose only act is to free it takes the
/// abandoned segment over (the option is on by default), or, with the option off, frees
/// it remotely and leaves the segment abandoned.
#[test]
fn child_reclaim_on_free() {
    if !in_child("child_reclaim_on_free") {
        return;
    }
    let enabled = unsafe { mi_option_is_enabled(ABANDONED_RECLAIM_ON_FREE) };
    let p = block_of_exited_thread(100);
    assert_eq!(abandoned(), 1);
    let left = std::thread::spawn(move || unsafe {
        check_and_free(p as *mut usize);
        abandoned()
    })
    .join()
    .unwrap();
    if enabled {
        assert_eq!(left, 0, "the freeing thread reclaims the segment");
    } else {
        assert_eq!(
            left, 1,
            "abandoned_reclaim_on_free=0: the segment stays abandoned"
        );
    }
}

#[test]
fn reclaim_for_allocation_follows_the_option() {
    run_child_ok("child_reclaim_for_allocation", &[]);
    run_child_ok(
        "child_reclaim_for_allocation",
        &[("MIMALLOC_MAX_SEGMENT_RECLAIM", "0")],
    );
}

/// A thread leaves a block behind; a new thread allocates: it takes the abandoned
/// segment over (whose free space serves it), or with `max_segment_reclaim=0` takes a
/// fresh segment and leaves the abandoned one alone.
#[test]
fn child_reclaim_for_allocation() {
    if !in_child("child_reclaim_for_allocation") {
        return;
    }
    let percent = unsafe { mi_option_get(MAX_SEGMENT_RECLAIM) };
    let p = block_of_exited_thread(100);
    assert_eq!(abandoned(), 1);
    let (left, q) = std::thread::spawn(move || unsafe {
        let q = make_block(200);
        (abandoned(), q as usize)
    })
    .join()
    .unwrap();
    if percent > 0 {
        assert_eq!(left, 0, "the allocating thread reclaims the segment");
    } else {
        assert_eq!(left, 1, "max_segment_reclaim=0: a fresh segment instead");
    }
    unsafe {
        check_and_free(p as *mut usize);
        check_and_free(q as *mut usize);
        mi_collect(true);
    }
    assert_eq!(abandoned(), 0);
}

#[test]
fn show_arenas_lists_abandoned_blocks() {
    let (_, stderr) = run_child_ok("child_show_arenas", &[("MIMALLOC_VERBOSE", "1")]);
    assert!(stderr.contains("blocks abandoned: 1"), "{stderr}");
    assert!(stderr.contains("total abandoned blocks: 1"), "{stderr}");
}

#[test]
fn child_show_arenas() {
    if !in_child("child_show_arenas") {
        return;
    }
    let p = block_of_exited_thread(64);
    unsafe {
        mi_debug_show_arenas(true, true, true);
        check_and_free(p as *mut usize);
    }
}

#[test]
fn threads_statistic_counts_live_threads() {
    run_child_ok("child_threads_statistic", &[]);
}

/// The `threads` row counts threads other than the main thread that are alive (its
/// `current`), and the most alive at once (its `peak`), in release builds too.
#[test]
fn child_threads_statistic() {
    if !in_child("child_threads_statistic") {
        return;
    }
    let threads = || mimalloc::Stats::read().threads;
    let before = threads();
    let barrier = Arc::new(std::sync::Barrier::new(9));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || unsafe {
                let p = mi_malloc(64);
                barrier.wait(); // all 8 have a heap now
                barrier.wait(); // the main thread has looked
                mi_free(p);
            })
        })
        .collect();
    barrier.wait();
    let during = threads();
    barrier.wait();
    for h in handles {
        h.join().unwrap();
    }
    let after = threads();
    assert_eq!(during.current - before.current, 8, "{during:?}");
    assert!(during.peak >= before.current + 8, "{during:?}");
    assert_eq!(after.current, before.current, "{after:?}");
    assert_eq!(after.allocated - before.allocated, 8);
}

#[test]
fn committed_statistic_counts_memory_in_use() {
    run_child_ok("child_committed", &[]);
}

/// `committed` (and `mi_process_info`'s commit) follows what is used, not the 1 GiB
/// arena: it grows with 20 MiB of small blocks by about that much, and shrinks back once
/// they are freed and purged.
#[test]
fn child_committed() {
    if !in_child("child_committed") {
        return;
    }
    unsafe {
        mi_collect(true);
        let (start, _) = commit();
        assert!(start < 4 * MIB, "{} KiB committed at start", start / KIB);
        let blocks: Vec<_> = (0..20 * 1024).map(|_| mi_malloc(1000)).collect();
        let (used, _) = commit();
        assert!(
            used >= start + 20 * MIB && used <= start + 26 * MIB,
            "{} KiB committed for 20 MiB of blocks (start {} KiB)",
            used / KIB,
            start / KIB
        );
        for p in blocks {
            mi_free(p);
        }
        mi_collect(true);
        let (end, peak) = commit();
        assert!(
            end <= start + MIB,
            "{} KiB committed after freeing",
            end / KIB
        );
        assert!(peak >= used);
    }
}

#[test]
fn abandoned_page_purge_purges_at_thread_exit() {
    run_child_ok(
        "child_abandoned_page_purge",
        &[("MIMALLOC_ABANDONED_PAGE_PURGE", "1")],
    );
}

/// With `abandoned_page_purge`, an exiting thread's segments give their free memory back
/// when they are abandoned, without waiting for the purge delay: a thread that used
/// 16 MiB and left one block alive leaves almost nothing committed.
#[test]
fn child_abandoned_page_purge() {
    if !in_child("child_abandoned_page_purge") {
        return;
    }
    // (a long delay, so that only the abandonment can have purged)
    unsafe { mi_option_set(PURGE_DELAY, 10_000) };
    let (start, _) = commit();
    let keep = std::thread::spawn(|| unsafe {
        let blocks: Vec<_> = (0..16 * 1024).map(|_| mi_malloc(1000)).collect();
        for &p in &blocks[1..] {
            mi_free(p);
        }
        blocks[0] as usize
    })
    .join()
    .unwrap();
    let (after, peak) = commit();
    assert!(
        peak >= start + 16 * MIB,
        "the thread used 16 MiB: peak {} KiB",
        peak / KIB
    );
    assert!(
        after <= start + MIB,
        "{} KiB committed after the thread exited (start {} KiB)",
        after / KIB,
        start / KIB
    );
    unsafe { mi_free(keep as *mut c_void) };
}

#[test]
fn reclaim_prefers_a_partly_used_page_of_the_size() {
    run_child_ok("child_reclaim_prefers_right_page", &[]);
}

/// Two abandoned segments: one has room only in free spans, the other a partly used
/// page of 64-byte blocks. A thread that allocates 64 bytes takes over the second and
/// allocates from that page, leaving the first abandoned.
#[test]
fn child_reclaim_prefers_right_page() {
    if !in_child("child_reclaim_prefers_right_page") {
        return;
    }
    let segment_of = |p: usize| p & !(32 * MIB - 1);
    unsafe { mi_option_set(MAX_SEGMENT_RECLAIM, 0) }; // (set-up: no reclaim)
    let only_span = block_of_exited_thread(1000);
    let (page_block, page) = std::thread::spawn(|| unsafe {
        let blocks: Vec<_> = (0..200).map(|_| mi_malloc(64) as usize).collect();
        for &p in &blocks[1..] {
            mi_free(p as *mut c_void);
        }
        (
            blocks[0],
            mimalloc::__internal::ptr_segment(blocks[0] as *const u8) as usize,
        )
    })
    .join()
    .unwrap();
    assert_ne!(segment_of(only_span), page, "two different segments");
    assert_eq!(abandoned(), 2);
    unsafe { mi_option_set(MAX_SEGMENT_RECLAIM, 100) };
    for _ in 0..8 {
        // (whichever of the two the search happens to meet first)
        let (q, left) = std::thread::spawn(|| unsafe {
            let q = mi_malloc(64);
            let left = abandoned();
            // (freed here: a free from this test's thread would take the segment over)
            mi_free(q);
            (q as usize, left)
        })
        .join()
        .unwrap();
        assert_eq!(
            segment_of(q),
            page,
            "allocated from the partly used page's segment"
        );
        assert_eq!(left, 1, "the other segment stays abandoned");
        assert!(mimalloc::__internal::is_marked_abandoned(segment_of(
            only_span
        )));
        // (the thread exited: the page's segment is abandoned again for the next round)
        assert_eq!(abandoned(), 2);
    }
    unsafe {
        mi_free(page_block as *mut c_void);
        check_and_free(only_span as *mut usize);
        mi_collect(true);
    }
    assert_eq!(abandoned(), 0);
}

// `mimalloc::__internal::delayed_free_state` values
const USE_DELAYED_FREE: usize = 0;
const NO_DELAYED_FREE: usize = 2;

fn delayed_state(p: *mut c_void) -> usize {
    unsafe { mimalloc::__internal::delayed_free_state(p as *const u8) }
}

fn free_elsewhere(blocks: Vec<usize>) {
    std::thread::spawn(move || {
        for p in blocks {
            unsafe { mi_free(p as *mut c_void) };
        }
    })
    .join()
    .unwrap();
}

/// A small page asks for delayed frees (through the owner's heap) only while it is in
/// the full queue: remote frees into a page the owner still allocates from go straight
/// to the page's list, where the owner collects them when it needs blocks. (2.1.7 sends
/// every other remote free through the heap's delayed list.)
#[test]
fn remote_frees_use_the_heap_list_only_for_full_pages() {
    // (each test runs on a thread of its own, with a heap of its own)
    const SIZE: usize = 48;
    let mut blocks: Vec<*mut c_void> = (0..64).map(|_| unsafe { mi_malloc(SIZE) }).collect();
    let first = blocks[0];
    let same_page =
        |p: *mut c_void| (p as usize) & !(64 * KIB - 1) == (first as usize) & !(64 * KIB - 1);
    assert!(blocks.iter().all(|&p| same_page(p)));
    assert_eq!(delayed_state(first), NO_DELAYED_FREE, "a page in use");
    free_elsewhere(blocks.drain(32..).map(|p| p as usize).collect());
    assert_eq!(
        delayed_state(first),
        NO_DELAYED_FREE,
        "after remote frees into a page in use"
    );
    // The owner gets the remotely freed blocks back before it takes a new page.
    loop {
        let p = unsafe { mi_malloc(SIZE) };
        if !same_page(p) {
            blocks.push(p);
            break;
        }
        blocks.push(p);
    }
    // The page is full now (the owner moved on): the next remote free notifies the owner.
    assert_eq!(delayed_state(first), USE_DELAYED_FREE, "a full page");
    let freed = blocks.remove(0) as usize;
    free_elsewhere(vec![freed]);
    assert_eq!(
        delayed_state(blocks[0]),
        NO_DELAYED_FREE,
        "after the remote free that notified the owner"
    );
    // The owner takes the block from its delayed list at its next slow path; the page
    // leaves the full queue (so its block is handed out again before long) and stays
    // without notifications.
    let other = unsafe { mi_malloc(3000) };
    assert_eq!(delayed_state(blocks[0]), NO_DELAYED_FREE);
    let limit = 2 * 64 * KIB / SIZE;
    let mut reused = false;
    for _ in 0..limit {
        let p = unsafe { mi_malloc(SIZE) };
        blocks.push(p);
        if p as usize == freed {
            reused = true;
            break;
        }
    }
    assert!(
        reused,
        "the block freed into the full page was not handed out again"
    );
    assert_eq!(delayed_state(blocks[0]), NO_DELAYED_FREE);
    unsafe { mi_free(other) };
    for p in blocks {
        unsafe { mi_free(p) };
    }
}

#[test]
fn a_remote_free_of_a_large_block_reaches_its_owner() {
    run_child_ok("child_remote_large_free", &[]);
}

/// A page of one large block keeps asking for a delayed free, so the owner hears of the
/// remote free that empties it at its next slow path and gives the memory back, without
/// waiting until it allocates that size again.
#[test]
fn child_remote_large_free() {
    if !in_child("child_remote_large_free") {
        return;
    }
    unsafe { mi_option_set(PURGE_DELAY, 0) };
    let big = unsafe { make_block(4 * MIB) } as *mut c_void;
    assert_eq!(
        delayed_state(big),
        USE_DELAYED_FREE,
        "a page of a large block"
    );
    let (before, _) = commit();
    free_elsewhere(vec![big as usize]);
    // Any allocation through the slow path (a size class this thread has not used).
    let small = unsafe { mi_malloc(5000) };
    let (after, _) = commit();
    assert!(
        before >= 4 * MIB && after <= before - 3 * MIB,
        "{} KiB committed after the owner's next slow path, {} KiB before the remote free",
        after / KIB,
        before / KIB
    );
    unsafe { mi_free(small) };
}
