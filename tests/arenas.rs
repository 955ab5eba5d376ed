//! Arenas (api.md §7): `mi_reserve_os_memory(_ex)`, `mi_manage_os_memory(_ex)` on memory
//! the test maps itself, exclusive arenas with `mi_heap_new_in_arena` (blocks come from
//! inside the arena; exhaustion fails with NULL and `ENOMEM`, no fallback to other arenas
//! or the OS), `mi_arena_area`, the 1 GiB huge-page reservations (which must succeed or
//! fail cleanly with `ENOMEM`), and `mi_debug_show_arenas` on the verbose channel.
//!
//! Arenas are process-global and numbered in creation order, so every test here holds
//! `LOCK` (new ids can then be attributed to the test that created them). Memory handed
//! to mimalloc is never unmapped.
#![cfg(feature = "capi")]
#![allow(clippy::missing_safety_doc, clippy::identity_op, unused_unsafe)]
#![allow(unknown_lints, clippy::manual_is_multiple_of, clippy::unnecessary_cast)]

use std::ffi::{c_char, c_void, CStr};
use std::ptr::null_mut;
use std::sync::Mutex;

use mimalloc::capi::*;

mod common;
use common::{errno, lock, set_errno, GIB, KIB, MIB};

/// Arena block size (= segment size, the alignment of arenas).
const ARENA_BLOCK: usize = 32 * MIB;
const MAX_ARENAS: i32 = 112;
const OPT_VERBOSE: mi_option_t = 2;

/// (start, size) of arena `id`, if it exists.
fn arena(id: mi_arena_id_t) -> Option<(usize, usize)> {
    let mut size = usize::MAX;
    let p = unsafe { mi_arena_area(id, &mut size) };
    if p.is_null() {
        assert_eq!(size, 0, "mi_arena_area({id}) returned NULL but size {size}");
        None
    } else {
        Some((p as usize, size))
    }
}
/// Ids of all registered arenas.
fn arena_ids() -> Vec<mi_arena_id_t> {
    (1..=MAX_ARENAS).filter(|&id| arena(id).is_some()).collect()
}

/// Map `size` bytes aligned to 32 MiB (the surplus stays mapped; all of it is leaked).
unsafe fn map_aligned(size: usize, prot: i32) -> *mut u8 {
    let total = size + ARENA_BLOCK;
    let p = libc::mmap(
        null_mut(),
        total,
        prot,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        0,
    );
    assert_ne!(p, libc::MAP_FAILED, "mmap of {total} bytes failed");
    let start = (p as usize).div_ceil(ARENA_BLOCK) * ARENA_BLOCK;
    start as *mut u8
}

unsafe fn inside(p: *const c_void, area: (usize, usize)) -> bool {
    let a = p as usize;
    a >= area.0 && a < area.0 + area.1
}

/// Allocate `size`-byte blocks from `h` until it fails (at most `max`); returns them and
/// checks that the failure is NULL with errno ENOMEM.
unsafe fn allocate_until_full(h: *mut mi_heap_t, size: usize, max: usize) -> Vec<*mut c_void> {
    let mut v = Vec::new();
    loop {
        set_errno(0);
        let p = mi_heap_malloc(h, size);
        if p.is_null() {
            assert_eq!(
                errno(),
                libc::ENOMEM,
                "an exhausted arena heap must fail with ENOMEM"
            );
            return v;
        }
        *(p as *mut u8) = 0xAB;
        *(p as *mut u8).add(size - 1) = 0xCD;
        v.push(p);
        assert!(
            v.len() < max,
            "allocation from the exclusive arena never fails ({} × {size} bytes)",
            v.len()
        );
    }
}

// ---------------------------------------------------------------------------------------
// mi_arena_area
// ---------------------------------------------------------------------------------------

#[test]
fn arena_area_of_invalid_ids_is_null_with_size_zero() {
    let _g = lock();
    for id in [0, -1, -2, -1000, MAX_ARENAS + 1, 1000, i32::MAX, i32::MIN] {
        assert_eq!(arena(id), None, "mi_arena_area({id})");
    }
    // Ids not registered (yet): the last possible one is never used by these tests.
    assert_eq!(arena(MAX_ARENAS), None);
    unsafe {
        assert!(mi_arena_area(0, null_mut()).is_null());
        assert!(mi_arena_area(-5, null_mut()).is_null());
    }
}

