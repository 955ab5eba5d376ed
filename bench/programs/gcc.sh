#!/bin/sh
# A compiler workload for bench/run.sh: gcc -O2 compiles the benchmark sources
# (cc1, as and collect2 all run on the allocator under test).
here=$(cd "$(dirname "$0")/.." && pwd)
scale=${1:-1}
rounds=$(awk -v s="$scale" 'BEGIN { n = int(2 * s + 0.5); if (n < 1) n = 1; print n }')
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
  for f in churn larson prodcons threadchurn mtchurn; do
    ${CC:-gcc} -O2 -pthread -c -o "$tmp/$f.o" "$here/$f.c" || { echo "gcc: $f.c failed" >&2; exit 99; }
  done
  i=$((i + 1))
done
echo "gcc: ok rounds=$rounds"
