//! Reading and printing the allocator's statistics, and setting options from Rust.
//!
//! `cargo run --release --example stats`

use mimalloc::options::{self, Opt};
use mimalloc::{MiMalloc, Stats};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    // Give unused memory back to the OS after 50 ms instead of 10 ms.
    options::set(Opt::PurgeDelay, 50);

    let data: Vec<Vec<u8>> = (0..1000).map(|i| vec![i as u8; 16 * 1024]).collect();
    let s = Stats::read();
    println!(
        "with 16 MiB live: committed {} KiB (peak {} KiB), {} segments, {} pages, RSS {} KiB",
        s.committed.current / 1024,
        s.committed.peak / 1024,
        s.segments.current,
        s.pages.current,
        s.process.current_rss / 1024
    );
    drop(data);
    mimalloc::collect(true);
    let s = Stats::read();
    println!(
        "after freeing and collecting: committed {} KiB, purged {} KiB in {} calls",
        s.committed.current / 1024,
        s.purged.allocated / 1024,
        s.purge_calls
    );
    // The same table as MIMALLOC_SHOW_STATS=1 prints at exit.
    Stats::print();
}