// ---------------------------------------------------------------------------------------
// mi_reserve_os_memory(_ex)
// ---------------------------------------------------------------------------------------

#[test]
fn reserve_os_memory_adds_an_arena() {
    let _g = lock();
    unsafe {
        let before = arena_ids();
        assert_eq!(mi_reserve_os_memory(64 * MIB, true, false), 0);
        let after = arena_ids();
        let new: Vec<_> = after
            .iter()
            .filter(|id| !before.contains(id))
            .copied()
            .collect();
        assert_eq!(
            new.len(),
            1,
            "one new arena expected: {before:?} -> {after:?}"
        );
        let (start, size) = arena(new[0]).unwrap();
        assert_eq!(size, 64 * MIB);
        assert_eq!(start % ARENA_BLOCK, 0, "arenas are 32 MiB aligned");
        assert_eq!(
            new[0],
            *after.iter().max().unwrap(),
            "ids are given in creation order"
        );
        assert!(mi_is_in_heap_region(start as *const c_void));
        assert!(mi_is_in_heap_region((start + size - 1) as *const c_void));

        // _ex: the id is returned; sizes are rounded up to 32 MiB.
        let mut id: mi_arena_id_t = -7;
        assert_eq!(mi_reserve_os_memory_ex(1, true, false, false, &mut id), 0);
        assert!(id > new[0], "id {id}");
        let (start, size) = arena(id).unwrap();
        assert_eq!(size, ARENA_BLOCK, "size 1 reserves 32 MiB");
        assert_eq!(start % ARENA_BLOCK, 0);
        let mut id2: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(40 * MIB, false, false, false, &mut id2),
            0
        );
        assert_eq!(id2, id + 1);
        assert_eq!(
            arena(id2).unwrap().1,
            64 * MIB,
            "40 MiB rounds up to 64 MiB"
        );
        // A NULL id pointer is allowed.
        assert_eq!(
            mi_reserve_os_memory_ex(ARENA_BLOCK, true, false, false, null_mut()),
            0
        );
    }
}

#[test]
fn reserve_os_memory_of_an_impossible_size_fails_with_enomem() {
    let _g = lock();
    unsafe {
        let before = arena_ids();
        let mut id: mi_arena_id_t = 99;
        // 1 PiB of address space: the mapping fails.
        let r = mi_reserve_os_memory_ex(1 << 50, false, false, true, &mut id);
        assert_eq!(r, libc::ENOMEM);
        assert_eq!(id, 0, "the id is 0 on failure");
        assert_eq!(mi_reserve_os_memory(1 << 50, true, false), libc::ENOMEM);
        assert_eq!(arena_ids(), before);
    }
}

// ---------------------------------------------------------------------------------------
// Exclusive arenas and mi_heap_new_in_arena
// ---------------------------------------------------------------------------------------

#[test]
fn heap_in_an_exclusive_arena_allocates_only_inside_it() {
    let _g = lock();
    unsafe {
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(128 * MIB, true, false, true, &mut id),
            0
        );
        assert!(id > 0);
        let area = arena(id).unwrap();
        assert_eq!(area.1, 128 * MIB);
        let h = mi_heap_new_in_arena(id);
        assert!(!h.is_null());
        let mut blocks = Vec::new();
        for &size in &[
            8usize,
            100,
            1000,
            10_000,
            100_000,
            1 * MIB,
            5 * MIB,
            20 * MIB,
        ] {
            for _ in 0..3 {
                let p = mi_heap_malloc(h, size);
                assert!(
                    !p.is_null(),
                    "mi_heap_malloc({size}) in a fresh 128 MiB arena failed"
                );
                assert!(
                    inside(p, area),
                    "a {size}-byte block {p:p} is outside its arena {area:x?}"
                );
                assert!(mi_heap_contains_block(h, p));
                std::ptr::write_bytes(p as *mut u8, 0x5A, size.min(64 * KIB));
                blocks.push(p);
            }
        }
        let q = mi_heap_zalloc_aligned(h, 3000, 4096);
        assert!(!q.is_null() && inside(q, area));
        blocks.push(q);
        // Heaps not bound to the arena never allocate inside it.
        let other = mi_heap_new();
        let arena0 = mi_heap_new_in_arena(0);
        let mut outside = Vec::new();
        for i in 0..100usize {
            for p in [
                mi_malloc(1 * MIB + i),
                mi_malloc(16 + i),
                mi_heap_malloc(other, 2 * MIB),
                mi_heap_malloc(arena0, 3000 + i),
            ] {
                assert!(!p.is_null());
                assert!(
                    !inside(p, area),
                    "a block {p:p} of a non-arena heap lies in the exclusive arena"
                );
                outside.push(p);
            }
        }
        for p in outside {
            mi_free(p);
        }
        mi_heap_delete(other);
        mi_heap_delete(arena0);
        for p in blocks {
            mi_free(p);
        }
        mi_heap_delete(h);
    }
}

