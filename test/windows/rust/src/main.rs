//! The Rust API on Windows, run under wine by bin/test-windows.sh: mimalloc as the
//! global allocator of a std program, threads whose heaps are released when they exit
//! (through the fiber-local storage callback), and a heap of its own. Prints
//! `rust-on-windows: ok` and exits 0, or panics (which aborts: non-zero exit).

use mimalloc::{Heap, MiMalloc, Stats};
use std::alloc::Layout;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    // The program's own allocations come from mimalloc: a heap walk of the thread's
    // default heap is not public, but the usable size of a block is only meaningful
    // for ours, and a fresh `Heap` never contains a block of the global allocator.
    let v: Vec<u64> = (0..1000).collect();
    // SAFETY: `v`'s buffer was allocated by the global allocator, which is mimalloc.
    let usable = unsafe { mimalloc::usable_size(v.as_ptr() as *const u8) };
    assert!(usable >= 8000, "usable size {usable} of a Vec of 8000 bytes");

    // Threads that allocate and exit: their heaps go back (the `threads` statistic).
    let before = Stats::read().threads;
    let handles: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let words: Vec<String> = (0..20_000).map(|i| format!("{t}-{i}")).collect();
                words.iter().map(String::len).sum::<usize>()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(total > 16 * 20_000, "{total} bytes of words");
    let after = Stats::read().threads;
    assert!(
        after.allocated >= before.allocated + 16,
        "16 more threads counted: {} -> {}",
        before.allocated,
        after.allocated
    );
    assert_eq!(
        after.current, before.current,
        "the 16 threads that exited still hold heaps"
    );

    // A heap of its own, with an over-aligned block.
    let heap = Heap::new();
    let layout = Layout::from_size_align(1000, 256).unwrap();
    let p = heap.alloc(layout).expect("an aligned block from a heap");
    assert_eq!(p.as_ptr() as usize % 256, 0);
    assert!(heap.contains(p.as_ptr()));
    assert!(!heap.contains(v.as_ptr() as *const u8));
    // SAFETY: `p` holds 1000 bytes.
    unsafe { p.as_ptr().write_bytes(0xa5, 1000) };
    // SAFETY: `p` is a live block of ours.
    unsafe { mimalloc::free(p.as_ptr()) };
    heap.destroy();
    println!("rust-on-windows: ok ({total} bytes of words on 16 threads)");
}
