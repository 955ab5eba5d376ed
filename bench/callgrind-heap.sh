#!/usr/bin/env bash
# Instructions of one allocate + free pair on a first-class heap (16 blocks of the
# size kept live), counted by callgrind as (total(N) - total(0)) / N:
#   C API  mi_heap_malloc + mi_free, bench/heap_pairs.c, against C mimalloc 2.1.7 and
#          against our libmimalloc.so;
#   Rust   Allocator::allocate + deallocate on &mimalloc::Heap (allocator-api2),
#          bench/rust/src/bin/heap_pairs.rs.
# See bench/README.md ("Rust").
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
n=${N:-200000}
size=${SIZE:-32}
ours=${MIMALLOC_RS_LIB:-$root/out/release/libmimalloc.so}
c217="$root/out/bench/c-mimalloc/2.1.7/release/libmimalloc.so"
build="$root/out/bench"
mkdir -p "$build"
command -v valgrind >/dev/null || { echo "callgrind-heap.sh: valgrind is not installed" >&2; exit 1; }
[[ -e "$ours" ]] || { echo "callgrind-heap.sh: build our library first (bin/install.sh or cmake), or set MIMALLOC_RS_LIB" >&2; exit 1; }
[[ -e "$c217" ]] || "$here/c-mimalloc.sh" >/dev/null
cc -O2 -I"$root/include" -o "$build/heap_pairs" "$here/heap_pairs.c" -L"$(dirname "$ours")" -lmimalloc
(cd "$here/rust" && cargo build --release -q --bin heap_pairs)
rust_bin="$here/rust/target/release/heap_pairs"

# total instructions of a run
count() {
  local out="$build/callgrind/heap.$$.out"
  mkdir -p "$build/callgrind"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  local total
  total=$(grep -m1 '^summary:' "$out" | awk '{print $2}')
  rm -f "$out"
  echo "$total"
}
per_pair() {
  local a b
  a=$(count "$@" "$n" "$size")
  b=$(count "$@" 0 "$size")
  awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }'
}
printf '%-44s %s\n' "allocate + free pair ($size bytes, live page)" "instructions"
printf '%-44s %s\n' "C 2.1.7: mi_heap_malloc + mi_free" "$(LD_LIBRARY_PATH=$(dirname "$c217") per_pair "$build/heap_pairs")"
printf '%-44s %s\n' "ours, C API: mi_heap_malloc + mi_free" "$(LD_LIBRARY_PATH=$(dirname "$ours") per_pair "$build/heap_pairs")"
printf '%-44s %s\n' "ours, Rust: Allocator on &Heap" "$(per_pair "$rust_bin")"