#[test]
fn an_exhausted_exclusive_arena_fails_with_enomem_and_no_fallback() {
    let _g = lock();
    unsafe {
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(64 * MIB, true, false, true, &mut id),
            0
        );
        let area = arena(id).unwrap();
        assert_eq!(area.1, 64 * MIB);
        let h = mi_heap_new_in_arena(id);
        assert!(!h.is_null());
        // (The heap descriptor came from this thread's backing heap, which may have
        // reserved the automatic arena just now; only what follows is checked.)
        let before = arena_ids();

        // 1 MiB blocks (a little less, so that debug padding does not round them up):
        // two 32 MiB segments hold about 60 of them.
        let blocks = allocate_until_full(h, MIB - 64, 200);
        assert!(
            blocks.len() >= 48,
            "only {} MiB fit in a 64 MiB arena",
            blocks.len()
        );
        assert!(
            blocks.iter().all(|&p| inside(p, area)),
            "a block lies outside the arena"
        );
        assert_eq!(
            arena_ids(),
            before,
            "no arena may be added for an arena-bound heap"
        );
        // Other requests that need a new segment fail the same way.
        for size in [2 * MIB, 20 * MIB] {
            set_errno(0);
            assert!(
                mi_heap_malloc(h, size).is_null(),
                "{size} bytes from a full arena"
            );
            assert_eq!(errno(), libc::ENOMEM);
        }
        // Other heaps are unaffected.
        let p = mi_malloc(4 * MIB);
        assert!(!p.is_null() && !inside(p, area));
        mi_free(p);
        let before = arena_ids();

        // After freeing everything the arena serves again, also a two-block request.
        for &p in &blocks {
            assert_eq!(*(p as *const u8), 0xAB);
            mi_free(p);
        }
        mi_heap_collect(h, true);
        let big = mi_heap_malloc(h, 40 * MIB);
        assert!(!big.is_null(), "40 MiB from an empty 64 MiB arena");
        assert!(
            inside(big, area)
                && inside((big as *const u8).add(40 * MIB - 1) as *const c_void, area)
        );
        mi_free(big);
        mi_heap_collect(h, true);
        // Larger than the arena, or an alignment an arena cannot serve: NULL, ENOMEM.
        set_errno(0);
        assert!(mi_heap_malloc(h, 100 * MIB).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        set_errno(0);
        assert!(
            mi_heap_malloc_aligned(h, 1000, 64 * MIB).is_null(),
            "huge alignment cannot come from the arena"
        );
        assert_eq!(errno(), libc::ENOMEM);
        assert_eq!(arena_ids(), before);
        mi_heap_destroy(h);
    }
}

#[test]
fn destroying_an_arena_heap_returns_its_memory_to_the_arena() {
    let _g = lock();
    unsafe {
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(64 * MIB, true, false, true, &mut id),
            0
        );
        let area = arena(id).unwrap();
        for round in 0..5 {
            let h = mi_heap_new_in_arena(id);
            let blocks = allocate_until_full(h, 512 * KIB - 64, 400);
            assert!(
                blocks.len() >= 96,
                "round {round}: only {} blocks of 512 KiB",
                blocks.len()
            );
            assert!(blocks.iter().all(|&p| inside(p, area)));
            mi_heap_destroy(h);
        }
    }
}

#[test]
fn heap_in_an_unknown_arena_cannot_allocate() {
    let _g = lock();
    unsafe {
        let id = MAX_ARENAS - 1;
        assert_eq!(arena(id), None);
        let h = mi_heap_new_in_arena(id);
        if h.is_null() {
            return; // refusing the heap is as good
        }
        set_errno(0);
        assert!(
            mi_heap_malloc(h, 100).is_null(),
            "a heap bound to a missing arena allocated"
        );
        assert_eq!(errno(), libc::ENOMEM);
        mi_heap_delete(h);
    }
}

