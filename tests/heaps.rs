//! First-class heaps (api.md §5 and the ownership queries of §7): `mi_heap_new`,
//! `mi_heap_delete` (live blocks move to the backing heap and stay valid),
//! `mi_heap_destroy` (all blocks freed at once, memory reused), the default and backing
//! heaps, `mi_heap_collect`, every `mi_heap_*` allocation function, `mi_heap_contains_block`,
//! `mi_heap_check_owned`, `mi_check_owned`, and the thread rule: only the owner thread
//! allocates from a heap, any thread may free its blocks.
//!
//! Our build deliberately sets `errno = ENOMEM` on every allocation failure
//! (`shared/DESIGN.md`, "errno"); C mimalloc 2.1.7 does not for the plain functions.
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::{mpsc, Mutex};

use mimalloc::capi::*;

mod common;
use common::{errno, set_errno, KIB, MIB};

const SEGMENT_SIZE: usize = 32 * MIB;
const PTR: usize = std::mem::size_of::<*mut c_void>();
/// Tests that measure memory reuse run one at a time (other tests' allocations would
/// blur what they observe).
static MEMORY_LOCK: Mutex<()> = Mutex::new(());

fn lock_memory() -> std::sync::MutexGuard<'static, ()> {
    MEMORY_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn pat(i: usize, seed: u8) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 9) ^ seed as usize) as u8 | 1
}
/// Byte positions checked in a block of `n` bytes: all for small blocks, else the edges
/// and a sparse sample (at least one per OS page).
fn positions(n: usize) -> Box<dyn Iterator<Item = usize>> {
    if n <= 256 * KIB {
        Box::new(0..n)
    } else {
        Box::new(
            (0..64 * KIB)
                .chain((64 * KIB..n - 64 * KIB).step_by(4093))
                .chain(n - 64 * KIB..n),
        )
    }
}
unsafe fn fill(p: *mut c_void, n: usize, seed: u8) {
    let b = p as *mut u8;
    for i in positions(n) {
        *b.add(i) = pat(i, seed);
    }
}
unsafe fn check(p: *const c_void, n: usize, seed: u8) -> bool {
    let b = p as *const u8;
    positions(n).all(|i| *b.add(i) == pat(i, seed))
}
unsafe fn is_zero(p: *const c_void, n: usize) -> bool {
    let b = p as *const u8;
    positions(n).all(|i| *b.add(i) == 0)
}
fn aligned(p: *const c_void, a: usize) -> bool {
    (p as usize) % a == 0
}

/// Sizes of every kind: small, medium, large and huge (> 16 MiB: own segment).
const SIZES: [usize; 10] = [
    1,
    8,
    40,
    100,
    1000,
    5000,
    50_000,
    300 * KIB,
    3 * MIB,
    20 * MIB,
];

/// The block must belong to `heap` and to no other heap we know of.
unsafe fn assert_in_heap(
    heap: *mut mi_heap_t,
    others: &[*mut mi_heap_t],
    p: *const c_void,
    what: &str,
) {
    assert!(!p.is_null(), "{what}: NULL");
    assert!(
        mi_heap_contains_block(heap, p),
        "{what}: {p:p} not contained in its heap"
    );
    for &o in others {
        assert!(
            !mi_heap_contains_block(o, p),
            "{what}: {p:p} also contained in another heap"
        );
    }
}

// ---------------------------------------------------------------------------------------
// mi_heap_new / mi_heap_delete
// ---------------------------------------------------------------------------------------

#[test]
fn new_heaps_are_distinct_and_not_the_default() {
    unsafe {
        let backing = mi_heap_get_backing();
        let default = mi_heap_get_default();
        assert!(!backing.is_null() && !default.is_null());
        let a = mi_heap_new();
        let b = mi_heap_new();
        assert!(!a.is_null() && !b.is_null());
        assert_ne!(a, b);
        assert_ne!(a, backing);
        assert_ne!(b, backing);
        assert_eq!(
            mi_heap_get_default(),
            default,
            "mi_heap_new changed the default heap"
        );
        assert_eq!(mi_heap_get_backing(), backing);
        // The descriptor is itself a block of the backing heap (api.md §5).
        assert!(
            mi_heap_contains_block(backing, a as *const c_void),
            "the heap descriptor should be allocated from the backing heap"
        );
        mi_heap_delete(a);
        mi_heap_destroy(b);
    }
}

