//! `heap_pairs N [size]`: after a warm-up, N allocate/deallocate pairs of `size` bytes
//! through `&Heap` as an `allocator_api2` allocator, with 16 blocks of the size kept
//! live (the steady state). Run under callgrind with N and with 0 by
//! bench/callgrind-rust.sh; the difference over N is the cost of one pair.
use allocator_api2::alloc::Allocator;
use std::alloc::Layout;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let heap = mimalloc::Heap::new();
    let a = &heap;
    let layout = Layout::from_size_align(size, 8).unwrap();
    let keep: Vec<_> = (0..16).map(|_| a.allocate(layout).unwrap()).collect();
    for _ in 0..10_000 {
        let p = a.allocate(layout).unwrap();
        // SAFETY: allocated just above with `layout`.
        unsafe { a.deallocate(std::hint::black_box(p).cast(), layout) };
    }
    for _ in 0..n {
        let p = a.allocate(layout).unwrap();
        // SAFETY: as above.
        unsafe { a.deallocate(std::hint::black_box(p).cast(), layout) };
    }
    for p in keep {
        // SAFETY: as above.
        unsafe { a.deallocate(p.cast(), layout) };
    }
}