// ---------------------------------------------------------------------------------------
// mi_manage_os_memory(_ex) on memory we map ourselves
// ---------------------------------------------------------------------------------------

#[test]
fn managed_memory_serves_an_exclusive_arena() {
    let _g = lock();
    unsafe {
        let size = 64 * MIB;
        let start = map_aligned(size, libc::PROT_READ | libc::PROT_WRITE);
        let mut id: mi_arena_id_t = -3;
        assert!(mi_manage_os_memory_ex(
            start as *mut c_void,
            size,
            true,
            false,
            true,
            -1,
            true,
            &mut id
        ));
        assert!(id > 0);
        assert_eq!(
            arena(id),
            Some((start as usize, size)),
            "mi_arena_area of managed memory"
        );
        assert!(mi_is_in_heap_region(start as *const c_void));
        assert!(mi_is_in_heap_region(start.add(size - 1) as *const c_void));
        let area = (start as usize, size);
        let h = mi_heap_new_in_arena(id);
        assert!(!h.is_null());
        let mut blocks = Vec::new();
        for i in 0..2000usize {
            let n = 16 + (i * 97) % 4000;
            let p = mi_heap_malloc(h, n);
            assert!(
                !p.is_null() && inside(p, area),
                "block {p:p} outside the managed memory"
            );
            std::ptr::write_bytes(p as *mut u8, i as u8, n);
            blocks.push((p, n, i as u8));
        }
        let z = mi_heap_zalloc(h, 3 * MIB);
        assert!(!z.is_null() && inside(z, area));
        assert!(std::slice::from_raw_parts(z as *const u8, 3 * MIB)
            .iter()
            .all(|&b| b == 0));
        for &(p, n, v) in &blocks {
            assert!(std::slice::from_raw_parts(p as *const u8, n)
                .iter()
                .all(|&b| b == v));
        }
        // Exhaustion: no fallback to the OS.
        let rest = allocate_until_full(h, 2 * MIB, 100);
        assert!(rest.iter().all(|&p| inside(p, area)));
        for (p, _, _) in blocks {
            mi_free(p);
        }
        for p in rest {
            mi_free(p);
        }
        mi_free(z);
        mi_heap_delete(h);
    }
}

#[test]
fn managed_memory_that_is_not_committed_is_made_usable() {
    let _g = lock();
    unsafe {
        let size = 64 * MIB;
        let start = map_aligned(size, libc::PROT_NONE);
        let mut id: mi_arena_id_t = 0;
        assert!(mi_manage_os_memory_ex(
            start as *mut c_void,
            size,
            false,
            false,
            false,
            -1,
            true,
            &mut id
        ));
        let area = (start as usize, size);
        let h = mi_heap_new_in_arena(id);
        for &n in &[64usize, 5000, 300 * KIB, 4 * MIB] {
            let p = mi_heap_zalloc(h, n);
            assert!(!p.is_null() && inside(p, area));
            let b = std::slice::from_raw_parts_mut(p as *mut u8, n);
            assert!(
                b.iter().all(|&x| x == 0),
                "zalloc from uncommitted managed memory not zero"
            );
            b.fill(0x77);
            mi_free(p);
        }
        mi_heap_destroy(h);
    }
}

#[test]
fn managed_memory_shared_and_too_small() {
    let _g = lock();
    unsafe {
        // Non-exclusive: registered (any heap may use it from now on).
        let start = map_aligned(ARENA_BLOCK, libc::PROT_READ | libc::PROT_WRITE);
        let before = arena_ids();
        assert!(mi_manage_os_memory(
            start as *mut c_void,
            ARENA_BLOCK,
            true,
            false,
            true,
            -1
        ));
        let after = arena_ids();
        assert_eq!(after.len(), before.len() + 1);
        let id = *after.iter().max().unwrap();
        assert_eq!(arena(id), Some((start as usize, ARENA_BLOCK)));
        assert!(mi_is_in_heap_region(start.add(12345) as *const c_void));

        // Smaller than one 32 MiB block: refused, id 0.
        let small = map_aligned(16 * MIB, libc::PROT_READ | libc::PROT_WRITE);
        let mut sid: mi_arena_id_t = 55;
        assert!(!mi_manage_os_memory_ex(
            small as *mut c_void,
            16 * MIB,
            true,
            false,
            true,
            -1,
            true,
            &mut sid
        ));
        assert_eq!(sid, 0);
        assert!(!mi_manage_os_memory(
            small as *mut c_void,
            ARENA_BLOCK - 1,
            true,
            false,
            true,
            -1
        ));
        assert_eq!(
            arena_ids(),
            after,
            "a refused area must not become an arena"
        );
        // A remainder beyond whole blocks is ignored.
        let odd = map_aligned(ARENA_BLOCK + 5 * MIB, libc::PROT_READ | libc::PROT_WRITE);
        let mut oid: mi_arena_id_t = 0;
        assert!(mi_manage_os_memory_ex(
            odd as *mut c_void,
            ARENA_BLOCK + 5 * MIB,
            true,
            false,
            true,
            -1,
            true,
            &mut oid
        ));
        assert_eq!(arena(oid), Some((odd as usize, ARENA_BLOCK)));
    }
}

