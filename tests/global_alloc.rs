//! The crate as a Rust `#[global_allocator]`: this whole test binary (the test harness,
//! its threads, std's collections) allocates through `MiMalloc`.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::{BTreeMap, HashMap};
use std::sync::{mpsc, Arc, Mutex};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[test]
fn collections_work() {
    let mut v: Vec<u64> = (0..100_000).collect();
    v.retain(|x| x % 3 == 0);
    assert_eq!(v.len(), 33_334);
    let mut m = HashMap::new();
    for i in 0..50_000u64 {
        m.insert(i, format!("value {i}"));
    }
    assert_eq!(m[&4242], "value 4242");
    let b: BTreeMap<String, usize> = m.values().map(|s| (s.clone(), s.len())).collect();
    assert_eq!(b.len(), 50_000);
}

#[test]
fn layouts_are_honoured() {
    for align in [1usize, 2, 4, 8, 16, 32, 64, 4096, 1 << 16, 1 << 21, 1 << 25] {
        for size in [1usize, 7, 8, 24, 100, 4096, 100_000, 5 << 20] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size layouts; the blocks are freed with the same layout.
            unsafe {
                let p = GLOBAL.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                p.write_bytes(0xAB, size);
                let z = GLOBAL.alloc_zeroed(layout);
                assert_eq!(z as usize % align, 0);
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                let q = GLOBAL.realloc(p, layout, size * 3);
                assert_eq!(q as usize % align, 0, "realloc keeps alignment {align}");
                assert!(
                    std::slice::from_raw_parts(q, size)
                        .iter()
                        .all(|&b| b == 0xAB),
                    "realloc lost data: size {size} align {align}"
                );
                GLOBAL.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                GLOBAL.dealloc(z, layout);
            }
        }
    }
}

#[test]
fn threads_share_and_free_each_others_objects() {
    let (tx, rx) = mpsc::channel::<Vec<Box<[u8]>>>();
    let consumer = std::thread::spawn(move || {
        let mut total = 0usize;
        for batch in rx {
            for b in batch {
                assert!(b.iter().all(|&x| x == b.len() as u8));
                total += b.len();
            }
        }
        total
    });
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut sent = 0usize;
                for round in 0..200 {
                    let batch: Vec<Box<[u8]>> = (0..50)
                        .map(|i| {
                            let n = (t * 7 + round * 13 + i * 31) % 300 + 1;
                            sent += n;
                            vec![n as u8; n].into_boxed_slice()
                        })
                        .collect();
                    tx.send(batch).unwrap();
                }
                sent
            })
        })
        .collect();
    drop(tx);
    let sent: usize = producers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(consumer.join().unwrap(), sent);
}

#[test]
fn objects_outlive_their_threads() {
    let shared = Arc::new(Mutex::new(Vec::new()));
    for round in 0..8 {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let v: Vec<String> = (0..1000).map(|i| format!("{round}-{t}-{i}")).collect();
                    shared.lock().unwrap().push(v);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // Free half of what the dead threads left, in this thread.
        let mut g = shared.lock().unwrap();
        let keep = g.len() / 2;
        g.truncate(keep);
    }
    let g = shared.lock().unwrap();
    for v in g.iter() {
        assert_eq!(v.len(), 1000);
        assert!(v[999].ends_with("-999"));
    }
}
