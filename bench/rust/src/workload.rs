//! The collections workload shared by the `coll_*` binaries: each of `threads` threads
//! builds strings, vectors and hash maps, hands some of them to the next thread through
//! a channel (so they are freed on another thread), and checks what it gets.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Instant;

fn rounds_from_args() -> (usize, usize) {
    let args: Vec<String> = std::env::args().collect();
    let threads = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    let rounds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    (threads, rounds)
}

fn one_round(seed: u64, round: usize) -> (Vec<String>, HashMap<String, Vec<u64>>) {
    let mut x = seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<String> = (0..2000)
        .map(|_| {
            let n = (next() % 40) as usize + 1;
            (0..n).map(|i| (b'a' + ((next() >> i) % 26) as u8) as char).collect()
        })
        .collect();
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    for (i, w) in words.iter().enumerate() {
        map.entry(w.clone()).or_default().push(i as u64);
    }
    let mut sorted = words.clone();
    sorted.sort_unstable();
    let joined = sorted.join(" ");
    assert!(joined.len() >= words.len());
    (words, map)
}

/// Run the workload; print the wall time and a checksum.
pub fn run(name: &str) {
    let (threads, rounds) = rounds_from_args();
    let start = Instant::now();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads).map(|_| mpsc::channel()).unzip();
    let mut rxs: Vec<Option<mpsc::Receiver<(Vec<String>, HashMap<String, Vec<u64>>)>>> =
        rxs.into_iter().map(Some).collect();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let tx = txs[(t + 1) % threads].clone();
            let rx = rxs[t].take().unwrap();
            std::thread::spawn(move || {
                let mut check = 0u64;
                for r in 0..rounds {
                    let (words, map) = one_round(t as u64 + 1, r);
                    if r % 2 == 0 {
                        // (the next thread may be done already: then they are freed here)
                        let _ = tx.send((words, map));
                    } else {
                        check += map.values().map(|v| v.len() as u64).sum::<u64>();
                    }
                    while let Ok((w, m)) = rx.try_recv() {
                        // freed here, on another thread than the one that built them
                        check += w.len() as u64 + m.len() as u64;
                    }
                }
                drop(tx);
                check
            })
        })
        .collect();
    drop(txs);
    let check: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!(
        "{name}: threads={threads} rounds={rounds} check={check} time={:.3}s",
        start.elapsed().as_secs_f64()
    );
}