// ---------------------------------------------------------------------------------------
// 1 GiB huge OS pages
// ---------------------------------------------------------------------------------------

#[test]
fn huge_os_page_reservations_succeed_or_fail_cleanly() {
    let _g = lock();
    unsafe {
        assert_eq!(
            mi_reserve_huge_os_pages_at(0, 0, 0),
            0,
            "pages == 0 succeeds"
        );
        assert_eq!(mi_reserve_huge_os_pages_interleave(0, 0, 0), 0);
        assert_eq!(mi_reserve_huge_os_pages_interleave(0, 4, 100), 0);
        for (node, timeout) in [(0, 500usize), (-1, 0), (-7, 500), (1000, 500)] {
            let before = arena_ids();
            let r = mi_reserve_huge_os_pages_at(1, node, timeout);
            assert!(
                r == 0 || r == libc::ENOMEM,
                "mi_reserve_huge_os_pages_at(1, {node}) = {r}"
            );
            let after = arena_ids();
            if r == 0 {
                assert_eq!(after.len(), before.len() + 1);
                let id = *after.iter().max().unwrap();
                assert_eq!(arena(id).unwrap().1, GIB);
            } else {
                assert_eq!(
                    after, before,
                    "a failed reservation must not register an arena"
                );
            }
        }
        let r = mi_reserve_huge_os_pages_interleave(1, 0, 500);
        assert!(r == 0 || r == libc::ENOMEM, "interleave = {r}");
        let r = mi_reserve_huge_os_pages_interleave(2, 2, 500);
        assert!(r == 0 || r == libc::ENOMEM, "interleave over 2 nodes = {r}");

        let mut id: mi_arena_id_t = 42;
        let r = mi_reserve_huge_os_pages_at_ex(1, -1, 500, true, &mut id);
        if r == 0 {
            assert!(id > 0);
            assert_eq!(arena(id).unwrap().1, GIB);
        } else {
            assert_eq!(r, libc::ENOMEM);
            assert!(id <= 0, "failed huge page reservation left id {id}");
        }

        // The deprecated form reports the reserved page count.
        let mut n: usize = 77;
        let r = mi_reserve_huge_os_pages(1, 0.5, &mut n);
        if r == 0 {
            assert_eq!(n, 1);
        } else {
            assert_eq!(r, libc::ENOMEM);
            assert_eq!(n, 0);
        }
        let r = mi_reserve_huge_os_pages(1, 0.5, null_mut());
        assert!(r == 0 || r == libc::ENOMEM);
        // Allocation still works afterwards.
        let p = mi_malloc(1000);
        assert!(!p.is_null());
        mi_free(p);
    }
}

// ---------------------------------------------------------------------------------------
// mi_debug_show_arenas (verbose channel, through the registered output function)
// ---------------------------------------------------------------------------------------

static CAPTURED: Mutex<String> = Mutex::new(String::new());

unsafe extern "C" fn capture(msg: *const c_char, arg: *mut c_void) {
    assert_eq!(
        arg as usize, 0x1234,
        "output callback got the wrong argument"
    );
    let s = CStr::from_ptr(msg).to_string_lossy();
    CAPTURED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_str(&s);
}
fn take_captured() -> String {
    std::mem::take(&mut *CAPTURED.lock().unwrap_or_else(|e| e.into_inner()))
}