#[test]
fn delete_moves_live_blocks_to_the_backing_heap() {
    unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        assert!(!h.is_null());
        let mut blocks = Vec::new();
        for (i, &size) in SIZES.iter().enumerate() {
            for j in 0..3 {
                let p = mi_heap_malloc(h, size);
                assert_in_heap(h, &[backing], p, &format!("mi_heap_malloc({size})"));
                // An interior pointer is contained as well.
                assert!(mi_heap_contains_block(
                    h,
                    (p as *const u8).add(size / 2) as *const c_void
                ));
                fill(p, size, (i * 3 + j) as u8);
                blocks.push((p, size, (i * 3 + j) as u8));
            }
        }
        // Free some of them before deleting: only the live ones migrate.
        let mut live = Vec::new();
        for (k, b) in blocks.into_iter().enumerate() {
            if k % 3 == 1 {
                mi_free(b.0);
            } else {
                live.push(b);
            }
        }
        mi_heap_delete(h);
        for &(p, size, seed) in &live {
            assert!(
                check(p, size, seed),
                "contents of a {size}-byte block changed by mi_heap_delete"
            );
            assert!(
                mi_heap_contains_block(backing, p),
                "after mi_heap_delete the {size}-byte block {p:p} is not in the backing heap"
            );
            assert!(mi_heap_check_owned(backing, p));
        }
        // The blocks are fully usable: write, reallocate, free.
        for &(p, size, seed) in &live {
            fill(p, size, seed ^ 0x5a);
            assert!(check(p, size, seed ^ 0x5a));
        }
        let (p0, size0, _) = live[0];
        let q = mi_realloc(p0, size0 + 100);
        assert!(!q.is_null());
        live[0].0 = q;
        for &(p, _, _) in &live {
            mi_free(p);
        }
    }
}

#[test]
fn delete_of_the_default_heap_reverts_to_the_backing_heap() {
    std::thread::spawn(|| unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        assert_eq!(mi_heap_set_default(h), backing);
        assert_eq!(mi_heap_get_default(), h);
        let p = mi_malloc(100);
        assert!(mi_heap_contains_block(h, p));
        mi_heap_delete(h);
        assert_eq!(
            mi_heap_get_default(),
            backing,
            "default heap not reverted after delete"
        );
        assert!(mi_heap_contains_block(backing, p));
        let q = mi_malloc(100);
        assert!(mi_heap_contains_block(backing, q));
        mi_free(p);
        mi_free(q);
    })
    .join()
    .unwrap();
}

#[test]
fn delete_and_destroy_of_null_are_no_ops() {
    unsafe {
        mi_heap_delete(null_mut());
        mi_heap_destroy(null_mut());
        mi_heap_collect(null_mut(), true);
        mi_heap_collect(null_mut(), false);
        assert!(!mi_heap_contains_block(null_mut(), null()));
        assert!(!mi_heap_check_owned(null_mut(), null()));
    }
}

#[test]
fn many_heaps_deleted_in_any_order_keep_their_blocks() {
    unsafe {
        let backing = mi_heap_get_backing();
        let mut heaps = Vec::new();
        let mut blocks = Vec::new();
        for i in 0..64usize {
            let h = mi_heap_new();
            assert!(!h.is_null());
            for j in 0..20usize {
                let size = 16 + (i * 37 + j * 101) % 3000;
                let p = mi_heap_malloc(h, size);
                assert!(!p.is_null());
                fill(p, size, (i ^ j) as u8);
                blocks.push((p, size, (i ^ j) as u8, i));
            }
            heaps.push(h);
        }
        for &(p, _, _, i) in &blocks {
            assert!(mi_heap_contains_block(heaps[i], p));
        }
        // Delete in a scrambled order.
        let mut order: Vec<usize> = (0..heaps.len()).collect();
        order.sort_by_key(|&i| (i * 7919) % 64);
        for i in order {
            mi_heap_delete(heaps[i]);
        }
        for &(p, size, seed, _) in &blocks {
            assert!(check(p, size, seed));
            assert!(mi_heap_contains_block(backing, p));
            mi_free(p);
        }
    }
}

// ---------------------------------------------------------------------------------------
// mi_heap_destroy
// ---------------------------------------------------------------------------------------

#[test]
fn destroy_frees_all_blocks_and_their_memory_is_reused() {
    let _g = lock_memory();
    unsafe {
        // 200 rounds of 2000 blocks of 48 bytes (two 64 KiB pages each) that are never
        // freed one by one: without reuse they would occupy 400 different pages.
        let mut pages = HashSet::new();
        for round in 0..200 {
            let h = mi_heap_new();
            assert!(!h.is_null());
            let mut blocks = HashSet::new();
            for _ in 0..2000 {
                let p = mi_heap_malloc(h, 48);
                assert!(!p.is_null(), "round {round}: allocation failed");
                fill(p, 48, round as u8);
                blocks.insert(p as usize);
                pages.insert(p as usize / (64 * KIB));
            }
            assert_eq!(blocks.len(), 2000, "a block was handed out twice");
            assert!(blocks
                .iter()
                .all(|&p| mi_heap_contains_block(h, p as *const c_void)));
            assert_eq!(heap_pages(h).1, 2000);
            mi_heap_destroy(h);
        }
        assert!(
            pages.len() <= 24,
            "mi_heap_destroy does not make the memory reusable: {} distinct 64 KiB pages used",
            pages.len()
        );
    }
}

