#!/usr/bin/env bash
# The collections workload of bench/rust (strings, vectors and hash maps built on
# several threads and freed on others) with three global allocators in one run,
# interleaved: mimalloc-rs (MiMalloc), the `mimalloc` crate (C mimalloc 2.3.2 inside,
# from libmimalloc-sys 0.1.49), and the system allocator. Prints the median (or, with
# STAT=min, the fastest) wall time, system time and peak RSS of each, and the ratio to
# ours. Usage: bench/rust-collections.sh [reps] [threads] [rounds]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
reps=${1:-5}
threads=${2:-4}
rounds=${3:-300}
stat=${STAT:-median}
(cd "$here/rust" && cargo build --release -q --bin coll_ours --bin coll_c --bin coll_system)
bin="$here/rust/target/release"
names=(ours c-mimalloc system)
bins=(coll_ours coll_c coll_system)
declare -A wall sys rss
for r in $(seq 1 "$reps"); do
  for i in 0 1 2; do
    j=$(( (i + r) % 3 ))   # rotate the order each repetition
    out=$( { /usr/bin/time -f "%e %S %M" "$bin/${bins[$j]}" "$threads" "$rounds" >/dev/null; } 2>&1 | tail -1)
    read -r w s m <<<"$out"
    wall[${names[$j]}]+="$w "; sys[${names[$j]}]+="$s "; rss[${names[$j]}]+="$m "
  done
done
pick() { tr ' ' '\n' | grep -v '^$' | sort -g | awk -v s="$stat" '{a[NR]=$1} END { if (s == "min") print a[1]; else print a[int((NR+1)/2)] }'; }
printf '%-12s %10s %8s %10s %8s %10s %8s\n' allocator "wall s" ratio "sys s" ratio "RSS MiB" ratio
w0=$(echo "${wall[ours]}" | pick); s0=$(echo "${sys[ours]}" | pick); m0=$(echo "${rss[ours]}" | pick)
for n in "${names[@]}"; do
  w=$(echo "${wall[$n]}" | pick); s=$(echo "${sys[$n]}" | pick); m=$(echo "${rss[$n]}" | pick)
  awk -v n="$n" -v w="$w" -v s="$s" -v m="$m" -v w0="$w0" -v s0="$s0" -v m0="$m0" 'BEGIN {
    printf "%-12s %10.3f %7.2fx %10.3f %7s %10.1f %7.2fx\n", n, w, w / w0, s,
      (s0 >= 0.02 ? sprintf("%.2fx", s / s0) : "-"), m / 1024, m / m0 }'
done
echo "($reps repetitions, $stat; $threads threads x $rounds rounds; ratio = value / ours)"
