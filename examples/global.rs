//! mimalloc as the global allocator of a whole program.
//!
//! `cargo run --release --example global`

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    // Every allocation of the program, on every thread, now comes from mimalloc.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let words: Vec<String> = (0..100_000).map(|i| format!("{t}-{i}")).collect();
                words.iter().map(String::len).sum::<usize>()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("{total} bytes of words built on 4 threads");
}