#[test]
fn destroy_releases_large_and_huge_blocks() {
    let _g = lock_memory();
    unsafe {
        // Without a real release, 48 rounds of 8 × 4 MiB + 20 MiB would need more than
        // 2 GiB of fresh address space in ever new segments.
        let mut segments = HashSet::new();
        for round in 0..48 {
            let h = mi_heap_new();
            assert!(!h.is_null());
            for _ in 0..8 {
                let p = mi_heap_malloc(h, 4 * MIB);
                assert!(!p.is_null(), "round {round}: 4 MiB allocation failed");
                *(p as *mut u8) = 1;
                segments.insert(p as usize & !(SEGMENT_SIZE - 1));
            }
            let p = mi_heap_malloc(h, 20 * MIB);
            assert!(!p.is_null(), "round {round}: 20 MiB allocation failed");
            *(p as *mut u8) = 1;
            segments.insert(p as usize & !(SEGMENT_SIZE - 1));
            mi_heap_destroy(h);
        }
        assert!(
            segments.len() <= 24,
            "mi_heap_destroy does not seem to release memory: {} distinct segments used",
            segments.len()
        );
    }
}

#[test]
fn destroy_of_the_default_heap_reverts_to_the_backing_heap() {
    std::thread::spawn(|| unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        mi_heap_set_default(h);
        let p = mi_malloc(1000);
        assert!(mi_heap_contains_block(h, p));
        mi_heap_destroy(h);
        assert_eq!(mi_heap_get_default(), backing);
        let q = mi_malloc(1000);
        assert!(!q.is_null() && mi_heap_contains_block(backing, q));
        mi_free(q);
    })
    .join()
    .unwrap();
}

#[test]
fn destroy_with_pending_cross_thread_frees() {
    unsafe {
        let h = mi_heap_new();
        let blocks: Vec<usize> = (0..5000)
            .map(|i| mi_heap_malloc(h, 16 + i % 200) as usize)
            .collect();
        assert!(blocks.iter().all(|&p| p != 0));
        // Another thread frees half of them; the heap is destroyed afterwards with these
        // frees still pending in the pages' thread-free lists / the delayed list.
        let half: Vec<usize> = blocks.iter().copied().step_by(2).collect();
        std::thread::spawn(move || {
            for p in half {
                mi_free(p as *mut c_void);
            }
        })
        .join()
        .unwrap();
        mi_heap_destroy(h);
        // The thread still allocates fine.
        let p = mi_malloc(100);
        assert!(!p.is_null());
        mi_free(p);
    }
}

#[test]
fn destroy_and_delete_of_the_backing_heap_keep_blocks_alive() {
    // api.md §5: destroying a heap without the no-reclaim flag behaves like delete, and
    // deleting the backing heap abandons its pages: blocks stay valid.
    for destroy in [false, true] {
        std::thread::spawn(move || unsafe {
            let backing = mi_heap_get_backing();
            let blocks: Vec<*mut c_void> = (0..100).map(|i| mi_malloc(10 + i * 13)).collect();
            for (i, &p) in blocks.iter().enumerate() {
                fill(p, 10 + i * 13, i as u8);
            }
            if destroy {
                mi_heap_destroy(backing);
            } else {
                mi_heap_delete(backing);
            }
            assert_eq!(
                mi_heap_get_backing(),
                backing,
                "the backing heap itself survives"
            );
            for (i, &p) in blocks.iter().enumerate() {
                assert!(
                    check(p, 10 + i * 13, i as u8),
                    "block lost after deleting the backing heap"
                );
            }
            // Allocation keeps working, freeing the old blocks too.
            let q = mi_malloc(64);
            assert!(!q.is_null());
            for p in blocks {
                mi_free(p);
            }
            mi_free(q);
        })
        .join()
        .unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Default and backing heaps
// ---------------------------------------------------------------------------------------

#[test]
fn set_default_redirects_plain_allocation() {
    std::thread::spawn(|| unsafe {
        let backing = mi_heap_get_backing();
        assert_eq!(
            mi_heap_get_default(),
            backing,
            "a fresh thread's default is its backing heap"
        );
        let h = mi_heap_new();
        let old = mi_heap_set_default(h);
        assert_eq!(old, backing);
        assert_eq!(mi_heap_get_default(), h);
        assert_eq!(
            mi_heap_get_backing(),
            backing,
            "set_default does not change the backing heap"
        );
        let p = mi_malloc(200);
        let q = mi_zalloc(300);
        let r = mi_calloc(10, 10);
        let s = mi_malloc_aligned(100, 256);
        for x in [p, q, r, s] {
            assert_in_heap(h, &[backing], x, "plain allocation with a new default heap");
        }
        // NULL: returns NULL and changes nothing.
        assert!(mi_heap_set_default(null_mut()).is_null());
        assert_eq!(mi_heap_get_default(), h);
        assert_eq!(mi_heap_set_default(backing), h);
        assert_eq!(mi_heap_get_default(), backing);
        let t = mi_malloc(200);
        assert_in_heap(
            backing,
            &[h],
            t,
            "plain allocation after restoring the default",
        );
        for x in [p, q, r, s, t] {
            mi_free(x);
        }
        mi_heap_delete(h);
    })
    .join()
    .unwrap();
}

#[test]
fn every_thread_has_its_own_backing_heap() {
    let main_backing = mi_heap_get_backing() as usize;
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let b = mi_heap_get_backing();
                assert_eq!(mi_heap_get_default(), b);
                assert_eq!(mi_heap_get_backing(), b, "stable within a thread");
                tx.send(b as usize).unwrap();
                // Keep the thread alive until all sent, so no heap memory is recycled.
                std::thread::sleep(std::time::Duration::from_millis(50));
            })
        })
        .collect();
    drop(tx);
    let mut seen: HashSet<usize> = rx.iter().collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(seen.len(), 4, "backing heaps of live threads must differ");
    assert!(
        seen.insert(main_backing),
        "a thread shares the test thread's backing heap"
    );
}

