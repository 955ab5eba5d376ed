#!/bin/sh
# test-crate.sh -- the Rust crate as a Rust user gets it (run by bin/test.sh):
#
#   1. `cargo doc` of the public API with warnings as errors;
#   2. `cargo package`, which builds the packaged crate on its own (no CMake, no C
#      build files);
#   3. a new binary crate that depends on the packaged crate (global allocator, a heap
#      with an allocator-api2 Vec and a hashbrown map, statistics), built and run with
#      CC=false and CXX=false: no C compiler may be involved.
#
# (`--allow-dirty`: this checks what the work tree would publish, changes and all.)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "==> cargo doc (public API, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc -p mimalloc-rs --no-deps --features allocator-api2 --locked

echo "==> cargo package"
cargo package -p mimalloc-rs --locked --allow-dirty
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
crate="$root/target/package/mimalloc-rs-$version.crate"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar xzf "$crate" -C "$tmp"
mkdir -p "$tmp/user/src"
cat > "$tmp/user/Cargo.toml" <<TOML
[package]
name = "mimalloc-user"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
mimalloc-rs = { path = "../mimalloc-rs-$version", features = ["allocator-api2"] }
allocator-api2 = "0.2"
hashbrown = "0.15"

[workspace]
TOML
cat > "$tmp/user/src/main.rs" <<'RS'
use allocator_api2::vec::Vec as HeapVec;
use mimalloc::{Heap, MiMalloc, Stats};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    let words: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let heap = Heap::new();
    let mut v = HeapVec::new_in(&heap);
    v.extend(words.iter().map(String::len));
    let mut map = hashbrown::HashMap::new_in(&heap);
    for (i, w) in words.iter().enumerate() {
        map.insert(w.as_str(), i);
    }
    assert_eq!(map["4711"], 4711);
    assert!(heap.contains(v.as_ptr() as *const u8));
    drop((map, v));
    heap.destroy();
    let s = Stats::read();
    assert!(s.committed.peak > 0);
    println!("mimalloc-user: ok ({} KiB committed at peak)", s.committed.peak / 1024);
}
RS
echo "==> a Rust program using the packaged crate, with CC=false CXX=false"
(cd "$tmp/user" && CC=false CXX=false cargo run --release -q)
