//! A heap per request in a multi-threaded server-like program: each request's
//! collections live in a heap of their own, which is destroyed in one step when the
//! request is done, instead of freeing its objects one by one.
//!
//! `cargo run --release --example request_heaps --features allocator-api2`

use allocator_api2::vec::Vec as HeapVec;
use hashbrown::HashMap;
use mimalloc::Heap;

/// Handle one request: parse its words, count them, answer with the most frequent.
fn handle(request: &str) -> (String, usize) {
    let heap = Heap::new();
    let answer = {
        let mut words = HeapVec::new_in(&heap);
        words.extend(request.split_whitespace());
        let mut counts = HashMap::new_in(&heap);
        for w in &words {
            *counts.entry(*w).or_insert(0usize) += 1;
        }
        let (word, n) = counts.iter().max_by_key(|(w, n)| (**n, **w)).unwrap();
        (word.to_string(), *n)
        // `words` and `counts` are dropped here; they borrow `heap`, so they must be.
    };
    heap.destroy(); // whatever the request left in the heap goes at once
    answer
}

fn main() {
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut served = 0;
                for r in 0..2_000 {
                    let request = format!("get item {r} of worker {w} item item {}", r % 7);
                    let (word, n) = handle(&request);
                    assert_eq!((word.as_str(), n), ("item", 3));
                    served += 1;
                }
                served
            })
        })
        .collect();
    let served: usize = workers.into_iter().map(|h| h.join().unwrap()).sum();
    println!("served {served} requests, each in a heap of its own");
}
