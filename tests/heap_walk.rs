//! Heap walking (api.md §7): `mi_heap_visit_blocks` and the fields of `mi_heap_area_t`.
//!
//! Rules checked (api.md §7, internals.md §4.1/§5): one area per page; `blocks` = first
//! block address; `reserved` = blocks that fit × full block size; `committed` = capacity ×
//! full block size; `used` = number of live blocks; `block_size` = usable block size
//! (full size minus padding); the visitor sees every area once with `block == NULL`, and
//! with `visit_all_blocks` every live block exactly once (free blocks, including those
//! freed by other threads, are skipped); returning false stops the walk; the result is
//! false for a stopped walk, an empty heap and a NULL heap.
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

mod common;
use common::{KIB, MIB, PAD};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::c_void;
use std::ptr::null_mut;

use mimalloc::capi::*;

/// Size of a small page (one 64 KiB slice) and of a medium page (8 slices).
const SMALL_PAGE: usize = 64 * KIB;
const MEDIUM_PAGE: usize = 512 * KIB;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Area {
    blocks: usize,
    reserved: usize,
    committed: usize,
    used: usize,
    block_size: usize,
    full_block_size: usize,
}

/// What a walk saw.
#[derive(Default, Debug)]
struct Walk {
    heap: usize,
    areas: Vec<Area>,
    /// (block address, block_size argument, index of its area)
    blocks: Vec<(usize, usize, usize)>,
    /// Area calls whose `block_size` argument differed from `area.block_size`.
    bad_area_size_arg: usize,
    /// Calls with a heap argument other than the walked heap.
    bad_heap_arg: usize,
    /// Stop (return false) after this many calls, if set.
    stop_after: Option<usize>,
    calls: usize,
}

unsafe extern "C" fn record(
    heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    block_size: usize,
    arg: *mut c_void,
) -> bool {
    let w = &mut *(arg as *mut Walk);
    w.calls += 1;
    if heap as usize != w.heap {
        w.bad_heap_arg += 1;
    }
    let a = &*area;
    let area = Area {
        blocks: a.blocks as usize,
        reserved: a.reserved,
        committed: a.committed,
        used: a.used,
        block_size: a.block_size,
        full_block_size: a.full_block_size,
    };
    if block.is_null() {
        if block_size != area.block_size {
            w.bad_area_size_arg += 1;
        }
        w.areas.push(area);
    } else {
        let idx = w.areas.len().wrapping_sub(1);
        w.blocks.push((block as usize, block_size, idx));
    }
    match w.stop_after {
        Some(n) => w.calls < n,
        None => true,
    }
}

unsafe fn walk(heap: *mut mi_heap_t, all: bool) -> (bool, Walk) {
    walk_stop(heap, all, None)
}
unsafe fn walk_stop(heap: *mut mi_heap_t, all: bool, stop_after: Option<usize>) -> (bool, Walk) {
    let mut w = Walk {
        heap: heap as usize,
        stop_after,
        ..Walk::default()
    };
    let r = mi_heap_visit_blocks(heap, all, Some(record), &mut w as *mut Walk as *mut c_void);
    (r, w)
}

/// The structural rules every area must obey.
fn check_area(a: &Area) {
    assert!(a.blocks != 0, "{a:?}: no block start");
    assert!(a.full_block_size > 0, "{a:?}");
    assert_eq!(
        a.reserved % a.full_block_size,
        0,
        "{a:?}: reserved is not a multiple of the full block size"
    );
    assert_eq!(
        a.committed % a.full_block_size,
        0,
        "{a:?}: committed is not a multiple of the full block size"
    );
    assert!(a.committed <= a.reserved, "{a:?}: committed > reserved");
    assert!(
        a.used * a.full_block_size <= a.committed,
        "{a:?}: more used blocks than initialised"
    );
    assert!(a.block_size <= a.full_block_size, "{a:?}");
    if a.full_block_size <= 128 * KIB {
        // Size-class pages: padding is the only difference.
        assert_eq!(
            a.block_size + PAD,
            a.full_block_size,
            "{a:?}: block_size must be the full size minus padding"
        );
        let page = if a.full_block_size <= 16 * KIB {
            SMALL_PAGE
        } else {
            MEDIUM_PAGE
        };
        assert!(a.reserved <= page, "{a:?}: reserved exceeds the page size");
        assert!(
            a.reserved + a.full_block_size > page - page / 4,
            "{a:?}: a page should be mostly usable"
        );
    } else {
        // Large and huge pages hold one block.
        assert_eq!(
            a.reserved, a.full_block_size,
            "{a:?}: a large/huge page holds one block"
        );
        assert_eq!(a.committed, a.reserved, "{a:?}");
        assert!(a.used <= 1, "{a:?}");
    }
}

