#!/usr/bin/env bash
# Count the instructions of one malloc+free pair with each allocator, under
# valgrind's callgrind. See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  cat <<'EOF'
usage: bench/callgrind.sh [options]

  --ours PATH        our libmimalloc.so (default: $MIMALLOC_RS_LIB, else out/release/libmimalloc.so)
  -n N               malloc/free pairs counted (default 200000)
  --size S           request size in bytes (default 32)
  --allocators LIST  comma-separated (default: glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours);
                     also mi-2.3.2, mi-3.3.2, snmalloc; "all" names all nine
  --alloc NAME=PATH  add another allocator (may be repeated)
  --ref NAME         allocator the ratios are relative to (default: ours; mi-2.1.7 if ours is missing)
  --no-install       do not install (apt-get) or build (C mimalloc, snmalloc) missing comparison allocators
  --build-dir DIR    default out/bench (or $BENCH_BUILD_DIR)
  --keep             keep the callgrind.out files (in <build-dir>/callgrind/)
  --detail           also show the functions the instructions of the live-page run go to
  -h, --help         this text

For every allocator, the program bench/pairs.c runs under callgrind with
N = 0 and N pairs (after the same warm-up); the difference of the total
instruction counts divided by N, minus the loop overhead (the same loop
without allocator calls), is the cost of one malloc+free pair, including the
two PLT calls. Two patterns are counted:
  empty page: nothing else of that size is allocated, so each free empties
              the page/span (in mimalloc that takes the page-retire path);
  live page:  16 other blocks of the size stay allocated (the usual steady state).
EOF
}

ours="${MIMALLOC_RS_LIB:-$root/out/release/libmimalloc.so}"
n=200000
size=32
alloc_list="glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours"
ref=""
install=1
builddir="${BENCH_BUILD_DIR:-$root/out/bench}"
keep=0
detail=0
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ours) ours="$2"; shift 2 ;;
    --ours=*) ours="${1#*=}"; shift ;;
    -n|--n) n="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --allocators) alloc_list="$2"; shift 2 ;;
    --alloc) extra+=("$2"); shift 2 ;;
    --ref) ref="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --build-dir) builddir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --detail) detail=1; keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

note() { echo "note: $*" >&2; }
die() { echo "callgrind.sh: $*" >&2; exit 1; }

[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "-n must be a positive integer"
[[ "$size" =~ ^[0-9]+$ ]] || die "--size must be a number"
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install -y valgrind)"

cc=${CC:-cc}
mkdir -p "$builddir/logs" "$builddir/callgrind"
if [[ ! -x "$builddir/pairs" || "$here/pairs.c" -nt "$builddir/pairs" ]]; then
  # -fno-builtin: the compiler must not pair up and remove malloc/free.
  $cc -O2 -fno-builtin -Wall -o "$builddir/pairs" "$here/pairs.c" || die "cannot build pairs"
fi
# shellcheck source=allocators.sh
source "$here/allocators.sh"
setup_allocators

cgdir="$builddir/callgrind"
# instructions NAME LIB N MODE: total instructions of one pairs run (callgrind "summary")
instructions() {
  local name=$1 lib=$2 count=$3 mode=$4 out="$cgdir/callgrind.out.$$"
  rm -f "$out"
  if ! env LD_PRELOAD="$lib" valgrind --tool=callgrind --callgrind-out-file="$out" \
       "$builddir/pairs" "$count" "$size" "$mode" >"$builddir/logs/callgrind.log" 2>&1; then
    note "valgrind failed with ${lib:-glibc} (N=$count, $mode); see $builddir/logs/callgrind.log"
    return 1
  fi
  local ir
  ir=$(awk '/^summary:/ { print $2; exit } /^totals:/ { t = $2 } END { if (t != "") print t }' "$out" | head -n1)
  if [[ $keep -eq 1 ]]; then mv "$out" "$cgdir/callgrind.out.$name.$mode.$count"; else rm -f "$out"; fi
  [[ -n "$ir" ]] || return 1
  echo "$ir"
}

echo "counting instructions (callgrind, N=$n, size $size) ..." >&2
loop0=$(instructions loop "" 0 loop) && loopn=$(instructions loop "" "$n" loop) || die "callgrind failed"
loop=$(awk -v a="$loop0" -v b="$loopn" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')

declare -A per
for i in "${!names[@]}"; do
  for mode in pairs live; do
    if a=$(instructions "${names[$i]}" "${libs[$i]}" 0 "$mode") &&
       b=$(instructions "${names[$i]}" "${libs[$i]}" "$n" "$mode"); then
      per[$i,$mode]=$(awk -v a="$a" -v b="$b" -v n="$n" -v l="$loop" 'BEGIN { printf "%.1f", (b - a) / n - l }')
    else
      per[$i,$mode]=""
    fi
  done
done

ri=""
for i in "${!names[@]}"; do [[ "${names[$i]}" == "$ref" ]] && ri=$i; done

echo "Instructions per malloc($size)+free pair (callgrind; N=$n; loop overhead of $loop instructions subtracted)"
w=12
for nm in "${names[@]}"; do if (( ${#nm} > w )); then w=${#nm}; fi; done
printf "%-${w}s %12s %10s %12s %10s  %s\n" allocator "empty page" "/ $ref" "live page" "/ $ref" library
for i in "${!names[@]}"; do
  cells=()
  for mode in pairs live; do
    v=${per[$i,$mode]}
    r=${per[$ri,$mode]:-}
    if [[ -z "$v" ]]; then cells+=("FAIL" "-")
    elif [[ -n "$r" ]]; then cells+=("$v" "$(awk -v a="$v" -v b="$r" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')")
    else cells+=("$v" "-"); fi
  done
  printf "%-${w}s %12s %10s %12s %10s  %s\n" "${names[$i]}" "${cells[@]}" "${libs[$i]:-(system malloc)}"
done

if [[ $detail -eq 1 ]]; then
  for i in "${!names[@]}"; do
    f="$cgdir/callgrind.out.${names[$i]}.live.$n"
    [[ -f "$f" ]] || continue
    echo
    echo "${names[$i]}: instructions by function, live page, N=$n (callgrind_annotate $f)"
    callgrind_annotate "$f" 2>/dev/null | awk '/file:function/ { on = 1; getline; next } on && /^ *[0-9]/ { print "  " $0; if (++k == 8) exit }'
  done
fi
