//! The Rust API, used as a Rust program would: only the public items of the crate
//! (`Heap`, `ArenaId`, `Stats`, `options`, `free`, ...), never the C API or internals.
//! The collection tests need the crate feature `allocator-api2`.
#![allow(clippy::missing_safety_doc)]

use std::alloc::Layout;
use std::ptr::NonNull;

use mimalloc::options::{self, Opt};
use mimalloc::{Heap, Stats};

/// Fill `len` bytes at `p` with a pattern derived from `seed`.
unsafe fn fill(p: *mut u8, len: usize, seed: u8) {
    for i in 0..len {
        unsafe { *p.add(i) = seed.wrapping_add(i as u8) };
    }
}

/// Check the pattern of `fill`.
unsafe fn check(p: *const u8, len: usize, seed: u8) -> bool {
    (0..len).all(|i| unsafe { *p.add(i) } == seed.wrapping_add(i as u8))
}

#[test]
fn heap_blocks_are_aligned_zeroed_and_usable() {
    let heap = Heap::new();
    for &align in &[1usize, 8, 16, 32, 64, 4096, 1 << 16, 1 << 22] {
        for &size in &[0usize, 1, 7, 16, 100, 1000, 5000, 100_000, 3 << 20] {
            let layout = Layout::from_size_align(size, align).unwrap();
            let p = heap.alloc_zeroed(layout).expect("allocation");
            assert_eq!(p.as_ptr() as usize % align, 0, "{layout:?}");
            unsafe {
                assert!(mimalloc::usable_size(p.as_ptr()) >= size);
                assert!(
                    (0..size).all(|i| *p.as_ptr().add(i) == 0),
                    "{layout:?} not zeroed"
                );
                fill(p.as_ptr(), size, 3);
                assert!(heap.contains(p.as_ptr()));
                mimalloc::free(p.as_ptr());
            }
        }
    }
}

#[test]
fn realloc_keeps_contents_and_alignment() {
    let heap = Heap::new();
    for &align in &[8usize, 64, 1 << 12] {
        let layout = Layout::from_size_align(24, align).unwrap();
        let mut p = heap.alloc(layout).unwrap();
        unsafe { fill(p.as_ptr(), 24, 9) };
        let mut size = 24;
        for &new_size in &[100usize, 5000, 70_000, 2 << 20, 48, 8] {
            p = unsafe { heap.realloc(p, Layout::from_size_align(size, align).unwrap(), new_size) }
                .expect("realloc");
            assert_eq!(p.as_ptr() as usize % align, 0);
            let kept = size.min(new_size).min(24);
            assert!(
                unsafe { check(p.as_ptr(), kept, 9) },
                "lost data at {new_size}"
            );
            size = new_size;
        }
        unsafe { mimalloc::free(p.as_ptr()) };
    }
}

#[test]
fn impossible_requests_fail_cleanly() {
    let heap = Heap::new();
    let huge = Layout::from_size_align(isize::MAX as usize - 4096, 8).unwrap();
    assert!(heap.alloc(huge).is_none());
    assert!(heap.alloc_zeroed(huge).is_none());
    assert!(mimalloc::reserve_os_memory(usize::MAX / 2, false, false, false).is_err());
    // a live block survives a failed realloc
    let p = heap.alloc(Layout::new::<[u8; 32]>()).unwrap();
    unsafe { fill(p.as_ptr(), 32, 1) };
    let r = unsafe { heap.realloc(p, Layout::new::<[u8; 32]>(), isize::MAX as usize - 4096) };
    assert!(r.is_none());
    assert!(unsafe { check(p.as_ptr(), 32, 1) });
    unsafe { mimalloc::free(p.as_ptr()) };
}

#[test]
fn contains_only_what_the_heap_allocated() {
    let a = Heap::new();
    let b = Heap::new();
    let p = a.alloc(Layout::new::<u64>()).unwrap();
    let boxed = Box::new(5u64); // the test's global allocator (the system's)
    assert!(a.contains(p.as_ptr()));
    assert!(!b.contains(p.as_ptr()));
    assert!(!a.contains(&*boxed as *const u64 as *const u8));
    assert!(!a.contains(std::ptr::null()));
    unsafe { mimalloc::free(p.as_ptr()) };
}