/// `p` lies in the visited block `b` of size `bs` (aligned blocks: `p` may be interior).
fn find_block(blocks: &BTreeMap<usize, usize>, p: usize) -> Option<usize> {
    blocks
        .range(..=p)
        .next_back()
        .filter(|(&b, &bs)| p < b + bs.max(1))
        .map(|(&b, _)| b)
}

// ---------------------------------------------------------------------------------------

#[test]
fn area_fields_of_the_api_md_example() {
    unsafe {
        // api.md §7: two 40-byte blocks and one 100000-byte block.
        let h = mi_heap_new();
        let a = mi_heap_malloc(h, 40);
        let b = mi_heap_malloc(h, 40);
        let c = mi_heap_malloc(h, 100_000);
        assert!(!a.is_null() && !b.is_null() && !c.is_null());
        let (r, w) = walk(h, true);
        assert!(r, "a complete walk returns true");
        assert_eq!(w.areas.len(), 2, "{:?}", w.areas);
        assert_eq!(w.bad_area_size_arg, 0);
        assert_eq!(w.bad_heap_arg, 0);
        let small = w
            .areas
            .iter()
            .find(|a| a.full_block_size == 48)
            .expect("48-byte area");
        let medium = w
            .areas
            .iter()
            .find(|a| a.full_block_size == 114_688)
            .expect("114688-byte area");
        // Small page: 48-byte blocks; the start is aligned to 48 and moved 3 blocks in, so
        // 1361 or 1362 blocks fit in the 64 KiB slice (65328 bytes in api.md's run); the
        // first extension initialises 4096/48 = 85 blocks (4080 bytes).
        assert_eq!(small.used, 2);
        assert_eq!(small.block_size, 48 - PAD, "release 48, padding builds 40");
        assert!(
            small.reserved == 1361 * 48 || small.reserved == 1362 * 48,
            "reserved = {} (expected 65328 or 65376)",
            small.reserved
        );
        assert_eq!(small.committed, 4080);
        assert_eq!(
            small.blocks % 48,
            0,
            "small-block page start is aligned to the block size"
        );
        // Medium page: 114688-byte blocks in a 512 KiB page (3 fit in api.md's run; the
        // count depends on where the start lands after aligning it to the block size).
        assert_eq!(medium.used, 1);
        assert_eq!(medium.block_size, 114_688 - PAD);
        assert!(
            medium.reserved >= 3 * 114_688 && medium.reserved <= 4 * 114_688,
            "{medium:?}"
        );
        assert_eq!(medium.committed, medium.reserved, "{medium:?}");
        // Blocks: exactly the three live ones, with the usable size.
        let mut got: Vec<(usize, usize)> = w.blocks.iter().map(|&(p, s, _)| (p, s)).collect();
        got.sort();
        let mut want = vec![
            (a as usize, 48 - PAD),
            (b as usize, 48 - PAD),
            (c as usize, 114_688 - PAD),
        ];
        want.sort();
        assert_eq!(got, want);
        for area in &w.areas {
            check_area(area);
        }
        mi_heap_destroy(h);
    }
}