#[test]
fn debug_show_arenas_prints_through_the_output_function_when_verbose() {
    let _g = lock();
    unsafe {
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(96 * MIB, true, false, true, &mut id),
            0
        );
        let h = mi_heap_new_in_arena(id);
        let p = mi_heap_malloc(h, 1 * MIB);
        assert!(!p.is_null());

        let verbose = mi_option_get(OPT_VERBOSE);
        mi_register_output(Some(capture), 0x1234 as *mut c_void);
        mi_option_disable(OPT_VERBOSE);
        take_captured(); // whatever was buffered before
        mi_debug_show_arenas(true, true, true);
        let quiet = take_captured();
        assert!(
            !quiet.contains("arena"),
            "mi_debug_show_arenas printed without verbose: {quiet:?}"
        );

        mi_option_enable(OPT_VERBOSE);
        mi_debug_show_arenas(true, true, true);
        mi_option_set(OPT_VERBOSE, verbose);
        mi_register_output(None, null_mut());
        let text = take_captured();

        assert!(!text.is_empty(), "nothing printed with verbose on");
        // One descriptive line per arena, ours with its 3 blocks, and bitmap rows of
        // 'x' (in use) and '.' (free).
        let arena_lines: Vec<&str> = text.lines().filter(|l| l.contains("arena")).collect();
        assert!(
            arena_lines.len() >= arena_ids().len().min(1),
            "no arena lines in {text:?}"
        );
        assert!(
            arena_lines.iter().any(|l| l.contains("3 blocks")),
            "our 3-block arena is not described: {text:?}"
        );
        let bitmap_rows: Vec<&str> = text
            .lines()
            .map(|l| l.trim_start_matches("mimalloc: ").trim())
            .filter(|l| !l.is_empty() && l.chars().all(|c| c == 'x' || c == '.'))
            .collect();
        assert!(
            bitmap_rows
                .iter()
                .any(|r| r.len() == 3 && r.starts_with('x')),
            "no bitmap row for the 3-block arena with its first block in use: {text:?}"
        );
        assert!(
            text.lines().all(|l| l.starts_with("mimalloc: ")),
            "verbose lines carry the mimalloc prefix: {text:?}"
        );
        mi_free(p);
        mi_heap_delete(h);
    }
}

/// How many of the pages of `len` bytes at `p` are resident (`mincore`).
unsafe fn resident_pages(p: *const u8, len: usize) -> usize {
    let page = 4096;
    let mut vec = vec![0u8; len.div_ceil(page)];
    let rc = unsafe { libc::mincore(p as *mut c_void, len, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore failed");
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

#[test]
fn fresh_arena_blocks_purge_the_blocks_that_wait_for_it() {
    common::run_child_ok(
        "child_fresh_blocks_purge_waiting_ones",
        // 10 s before a freed arena block is purged on its own.
        &[("MIMALLOC_PURGE_DELAY", "1000")],
    );
}

/// A freed block of 20 MiB waits for its delayed purge, resident. When a request of
/// 40 MiB cannot use it (the next block is taken) and takes fresh blocks instead, the
/// waiting block is purged at once, so the process does not hold both.
#[test]
fn child_fresh_blocks_purge_waiting_ones() {
    if !common::in_child("child_fresh_blocks_purge_waiting_ones") {
        return;
    }
    unsafe {
        let small = 20 * MIB;
        let a = mi_malloc(small) as *mut u8;
        let guard = mi_malloc(small) as *mut u8;
        assert!(!a.is_null() && !guard.is_null());
        // Each huge block has a segment (one arena block) of its own; the guard is in
        // the block right after `a`'s, so `a`'s block alone cannot take 40 MiB.
        let a_block = a as usize & !(ARENA_BLOCK - 1);
        let guard_block = guard as usize & !(ARENA_BLOCK - 1);
        assert_eq!(guard_block, a_block + ARENA_BLOCK, "unexpected layout");
        std::ptr::write_bytes(a, 1, small);
        mi_free(a as *mut c_void);
        let waiting = resident_pages(a, small);
        assert!(
            waiting > small / 4096 / 2,
            "the freed block was purged at once ({waiting} pages left)"
        );

        let big = mi_malloc(2 * small) as *mut u8;
        assert!(!big.is_null());
        let big_block = big as usize & !(ARENA_BLOCK - 1);
        assert!(
            big_block > guard_block,
            "the 40 MiB block reused the freed one"
        );
        let left = resident_pages(a, small);
        assert!(left < 16, "{left} pages of the freed block still resident");
        mi_free(big as *mut c_void);
        mi_free(guard as *mut c_void);
    }
}