#[test]
fn visit_blocks_sees_every_live_block() {
    let heap = Heap::new();
    let sizes = [16usize, 48, 200, 3000, 40_000];
    let mut live = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        for _ in 0..=i * 10 {
            live.push((
                heap.alloc(Layout::from_size_align(size, 8).unwrap())
                    .unwrap(),
                size,
            ));
        }
    }
    let mut seen = Vec::new();
    let mut areas = 0;
    assert!(heap.visit_blocks(true, |area, block| {
        match block {
            None => areas += 1,
            Some(b) => {
                assert!(b.size >= 16 && b.size == area.block_size);
                assert!(area.used >= 1);
                seen.push(b.ptr.as_ptr() as usize);
            }
        }
        true
    }));
    assert!(areas >= sizes.len());
    let mut want: Vec<usize> = live.iter().map(|(p, _)| p.as_ptr() as usize).collect();
    want.sort_unstable();
    seen.sort_unstable();
    assert_eq!(seen, want);
    // stop at the first block
    let mut calls = 0;
    assert!(!heap.visit_blocks(true, |_, block| {
        calls += 1;
        block.is_none()
    }));
    assert_eq!(calls, 2);
    for (p, _) in live {
        unsafe { mimalloc::free(p.as_ptr()) };
    }
}