#[test]
fn every_live_block_is_visited_exactly_once() {
    unsafe {
        let h = mi_heap_new();
        // (user pointer, requested size)
        let mut live: Vec<(usize, usize)> = Vec::new();
        let mut freed = 0;
        for i in 0..6000usize {
            let size = match i % 10 {
                0..=5 => 1 + (i * 7) % 1024,
                6 | 7 => 1025 + (i * 131) % (127 * KIB),
                8 => 8,
                _ => 200 * KIB + (i % 5) * 100 * KIB,
            };
            let p = mi_heap_malloc(h, size);
            assert!(!p.is_null());
            live.push((p as usize, size));
        }
        // Free a third, scattered.
        let mut kept = Vec::new();
        for (i, (p, s)) in live.into_iter().enumerate() {
            if i % 3 == 1 {
                mi_free(p as *mut c_void);
                freed += 1;
            } else {
                kept.push((p, s));
            }
        }
        assert!(freed > 0);
        let mut live = kept;

        // Aligned blocks: the visited block is the underlying block, the user pointer may
        // be inside it.
        for align in [64usize, 4096, 64 * KIB, MIB] {
            for k in 0..4 {
                let p = mi_heap_malloc_aligned(h, 100 + k * 3000, align);
                assert!(!p.is_null() && p as usize % align == 0);
                live.push((p as usize, 100 + k * 3000));
            }
        }
        // Huge blocks (own segments), also with a huge alignment.
        for size in [17 * MIB, 40 * MIB] {
            let p = mi_heap_malloc(h, size);
            assert!(!p.is_null());
            live.push((p as usize, size));
        }
        let p = mi_heap_malloc_aligned(h, 5000, 64 * MIB);
        assert!(!p.is_null());
        live.push((p as usize, 5000));
        let (r, w) = walk(h, true);
        assert!(r);
        assert_eq!(w.bad_area_size_arg, 0);
        assert_eq!(w.bad_heap_arg, 0);
        for a in &w.areas {
            check_area(a);
        }
        // Areas are distinct pages.
        let mut starts: Vec<usize> = w.areas.iter().map(|a| a.blocks).collect();
        starts.sort();
        starts.dedup();
        assert_eq!(starts.len(), w.areas.len(), "a page was visited twice");
        // Blocks: no duplicates, each inside its area, with the area's block size.
        let mut visited: BTreeMap<usize, usize> = BTreeMap::new();
        let mut per_area: HashMap<usize, usize> = HashMap::new();
        for &(b, bs, ai) in &w.blocks {
            assert!(ai < w.areas.len(), "a block was visited before any area");
            let a = &w.areas[ai];
            assert_eq!(bs, a.block_size, "block_size argument of a block visit");
            assert!(
                b >= a.blocks && b + a.full_block_size <= a.blocks + a.committed,
                "block {b:#x} outside its area {a:?}"
            );
            assert_eq!(
                (b - a.blocks) % a.full_block_size,
                0,
                "block {b:#x} not at a block boundary of {a:?}"
            );
            assert!(
                visited.insert(b, bs).is_none(),
                "block {b:#x} visited twice"
            );
            *per_area.entry(ai).or_default() += 1;
        }
        // The area's `used` equals the number of blocks visited in it.
        for (ai, a) in w.areas.iter().enumerate() {
            assert_eq!(
                per_area.get(&ai).copied().unwrap_or(0),
                a.used,
                "used of {a:?}"
            );
        }
        // Every live block maps to exactly one visited block; the counts match.
        let mut hit: HashMap<usize, usize> = HashMap::new();
        for &(p, size) in &live {
            let b = find_block(&visited, p)
                .unwrap_or_else(|| panic!("live block {p:#x} ({size} bytes) not visited"));
            assert!(
                p + size <= b + visited[&b],
                "block {p:#x}+{size} exceeds the visited block"
            );
            *hit.entry(b).or_default() += 1;
        }
        assert!(
            hit.values().all(|&n| n == 1),
            "two live blocks in one visited block"
        );
        assert_eq!(visited.len(), live.len(), "visited blocks != live blocks");
        // Huge blocks were seen.
        assert!(
            w.areas.iter().any(|a| a.full_block_size >= 40 * MIB),
            "the 40 MiB block's area is missing"
        );
        assert!(
            w.areas
                .iter()
                .filter(|a| a.full_block_size > 16 * MIB)
                .count()
                >= 3
        );

        // Without visit_all_blocks: the same areas, no blocks.
        let (r2, w2) = walk(h, false);
        assert!(r2);
        assert!(w2.blocks.is_empty());
        assert_eq!(w2.areas.len(), w.areas.len());
        mi_heap_destroy(h);
    }
}

#[test]
fn blocks_freed_by_other_threads_are_not_visited() {
    unsafe {
        let h = mi_heap_new();
        let blocks: Vec<usize> = (0..1000)
            .map(|i| mi_heap_malloc(h, 24 + (i % 4) * 8) as usize)
            .collect();
        let (gone, stay): (Vec<usize>, Vec<usize>) =
            blocks.iter().copied().partition(|&p| (p / 16) % 2 == 0);
        let remote = gone.clone();
        std::thread::spawn(move || {
            for p in remote {
                mi_free(p as *mut c_void);
            }
        })
        .join()
        .unwrap();
        let (r, w) = walk(h, true);
        assert!(r);
        let gone: HashSet<usize> = gone.into_iter().collect();
        let seen: HashSet<usize> = w.blocks.iter().map(|b| b.0).collect();
        let zombies: Vec<usize> = seen.iter().copied().filter(|p| gone.contains(p)).collect();
        assert!(
            zombies.is_empty(),
            "{} block(s) freed by another thread were visited as live ({} areas): {:x?}",
            zombies.len(),
            w.areas.len(),
            zombies
        );
        assert!(
            stay.iter().all(|p| seen.contains(p)),
            "a live block was not visited"
        );
        assert_eq!(seen.len(), stay.len());
        assert_eq!(
            w.areas.iter().map(|a| a.used).sum::<usize>(),
            stay.len(),
            "area.used counts freed blocks"
        );
        mi_heap_destroy(h);
    }
}