// ---------------------------------------------------------------------------------------
// mi_heap_collect
// ---------------------------------------------------------------------------------------

unsafe extern "C" fn count_areas(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    _size: usize,
    arg: *mut c_void,
) -> bool {
    if block.is_null() {
        let v = &mut *(arg as *mut (usize, usize));
        v.0 += 1;
        v.1 += (*area).used;
    }
    true
}
/// (areas, live blocks) of a heap.
unsafe fn heap_pages(h: *mut mi_heap_t) -> (usize, usize) {
    let mut v = (0usize, 0usize);
    mi_heap_visit_blocks(h, false, Some(count_areas), &mut v as *mut _ as *mut c_void);
    v
}

#[test]
fn collect_releases_the_pages_of_freed_blocks() {
    unsafe {
        let h = mi_heap_new();
        let mut blocks = Vec::new();
        for i in 0..3000usize {
            blocks.push(mi_heap_malloc(h, 8 + (i % 40) * 24));
        }
        blocks.push(mi_heap_malloc(h, 200 * KIB));
        blocks.push(mi_heap_malloc(h, 5 * MIB));
        let (areas, used) = heap_pages(h);
        assert!(areas >= 10, "expected many pages, got {areas}");
        assert_eq!(used, blocks.len());
        for p in blocks.drain(..) {
            mi_free(p);
        }
        mi_heap_collect(h, false);
        mi_heap_collect(h, true);
        let (areas, used) = heap_pages(h);
        assert_eq!(
            (areas, used),
            (0, 0),
            "pages left after freeing everything and mi_heap_collect(force)"
        );
        // The heap stays usable.
        let p = mi_heap_malloc(h, 100);
        assert!(mi_heap_contains_block(h, p));
        mi_free(p);
        mi_heap_collect(h, true);
        // Collecting the default and backing heaps works too.
        mi_heap_collect(mi_heap_get_default(), false);
        mi_heap_collect(mi_heap_get_backing(), true);
        mi_collect(false);
        mi_heap_delete(h);
    }
}

#[test]
fn collect_keeps_live_blocks() {
    unsafe {
        let h = mi_heap_new();
        let blocks: Vec<(*mut c_void, usize)> = (0..500usize)
            .map(|i| (mi_heap_malloc(h, 30 + i * 7), 30 + i * 7))
            .collect();
        for (i, &(p, n)) in blocks.iter().enumerate() {
            fill(p, n, i as u8);
        }
        for (i, &(p, _)) in blocks.iter().enumerate() {
            if i % 2 == 0 {
                mi_free(p);
            }
        }
        mi_heap_collect(h, true);
        for (i, &(p, n)) in blocks.iter().enumerate() {
            if i % 2 == 1 {
                assert!(
                    check(p, n, i as u8),
                    "live block damaged by mi_heap_collect"
                );
                assert!(mi_heap_contains_block(h, p));
            }
        }
        assert_eq!(heap_pages(h).1, 250);
        mi_heap_destroy(h);
    }
}

// ---------------------------------------------------------------------------------------
// Every mi_heap_* allocation function
// ---------------------------------------------------------------------------------------