/// A dropped heap's live blocks stay valid (they move to the thread's default heap)
/// and other threads may free them.
#[test]
fn dropped_heap_blocks_live_on_and_other_threads_free_them() {
    let heap = Heap::new();
    let blocks: Vec<(usize, usize, u8)> = (0..2000)
        .map(|i| {
            let size = 8 + (i * 37) % 3000;
            let p = heap
                .alloc(Layout::from_size_align(size, 8).unwrap())
                .unwrap();
            unsafe { fill(p.as_ptr(), size, i as u8) };
            (p.as_ptr() as usize, size, i as u8)
        })
        .collect();
    drop(heap);
    let handles: Vec<_> = blocks
        .chunks(500)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                for (p, size, seed) in chunk {
                    unsafe {
                        assert!(check(p as *const u8, size, seed), "block changed");
                        mimalloc::free(p as *mut u8);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn destroy_frees_everything_at_once() {
    let heap = Heap::new();
    let first = heap.alloc(Layout::new::<[u8; 64]>()).unwrap();
    for i in 0..10_000 {
        heap.alloc(Layout::from_size_align(16 + i % 500, 8).unwrap())
            .unwrap();
    }
    heap.destroy();
    // the memory is free again: a new heap gets the same small page back
    let heap = Heap::new();
    let again = heap.alloc(Layout::new::<[u8; 64]>()).unwrap();
    let mut live = 0;
    heap.visit_blocks(true, |_, b| {
        live += b.is_some() as usize;
        true
    });
    assert_eq!(live, 1);
    let _ = (first, again);
}

#[test]
fn arenas_from_the_os_and_from_the_program() {
    let arena = mimalloc::reserve_os_memory(64 << 20, false, false, true).unwrap();
    let (start, size) = arena.area().unwrap();
    assert!(size >= 64 << 20);
    let heap = Heap::new_in_arena(arena).unwrap();
    let inside = |p: NonNull<u8>| {
        let a = p.as_ptr() as usize;
        a >= start as usize && a < start as usize + size
    };
    for &n in &[8usize, 1000, 100_000, 1 << 20] {
        let p = heap.alloc(Layout::from_size_align(n, 8).unwrap()).unwrap();
        assert!(inside(p), "block of {n} outside its arena");
    }
    // an exclusive arena is not used by other heaps
    let other = Heap::new();
    let q = other.alloc(Layout::new::<[u8; 64]>()).unwrap();
    assert!(!inside(q));

    let len = 64 << 20;
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    let managed =
        unsafe { mimalloc::manage_os_memory(mem.cast(), len, true, false, true, None, true) }
            .unwrap();
    let heap2 = Heap::new_in_arena(managed).unwrap();
    let r = heap2.alloc(Layout::new::<[u64; 8]>()).unwrap();
    let (mstart, msize) = managed.area().unwrap();
    assert!((r.as_ptr() as usize) >= mstart as usize);
    assert!((r.as_ptr() as usize) < mstart as usize + msize);
    // too small to be an arena
    assert!(unsafe {
        mimalloc::manage_os_memory(mem.cast(), 1 << 20, true, false, true, None, true)
    }
    .is_err());
}

#[test]
fn options_round_trip() {
    assert_eq!(Opt::ALL.len(), 29);
    for (i, o) in Opt::ALL.iter().enumerate() {
        assert_eq!(*o as usize, i);
        assert!(!o.name().is_empty());
    }
    let old = options::get(Opt::MaxWarnings);
    options::set(Opt::MaxWarnings, old + 3);
    assert_eq!(options::get(Opt::MaxWarnings), old + 3);
    options::set_default(Opt::MaxWarnings, 1);
    assert_eq!(options::get(Opt::MaxWarnings), old + 3);
    options::set(Opt::MaxWarnings, old);
    assert_eq!(options::get_size(Opt::ArenaReserve), 1 << 30);
}

#[test]
fn statistics_follow_the_program() {
    let heap = Heap::new();
    let blocks: Vec<_> = (0..4000)
        .map(|_| heap.alloc(Layout::new::<[u8; 4000]>()).unwrap())
        .collect();
    let s = Stats::read();
    assert!(s.committed.current >= 16 << 20, "{s:?}");
    assert!(s.committed.peak >= s.committed.current);
    assert!(s.segments.current >= 1);
    assert!(s.pages.current >= 1);
    assert!(s.reserved.current >= s.committed.current);
    assert!(s.process.current_rss > 0 && s.process.peak_rss >= s.process.current_rss);
    assert!(s.process.elapsed_msecs < 24 * 3600 * 1000);
    for p in blocks {
        unsafe { mimalloc::free(p.as_ptr()) };
    }
    heap.collect(true);
    mimalloc::collect(true);
    assert_eq!(mimalloc::good_size(100), 112);
}

#[cfg(feature = "allocator-api2")]
mod collections {
    use super::*;
    use allocator_api2::alloc::Allocator;
    use allocator_api2::boxed::Box as HeapBox;
    use allocator_api2::vec::Vec as HeapVec;

    #[test]
    fn vec_and_box_in_a_heap() {
        let heap = Heap::new();
        let mut v = HeapVec::new_in(&heap);
        for i in 0..100_000u64 {
            v.push(i * 3);
        }
        assert!(heap.contains(v.as_ptr() as *const u8));
        assert_eq!(v.iter().sum::<u64>(), 3 * (100_000 * 99_999 / 2));
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(&v[..3], &[0, 3, 6]);
        let b = HeapBox::new_in([7u8; 300], &heap);
        assert!(heap.contains(b.as_ptr()));
        assert_eq!(b[299], 7);
    }

    #[test]
    fn hashbrown_map_in_a_heap() {
        let heap = Heap::new();
        let mut map = hashbrown::HashMap::new_in(&heap);
        for i in 0..50_000u32 {
            map.insert(i, i.to_string());
        }
        assert_eq!(map.len(), 50_000);
        assert_eq!(map[&4711], "4711");
        for i in (0..50_000u32).step_by(2) {
            map.remove(&i);
        }
        assert_eq!(map.len(), 25_000);
        map.shrink_to_fit();
        assert_eq!(map.get(&4711).map(String::as_str), Some("4711"));
        // everything the map owns through its allocator is in the heap
        let mut blocks = 0;
        heap.visit_blocks(true, |_, b| {
            blocks += b.is_some() as usize;
            true
        });
        assert!(blocks >= 1);
    }

    #[test]
    fn grow_and_shrink_across_alignments() {
        let heap = Heap::new();
        let a = &heap;
        let l1 = Layout::from_size_align(40, 8).unwrap();
        let p = a.allocate(l1).unwrap().cast::<u8>();
        unsafe { fill(p.as_ptr(), 40, 5) };
        let l2 = Layout::from_size_align(5000, 256).unwrap();
        let q = unsafe { a.grow_zeroed(p, l1, l2) }.unwrap();
        assert_eq!(q.len(), 5000);
        let q = q.cast::<u8>();
        assert_eq!(q.as_ptr() as usize % 256, 0);
        unsafe {
            assert!(check(q.as_ptr(), 40, 5));
            assert!((40..5000).all(|i| *q.as_ptr().add(i) == 0));
        }
        let l3 = Layout::from_size_align(16, 16).unwrap();
        let r = unsafe { a.shrink(q, l2, l3) }.unwrap().cast::<u8>();
        assert!(unsafe { check(r.as_ptr(), 16, 5) });
        unsafe { a.deallocate(r, l3) };
    }

    #[test]
    fn destroy_after_the_collections_are_gone() {
        let heap = Heap::new();
        {
            let mut v = HeapVec::new_in(&heap);
            v.extend(0..10_000u32);
            let mut m = hashbrown::HashMap::new_in(&heap);
            m.insert(1, v);
            core::mem::forget(m); // destroy frees it
        }
        heap.destroy();
    }
}

/// A heap kept in a thread-local is dropped at thread exit before the allocator's own
/// thread teardown, with blocks still live in it; other threads free those later.
#[test]
fn heap_in_a_thread_local_is_dropped_at_thread_exit() {
    thread_local! {
        static HEAP: Heap = Heap::new();
    }
    let blocks: Vec<usize> = std::thread::spawn(|| {
        HEAP.with(|h| {
            (0..500)
                .map(|i| {
                    let p = h
                        .alloc(Layout::from_size_align(24 + i, 8).unwrap())
                        .unwrap();
                    unsafe { fill(p.as_ptr(), 24, 7) };
                    p.as_ptr() as usize
                })
                .collect()
        })
    })
    .join()
    .unwrap();
    for p in blocks {
        unsafe {
            assert!(check(p as *const u8, 24, 7));
            mimalloc::free(p as *mut u8);
        }
    }
}