#[test]
fn the_walk_stops_when_the_visitor_returns_false() {
    unsafe {
        let h = mi_heap_new();
        for i in 0..3000usize {
            assert!(!mi_heap_malloc(h, 16 + (i % 50) * 40).is_null());
        }
        let (_, full) = walk(h, true);
        let total = full.calls;
        assert!(total > 3000);
        for n in [1usize, 2, 10, 1500, total - 1] {
            let (r, w) = walk_stop(h, true, Some(n));
            assert!(!r, "a stopped walk returns false (stopped after {n} calls)");
            assert_eq!(
                w.calls, n,
                "the visitor was called again after returning false"
            );
        }
        // Stopping at the very last call still reports false.
        let (r, w) = walk_stop(h, true, Some(total));
        assert!(!r);
        assert_eq!(w.calls, total);
        // Area-only walk stopped at the first area.
        let (r, w) = walk_stop(h, false, Some(1));
        assert!(!r);
        assert_eq!((w.calls, w.areas.len()), (1, 1));
        mi_heap_destroy(h);
    }
}

#[test]
fn empty_and_null_heaps_walk_to_false() {
    unsafe {
        let h = mi_heap_new();
        let (r, w) = walk(h, true);
        assert!(!r, "an empty heap walks to false (api.md §7)");
        assert_eq!(w.calls, 0);
        // After freeing everything and a forced collect the heap is empty again.
        let ps: Vec<_> = (0..100).map(|_| mi_heap_malloc(h, 100)).collect();
        let big = mi_heap_malloc(h, 20 * MIB);
        assert!(walk(h, false).0);
        for p in ps {
            mi_free(p);
        }
        mi_free(big);
        mi_heap_collect(h, true);
        let (r, w) = walk(h, true);
        assert!(!r && w.calls == 0, "{w:?}");
        mi_heap_delete(h);
        // NULL heap.
        let mut w = Walk::default();
        assert!(!mi_heap_visit_blocks(
            null_mut(),
            true,
            Some(record),
            &mut w as *mut Walk as *mut c_void
        ));
        assert_eq!(w.calls, 0);
    }
}

#[test]
fn walking_the_backing_heap_after_delete_finds_the_migrated_blocks() {
    std::thread::spawn(|| unsafe {
        let backing = mi_heap_get_backing();
        let h = mi_heap_new();
        let mine: Vec<usize> = (0..500)
            .map(|i| mi_heap_malloc(h, 50 + i) as usize)
            .collect();
        let big = mi_heap_malloc(h, 30 * MIB) as usize;
        let (_, before) = walk(backing, true);
        let before: std::collections::HashSet<usize> = before.blocks.iter().map(|b| b.0).collect();
        assert!(mine.iter().all(|p| !before.contains(p)));
        mi_heap_delete(h);
        let (r, after) = walk(backing, true);
        assert!(r);
        let after: std::collections::HashSet<usize> = after.blocks.iter().map(|b| b.0).collect();
        for p in mine.iter().chain([&big]) {
            assert!(
                after.contains(p),
                "migrated block {p:#x} not found in the backing heap walk"
            );
        }
        for p in mine {
            mi_free(p as *mut c_void);
        }
        mi_free(big as *mut c_void);
    })
    .join()
    .unwrap();
}

#[test]
fn the_visitor_receives_its_argument_and_the_heap() {
    unsafe {
        let h = mi_heap_new();
        let p = mi_heap_malloc(h, 77);
        let (_, w) = walk(h, true);
        assert_eq!(
            w.bad_heap_arg, 0,
            "the visitor's heap argument must be the walked heap"
        );
        assert_eq!(w.blocks.len(), 1);
        assert_eq!(w.blocks[0].0, p as usize);
        mi_heap_destroy(h);
    }
}