#[test]
fn every_heap_allocation_function_allocates_from_its_heap() {
    unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        let other = mi_heap_new();
        let others = [backing, other];
        let mut all = Vec::new();
        macro_rules! got {
            ($p:expr, $what:expr) => {{
                let p = $p as *mut c_void;
                assert_in_heap(h, &others, p, $what);
                all.push(p);
                p
            }};
        }
        for &size in &SIZES {
            let p = got!(mi_heap_malloc(h, size), "mi_heap_malloc");
            assert!(mi_usable_size(p) >= size);
            let p = got!(mi_heap_zalloc(h, size), "mi_heap_zalloc");
            assert!(is_zero(p, size), "mi_heap_zalloc({size}) not zeroed");
            let p = got!(mi_heap_calloc(h, size, 1), "mi_heap_calloc");
            assert!(is_zero(p, size), "mi_heap_calloc({size}) not zeroed");
            let p = got!(mi_heap_mallocn(h, 1, size), "mi_heap_mallocn");
            assert!(mi_usable_size(p) >= size);
            for align in [16usize, 64, 4096] {
                let p = got!(
                    mi_heap_malloc_aligned(h, size, align),
                    "mi_heap_malloc_aligned"
                );
                assert!(aligned(p, align));
                let p = got!(
                    mi_heap_malloc_aligned_at(h, size + 16, align, 16),
                    "mi_heap_malloc_aligned_at"
                );
                assert!(aligned((p as *mut u8).add(16) as *const c_void, align));
                let p = got!(
                    mi_heap_zalloc_aligned(h, size, align),
                    "mi_heap_zalloc_aligned"
                );
                assert!(aligned(p, align) && is_zero(p, size));
                let p = got!(
                    mi_heap_zalloc_aligned_at(h, size + 8, align, 8),
                    "mi_heap_zalloc_aligned_at"
                );
                assert!(
                    aligned((p as *mut u8).add(8) as *const c_void, align) && is_zero(p, size + 8)
                );
                let p = got!(
                    mi_heap_calloc_aligned(h, size, 1, align),
                    "mi_heap_calloc_aligned"
                );
                assert!(aligned(p, align) && is_zero(p, size));
                let p = got!(
                    mi_heap_calloc_aligned_at(h, 1, size + 32, align, 32),
                    "mi_heap_calloc_aligned_at"
                );
                assert!(
                    aligned((p as *mut u8).add(32) as *const c_void, align)
                        && is_zero(p, size + 32)
                );
            }
            for p in all.drain(..) {
                mi_free(p);
            }
        }
        for &size in &SIZES[..8] {
            let p = got!(
                mi_heap_malloc_small(h, size.min(1024)),
                "mi_heap_malloc_small"
            );
            assert!(mi_usable_size(p) >= size.min(1024));
        }
        for p in all.drain(..) {
            mi_free(p);
        }

        // Re-allocation: contents kept, the moved block lands in `h`.
        let mut p = mi_heap_malloc(h, 10);
        fill(p, 10, 1);
        let mut n = 10;
        for &size in &SIZES[2..] {
            p = mi_heap_realloc(h, p, size);
            assert_in_heap(h, &others, p, "mi_heap_realloc");
            assert!(check(p, n.min(size), 1), "mi_heap_realloc lost contents");
            fill(p, size, 1);
            n = size;
        }
        p = mi_heap_reallocn(h, p, 100, 30);
        assert_in_heap(h, &others, p, "mi_heap_reallocn");
        assert!(check(p, 3000, 1));
        p = mi_heap_reallocf(h, p, 5000);
        assert_in_heap(h, &others, p, "mi_heap_reallocf");
        assert!(check(p, 3000, 1));
        for align in [32usize, 128, 8192] {
            let base = 4000 * align.trailing_zeros() as usize;
            p = mi_heap_realloc_aligned_at(h, p, base + 6000, align, 0);
            assert_in_heap(h, &others, p, "mi_heap_realloc_aligned_at");
            assert!(
                aligned(p, align),
                "mi_heap_realloc_aligned_at(.., {align}, 0): {p:p}"
            );
            assert!(
                check(p, 3000, 1),
                "mi_heap_realloc_aligned_at lost contents"
            );
            p = mi_heap_realloc_aligned(h, p, base + 9000, align);
            assert_in_heap(h, &others, p, "mi_heap_realloc_aligned");
            assert!(
                aligned(p, align),
                "mi_heap_realloc_aligned(.., {align}): {p:p}"
            );
            assert!(check(p, 3000, 1), "mi_heap_realloc_aligned lost contents");
            p = mi_heap_realloc_aligned_at(h, p, base + 12000, align, 16);
            assert_in_heap(h, &others, p, "mi_heap_realloc_aligned_at");
            assert!(
                aligned((p as *mut u8).add(16) as *const c_void, align),
                "mi_heap_realloc_aligned_at(.., {align}, 16): {p:p}"
            );
            assert!(
                check(p, 3000, 1),
                "mi_heap_realloc_aligned_at lost contents"
            );
            // mi_realloc_aligned takes `offset = old p % alignment` and applies
            // mi_realloc_aligned_at semantics (api.md §4): `new p + offset` is aligned.
            let offset = p as usize % align;
            p = mi_heap_realloc_aligned(h, p, base + 15000, align);
            assert_in_heap(h, &others, p, "mi_heap_realloc_aligned");
            assert!(
                aligned((p as *mut u8).add(offset) as *const c_void, align),
                "mi_heap_realloc_aligned(.., {align}): {p:p} + {offset} not aligned"
            );
            assert!(check(p, 3000, 1), "mi_heap_realloc_aligned lost contents");
        }
        mi_free(p);

        // Zeroing re-allocation into the heap (api.md §6), each from a fresh zeroed
        // block (chains of them: `rezalloc_chains_stay_zero`).
        let z = |n: usize| mi_heap_zalloc(h, n);
        let p = mi_heap_rezalloc(h, z(100), 5000);
        assert_in_heap(h, &others, p, "mi_heap_rezalloc");
        assert!(is_zero(p, 5000));
        mi_free(p);
        let p = mi_heap_recalloc(h, z(100), 100, 100);
        assert_in_heap(h, &others, p, "mi_heap_recalloc");
        assert!(is_zero(p, 10000));
        mi_free(p);
        // The non-`_at` aligned re-allocations use `offset = old p % alignment`
        // (api.md §4, §6).
        let q = mi_heap_zalloc_aligned(h, 100, 256);
        let p = mi_heap_rezalloc_aligned(h, q, 20000, 256);
        assert_in_heap(h, &others, p, "mi_heap_rezalloc_aligned");
        assert!(aligned(p, 256) && is_zero(p, 20000));
        mi_free(p);
        let p = mi_heap_rezalloc_aligned_at(h, z(100), 30000, 256, 8);
        assert_in_heap(h, &others, p, "mi_heap_rezalloc_aligned_at");
        assert!(aligned((p as *mut u8).add(8) as *const c_void, 256) && is_zero(p, 30000));
        mi_free(p);
        let q = mi_heap_zalloc_aligned(h, 100, 512);
        let p = mi_heap_recalloc_aligned(h, q, 400, 100, 512);
        assert_in_heap(h, &others, p, "mi_heap_recalloc_aligned");
        assert!(aligned(p, 512) && is_zero(p, 40000));
        mi_free(p);
        let p = mi_heap_recalloc_aligned_at(h, z(100), 500, 100, 512, 24);
        assert_in_heap(h, &others, p, "mi_heap_recalloc_aligned_at");
        assert!(aligned((p as *mut u8).add(24) as *const c_void, 512) && is_zero(p, 50000));
        mi_free(p);

        // Strings.
        let s = mi_heap_strdup(h, c"hello heap".as_ptr());
        got!(s, "mi_heap_strdup");
        assert_eq!(CStr::from_ptr(s), c"hello heap");
        let s = mi_heap_strndup(h, c"hello heap".as_ptr(), 5);
        got!(s, "mi_heap_strndup");
        assert_eq!(CStr::from_ptr(s), c"hello");
        let s = mi_heap_strndup(h, c"abc".as_ptr(), 100);
        got!(s, "mi_heap_strndup (n > len)");
        assert_eq!(CStr::from_ptr(s), c"abc");
        assert!(mi_heap_strdup(h, null()).is_null());
        assert!(mi_heap_strndup(h, null(), 4).is_null());
        let r = mi_heap_realpath(h, c".".as_ptr(), null_mut());
        got!(r, "mi_heap_realpath");
        let expect = std::fs::canonicalize(".").unwrap();
        assert_eq!(
            CStr::from_ptr(r).to_str().unwrap(),
            expect.to_str().unwrap()
        );
        // With a caller buffer the result is written there (nothing is allocated).
        let mut buf = vec![0 as c_char; libc::PATH_MAX as usize + 1];
        let r2 = mi_heap_realpath(h, c".".as_ptr(), buf.as_mut_ptr());
        assert_eq!(r2, buf.as_mut_ptr());
        assert_eq!(
            CStr::from_ptr(r2).to_str().unwrap(),
            expect.to_str().unwrap()
        );

        #[cfg(not(feature = "c_shim"))]
        {
            let p = got!(mi_heap_alloc_new(h, 500), "mi_heap_alloc_new");
            assert!(mi_usable_size(p) >= 500);
            let p = got!(mi_heap_alloc_new_n(h, 50, 12), "mi_heap_alloc_new_n");
            assert!(mi_usable_size(p) >= 600);
        }
        for p in all.drain(..) {
            mi_free(p);
        }
        mi_heap_delete(other);
        mi_heap_destroy(h);
    }
}

#[test]
fn heap_allocation_overflow_and_too_large_requests_fail_cleanly() {
    unsafe {
        let h = mi_heap_new();
        set_errno(0);
        assert!(mi_heap_calloc(h, usize::MAX / 2, 3).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(mi_heap_mallocn(h, usize::MAX / 2, 3).is_null());
        assert!(mi_heap_calloc_aligned(h, usize::MAX / 2, 3, 64).is_null());
        assert!(mi_heap_calloc_aligned_at(h, usize::MAX / 2, 3, 64, 8).is_null());
        set_errno(0);
        assert!(mi_heap_malloc(h, usize::MAX / 2).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        assert!(mi_heap_zalloc(h, usize::MAX - 64).is_null());
        assert!(mi_heap_malloc_aligned(h, usize::MAX / 2, 64).is_null());
        // A failed re-allocation leaves the block alone ...
        let p = mi_heap_malloc(h, 100);
        fill(p, 100, 9);
        assert!(mi_heap_realloc(h, p, usize::MAX / 2).is_null());
        assert!(mi_heap_reallocn(h, p, usize::MAX / 2, 3).is_null());
        assert!(check(p, 100, 9) && mi_heap_contains_block(h, p));
        // ... except mi_heap_reallocf, which frees it (not observable beyond not crashing).
        assert!(mi_heap_reallocf(h, p, usize::MAX / 2).is_null());
        // Size 0 gives a unique small block.
        let z = mi_heap_malloc(h, 0);
        let z2 = mi_heap_malloc(h, 0);
        assert!(!z.is_null() && !z2.is_null() && z != z2);
        assert!(mi_heap_contains_block(h, z));
        mi_free(z);
        mi_free(z2);
        mi_heap_destroy(h);
    }
}

#[test]
fn huge_alignment_in_a_heap() {
    unsafe {
        // api.md §4 / test-api.c `malloc_aligned11`.
        let h = mi_heap_new();
        let p = mi_heap_malloc_aligned(h, 33554426, 8);
        assert!(!p.is_null());
        assert!(mi_heap_contains_block(h, p));
        let q = mi_heap_malloc_aligned(h, 1000, 32 * MIB);
        assert!(!q.is_null() && aligned(q, 32 * MIB));
        assert!(mi_heap_contains_block(h, q));
        mi_heap_destroy(h);
    }
}

/// Fill and free `count` blocks of `size` bytes in `h`, so that the next blocks of that
/// size class come back dirty.
unsafe fn dirty_blocks(h: *mut mi_heap_t, size: usize, count: usize) {
    let v: Vec<_> = (0..count).map(|_| mi_heap_malloc(h, size)).collect();
    for &p in &v {
        std::ptr::write_bytes(p as *mut u8, 0xEE, mi_usable_size(p));
    }
    for p in v {
        mi_free(p);
    }
}

#[test]
fn rezalloc_chains_stay_zero() {
    // api.md §6: a block from a previous mi_rezalloc is zero-initialised, so growing it
    // again with mi_rezalloc must give zeros everywhere. The first re-allocation zeroes
    // its new block only up to the requested size; the bytes between that and the block's
    // usable size are copied along by the second one unless they were zeroed too (the
    // hole upstream fixed after 2.1.7 by zeroing up to the usable size, mimalloc #763).
    unsafe {
        let h = mi_heap_new();
        for size in [5000usize, 10_000, 20_000] {
            dirty_blocks(h, size, 64);
        }
        let p = mi_heap_zalloc(h, 100);
        let p = mi_heap_rezalloc(h, p, 5000);
        assert!(is_zero(p, 5000));
        let u = mi_usable_size(p);
        let p = mi_heap_rezalloc(h, p, 10_000);
        let bad = (0..10_000)
            .filter(|&i| *(p as *const u8).add(i) != 0)
            .count();
        assert_eq!(
            bad, 0,
            "mi_heap_rezalloc(rezalloc'ed 5000-byte block, usable {u}) → 10000: {bad} non-zero bytes"
        );
        let p = mi_heap_recalloc(h, p, 2, 10_000);
        assert!(is_zero(p, 20_000), "second growth");
        mi_free(p);

        // The same through the aligned forms.
        for size in [5000usize, 10_000, 20_000] {
            dirty_blocks(h, size, 64);
        }
        let p = mi_heap_zalloc_aligned(h, 100, 64);
        let p = mi_heap_rezalloc_aligned(h, p, 5000, 64);
        assert!(is_zero(p, 5000));
        let p = mi_heap_rezalloc_aligned(h, p, 10_000, 64);
        let bad = (0..10_000)
            .filter(|&i| *(p as *const u8).add(i) != 0)
            .count();
        assert_eq!(
            bad, 0,
            "mi_heap_rezalloc_aligned chain: {bad} non-zero bytes"
        );
        mi_free(p);
        mi_heap_destroy(h);
    }
}

// ---------------------------------------------------------------------------------------
// mi_heap_contains_block / mi_heap_check_owned / mi_check_owned
// ---------------------------------------------------------------------------------------

#[test]
fn contains_block_and_check_owned() {
    unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        let empty = mi_heap_new();
        let p = mi_heap_malloc(h, 100) as *mut u8;
        let big = mi_heap_malloc(h, 20 * MIB) as *mut u8;
        let d = mi_malloc(100) as *mut u8; // default heap (= backing on this thread)
        assert_eq!(mi_heap_get_default(), backing);

        assert!(mi_heap_contains_block(h, p as *const c_void));
        assert!(mi_heap_contains_block(h, p.add(99) as *const c_void));
        assert!(mi_heap_contains_block(
            h,
            big.add(20 * MIB - 1) as *const c_void
        ));
        assert!(!mi_heap_contains_block(backing, p as *const c_void));
        assert!(!mi_heap_contains_block(empty, p as *const c_void));
        assert!(!mi_heap_contains_block(h, d as *const c_void));
        assert!(mi_heap_contains_block(backing, d as *const c_void));
        assert!(!mi_heap_contains_block(h, null()));
        assert!(!mi_heap_contains_block(null_mut(), p as *const c_void));

        assert!(mi_heap_check_owned(h, p as *const c_void));
        assert!(
            mi_heap_check_owned(h, p.add(PTR) as *const c_void),
            "aligned interior pointer"
        );
        assert!(
            !mi_heap_check_owned(h, p.add(1) as *const c_void),
            "unaligned pointer"
        );
        assert!(mi_heap_check_owned(h, big as *const c_void));
        assert!(mi_heap_check_owned(h, big.add(10 * MIB) as *const c_void));
        assert!(!mi_heap_check_owned(backing, p as *const c_void));
        assert!(
            !mi_heap_check_owned(empty, p as *const c_void),
            "a heap without pages owns nothing"
        );
        assert!(!mi_heap_check_owned(h, d as *const c_void));
        assert!(!mi_heap_check_owned(null_mut(), p as *const c_void));
        assert!(!mi_heap_check_owned(h, null()));
        // Arbitrary foreign pointers are safe to ask about.
        let local = 0u64;
        assert!(!mi_heap_check_owned(
            h,
            &local as *const u64 as *const c_void
        ));
        let sys = libc::malloc(64);
        assert!(!mi_heap_check_owned(h, sys));
        // (with `override`, libc's malloc is ours and the default heap owns the block)
        assert_eq!(mi_check_owned(sys), cfg!(feature = "override"));
        libc::free(sys);
        assert!(!mi_check_owned(&local as *const u64 as *const c_void));

        // mi_check_owned uses the default heap.
        assert!(mi_check_owned(d as *const c_void));
        assert!(!mi_check_owned(p as *const c_void));
        // A freed block still lies in the initialised part of the heap's page.
        let q = mi_heap_malloc(h, 100);
        mi_free(q);
        assert!(mi_heap_check_owned(h, q));

        mi_free(d as *mut c_void);
        mi_heap_delete(empty);
        mi_heap_destroy(h);
    }
}

#[test]
fn check_owned_follows_the_default_heap() {
    std::thread::spawn(|| unsafe {
        let h = mi_heap_new();
        let p = mi_heap_malloc(h, 64);
        assert!(!mi_check_owned(p));
        let old = mi_heap_set_default(h);
        assert!(mi_check_owned(p));
        mi_heap_set_default(old);
        assert!(!mi_check_owned(p));
        mi_heap_destroy(h);
    })
    .join()
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Threads: the owner allocates, anyone frees
// ---------------------------------------------------------------------------------------

#[test]
fn owner_allocates_while_other_threads_free() {
    unsafe {
        let h = mi_heap_new();
        let (txs, handles): (Vec<_>, Vec<_>) = (0..3)
            .map(|t| {
                let (tx, rx) = mpsc::channel::<Vec<(usize, usize, u8)>>();
                let handle = std::thread::spawn(move || {
                    let mut n = 0usize;
                    for batch in rx {
                        for (p, size, seed) in batch {
                            assert!(
                                check(p as *const c_void, size, seed),
                                "thread {t}: block changed before its free"
                            );
                            mi_free(p as *mut c_void);
                            n += 1;
                        }
                    }
                    n
                });
                (tx, handle)
            })
            .unzip();
        let mut kept = Vec::new();
        let mut sent = 0;
        for round in 0..40usize {
            let mut batches = vec![Vec::new(), Vec::new(), Vec::new()];
            for i in 0..300usize {
                let size = 8 + (round * 31 + i * 17) % 2000;
                let p = mi_heap_malloc(h, size);
                assert!(!p.is_null());
                assert!(mi_heap_contains_block(h, p));
                let seed = (round + i) as u8;
                fill(p, size, seed);
                if i % 4 == 3 {
                    kept.push((p as usize, size, seed));
                } else {
                    batches[i % 3].push((p as usize, size, seed));
                    sent += 1;
                }
            }
            // Big blocks freed remotely too.
            let big = mi_heap_malloc(h, 1 * MIB + round * 4096);
            fill(big, 1 * MIB, 3);
            batches[round % 3].push((big as usize, 1 * MIB, 3));
            sent += 1;
            for (tx, b) in txs.iter().zip(batches) {
                tx.send(b).unwrap();
            }
            // Meanwhile the owner keeps collecting the remote frees.
            if round % 8 == 0 {
                mi_heap_collect(h, false);
            }
        }
        drop(txs);
        let freed: usize = handles.into_iter().map(|j| j.join().unwrap()).sum();
        assert_eq!(freed, sent);
        for &(p, size, seed) in &kept {
            assert!(
                check(p as *const c_void, size, seed),
                "a kept block was damaged"
            );
        }
        // Only the kept blocks are live in the heap.
        mi_heap_collect(h, false);
        assert_eq!(heap_pages(h).1, kept.len());
        for (p, _, _) in kept {
            mi_free(p as *mut c_void);
        }
        mi_heap_collect(h, true);
        assert_eq!(heap_pages(h), (0, 0));
        mi_heap_delete(h);
    }
}

#[test]
fn blocks_of_a_heap_outlive_their_thread() {
    // The thread creates a heap and exits without deleting it: mi_thread_done deletes
    // the heap (its blocks move to the backing heap, which is then abandoned). Another
    // thread frees the blocks afterwards.
    let blocks: Vec<(usize, usize)> = std::thread::spawn(|| unsafe {
        let h = mi_heap_new();
        let v: Vec<(usize, usize)> = (0..2000usize)
            .map(|i| {
                let size = 16 + (i * 53) % 5000;
                let p = mi_heap_malloc(h, size);
                fill(p, size, i as u8);
                (p as usize, size)
            })
            .collect();
        let big = mi_heap_malloc(h, 24 * MIB);
        fill(big, 24 * MIB, 0);
        let mut v = v;
        v.push((big as usize, 24 * MIB));
        v
    })
    .join()
    .unwrap();
    unsafe {
        let n = blocks.len();
        for (i, &(p, size)) in blocks.iter().enumerate() {
            let seed = if i == n - 1 { 0 } else { i as u8 };
            assert!(
                check(p as *const c_void, size, seed),
                "block damaged after its thread exited"
            );
        }
        for (p, _) in blocks {
            mi_free(p as *mut c_void);
        }
        let p = mi_malloc(1000);
        assert!(!p.is_null());
        mi_free(p);
    }
}
