#!/usr/bin/env bash
# Run the allocator benchmarks of bench/ under glibc, jemalloc, tcmalloc,
# Debian's C mimalloc 2.0.9 and ours, side by side, and print time, peak RSS
# and the ratio to ours. See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]

  --ours PATH        our libmimalloc.so (default: $MIMALLOC_RS_LIB, else out/release/libmimalloc.so)
  --quick            short runs for testing the harness (--scale 0.1; 3 repetitions)
  --scale F          multiply every workload's iteration count by F (default 1)
  --reps N           repetitions per allocator and workload (default 3)
  --stat median|min  the time reported per workload (default median); on a noisy machine
                     the minimum is the steadier estimate of an allocator's own cost
  --threads N        worker threads of the multi-threaded workloads (default: online CPUs)
  --only LIST        comma-separated workloads (default: all); "stress" and
                     "programs" name the two groups:
                     stress:   churn,larson,prodcons,threadchurn,large,realloc,mtchurn
                     programs: py,perl,sqlite,gcc (real programs, see bench/README.md)
  --allocators LIST  comma-separated allocators (default: glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours)
  --alloc NAME=PATH  add another allocator to compare (may be repeated), e.g. ours-secure=...
  --ref NAME         allocator the ratios are relative to (default: ours; mi-2.1.7 if ours is missing)
  --no-install       do not install (apt-get) or build (C mimalloc 2.1.7) missing comparison allocators
  --build-dir DIR    where programs and results go (default: out/bench, or $BENCH_BUILD_DIR)
  --timeout S        kill a run after S seconds (default 120)
  -h, --help         this text

Raw results of every run go to <build-dir>/results-<date>.tsv, the output of
each run to <build-dir>/logs/.
EOF
}

ours="${MIMALLOC_RS_LIB:-$root/out/release/libmimalloc.so}"
scale=1
reps=3
stat=median
threads=$(nproc 2>/dev/null || echo 2)
stress_workloads="churn,larson,prodcons,threadchurn,large,realloc,mtchurn"
program_workloads="py,perl,sqlite,gcc"
only="$stress_workloads,$program_workloads"
alloc_list="glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours"
ref=""
install=1
builddir="${BENCH_BUILD_DIR:-$root/out/bench}"
timeout=120
extra=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --ours) ours="$2"; shift 2 ;;
    --ours=*) ours="${1#*=}"; shift ;;
    --quick) scale=0.1; shift ;;
    --scale) scale="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --stat) stat="$2"; shift 2 ;;
    --stat=*) stat="${1#*=}"; shift ;;
    --threads) threads="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --allocators) alloc_list="$2"; shift 2 ;;
    --alloc) extra+=("$2"); shift 2 ;;
    --ref) ref="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --build-dir) builddir="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

note() { echo "note: $*" >&2; }
die() { echo "run.sh: $*" >&2; exit 1; }

[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
[[ "$stat" == median || "$stat" == min ]] || die "--stat must be median or min"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"

# ------------------------------------------------------------------ build
mkdir -p "$builddir/logs"
cc=${CC:-cc}
progs=(churn larson prodcons threadchurn large realloc mtchurn)
for p in "${progs[@]}"; do
  if [[ ! -x "$builddir/$p" || "$here/$p.c" -nt "$builddir/$p" || "$here/common.h" -nt "$builddir/$p" ]]; then
    $cc -O2 -pthread -Wall -o "$builddir/$p" "$here/$p.c" || die "cannot build $p"
  fi
done
# shellcheck source=allocators.sh
source "$here/allocators.sh"
setup_allocators

# ------------------------------------------------------------- workloads
half=$(( threads / 2 )); [[ $half -ge 1 ]] || half=1
workload_args() { # workload name -> its arguments (the program is $builddir/<name>)
  case "$1" in
    churn)       echo "-x $scale" ;;
    larson)      echo "-t $threads -x $scale" ;;
    prodcons)    echo "-p $half -x $scale" ;;
    threadchurn) echo "-t $(( 2 * threads )) -x $scale" ;;
    large)       echo "-x $scale" ;;
    realloc)     echo "-x $scale" ;;
    mtchurn)     echo "-t $threads -x $scale" ;;
    *) return 1 ;;
  esac
}
# Real programs: the command and the tool it needs.
program_cmd() {
  case "$1" in
    py)     echo "env PYTHONMALLOC=malloc python3 $here/programs/py.py $scale" ;;
    perl)   echo "perl $here/programs/perl.pl $scale" ;;
    sqlite) echo "sh $here/programs/sqlite.sh $scale" ;;
    gcc)    echo "sh $here/programs/gcc.sh $scale" ;;
    *) return 1 ;;
  esac
}
program_tool() { case "$1" in py) echo python3 ;; sqlite) echo sqlite3 ;; *) echo "$1" ;; esac; }
workload_cmd() { # workload name -> the command line to run
  if program_cmd "$1" >/dev/null; then program_cmd "$1"
  else echo "$builddir/$1 $(workload_args "$1")"; fi
}
only=${only//stress/$stress_workloads}
only=${only//programs/$program_workloads}
IFS=, read -r -a requested <<<"$only"
workloads=()
for w in "${requested[@]}"; do
  if program_cmd "$w" >/dev/null; then
    if ! command -v "$(program_tool "$w")" >/dev/null 2>&1; then
      note "skipping workload $w: $(program_tool "$w") is not installed"
      continue
    fi
  else
    workload_args "$w" >/dev/null || die "unknown workload '$w'"
  fi
  workloads+=("$w")
done

# ------------------------------------------------------------------- run
ncpu=$(nproc 2>/dev/null || echo 1)
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$load" -v n="$ncpu" 'BEGIN { exit !(l > n * 0.5) }'; then
  note "the machine looks busy (load average $load on $ncpu CPUs): expect noisy results"
fi

stamp=$(date +%Y%m%d-%H%M%S)
tsv="$builddir/results-$stamp.tsv"
printf 'workload\tallocator\trep\twall_s\tuser_s\tsys_s\tmaxrss_kb\tstatus\n' >"$tsv"
nalloc=${#names[@]}
total=$(( ${#workloads[@]} * reps * nalloc ))
echo "running ${#workloads[@]} workloads x $nalloc allocators x $reps reps (scale $scale, $threads threads) ..." >&2
count=0
for w in "${workloads[@]}"; do
  read -r -a cmd <<<"$(workload_cmd "$w")"
  [[ -t 2 ]] || echo "  $w: ${cmd[*]}" >&2
  for (( rep = 1; rep <= reps; rep++ )); do
    # Interleave the allocators and rotate their order in every repetition,
    # so slow drifts of the machine hit all of them alike.
    for (( k = 0; k < nalloc; k++ )); do
      i=$(( (k + rep - 1) % nalloc ))
      n=${names[$i]} l=${libs[$i]}
      count=$(( count + 1 ))
      if [[ -t 2 ]]; then
        printf '\r  [%d/%d] %-12s %-10s rep %d   ' "$count" "$total" "$w" "$n" "$rep" >&2
      fi
      log="$builddir/logs/$w.$n.$rep.log"
      res="$builddir/logs/$w.$n.$rep.res"
      rm -f "$res"
      "$builddir/benchwrap" -p "$l" -o "$res" -T "$timeout" -- "${cmd[@]}" >"$log" 2>&1 || true
      if [[ -s "$res" ]]; then
        awk -v w="$w" -v n="$n" -v r="$rep" '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w, n, r, v["wall"], v["user"], v["sys"], v["maxrss_kb"], v["status"]
          }' "$res" >>"$tsv"
      else
        printf '%s\t%s\t%s\t0\t0\t0\t0\t%s\n' "$w" "$n" "$rep" 126 >>"$tsv"
      fi
    done
  done
done
[[ -t 2 ]] && printf '\r%60s\r' '' >&2

# ----------------------------------------------------------------- report
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
glibc_ver=$(ldd --version 2>/dev/null | awk 'NR == 1 { print $NF }')
echo "Allocator benchmarks: $ncpu CPUs${cpu_model:+ ($cpu_model)}, threads=$threads, scale=$scale, $stat of $reps"
echo "load average at start: $load"
for i in "${!names[@]}"; do
  if [[ -z "${libs[$i]}" ]]; then printf '  %-10s system malloc (glibc %s)\n' "${names[$i]}" "$glibc_ver"
  else printf '  %-10s %s\n' "${names[$i]}" "${libs[$i]}"; fi
done
wl=()
for w in "${workloads[@]}"; do wl+=("$w: $(workload_cmd "$w" | sed "s|$builddir/||; s|$here/||")"); done
echo "workloads (stress programs in $builddir, real-program scripts in bench/programs):"
printf '  %s\n' "${wl[@]}"
echo

awk -F'\t' -v order="$(IFS=,; echo "${names[*]}")" -v worder="$(IFS=,; echo "${workloads[*]}")" \
    -v ref="$ref" -v logs="$builddir/logs" -v stat="$stat" '
  function median(key,   n, i, j, t, a) {
    n = cnt[key]
    for (i = 1; i <= n; i++) a[i] = vals[key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function minimum(key,   n, i, lo) {
    n = cnt[key]; lo = vals[key, 1]
    for (i = 2; i <= n; i++) if (vals[key, i] < lo) lo = vals[key, i]
    return lo
  }
  function spread(key,   n, i, lo, hi, m) {
    n = cnt[key]; lo = hi = vals[key, 1]
    for (i = 2; i <= n; i++) { if (vals[key, i] < lo) lo = vals[key, i]; if (vals[key, i] > hi) hi = vals[key, i] }
    m = median(key)
    return m > 0 ? (hi - lo) / m * 100 : 0
  }
  NR == 1 { next }
  {
    k = $1 SUBSEP $2
    if ($8 != 0) { failed[k] = $8; next }
    cnt[k]++; vals[k, cnt[k]] = $4
    rcnt[k]++; rss[k, rcnt[k]] = $7
  }
  END {
    na = split(order, A, ","); nw = split(worder, W, ",")
    for (w = 1; w <= nw; w++) for (a = 1; a <= na; a++) {
      k = W[w] SUBSEP A[a]
      if (cnt[k] > 0 && !(k in failed)) {
        T[k] = (stat == "min" ? minimum(k) : median(k)); S[k] = spread(k)
        # median peak RSS in MiB
        n = rcnt[k]; for (i = 1; i <= n; i++) vals["rss", i] = rss[k, i]; cnt["rss"] = n
        R[k] = median("rss") / 1024
      }
    }
    # time table
    printf "Time: %s wall-clock seconds,", stat
    printf " (ratio = time / time of %s; >1 means slower than %s)\n", ref, ref
    printf "%-12s", "workload"; for (a = 1; a <= na; a++) printf " %17s", A[a]; printf "\n"
    for (w = 1; w <= nw; w++) {
      printf "%-12s", W[w]
      rk = W[w] SUBSEP ref
      for (a = 1; a <= na; a++) {
        k = W[w] SUBSEP A[a]
        if (k in failed) { cell = sprintf("FAIL(status %d)", failed[k]); nfail++ }
        else if (!(k in T)) cell = "-"
        else if (!(rk in T) || T[rk] <= 0) cell = sprintf("%.3f", T[k])
        else {
          r = T[k] / T[rk]; cell = sprintf("%.3f (%.2fx)", T[k], r)
          gl[A[a]] += log(r); gn[A[a]]++
        }
        printf " %17s", cell
      }
      printf "\n"
    }
    printf "%-12s", "geomean"
    for (a = 1; a <= na; a++) printf " %17s", (gn[A[a]] > 0 ? sprintf("(%.2fx)", exp(gl[A[a]] / gn[A[a]])) : "-")
    printf "\n"
    printf "%-12s", "max spread"
    for (a = 1; a <= na; a++) {
      m = -1; for (w = 1; w <= nw; w++) { k = W[w] SUBSEP A[a]; if ((k in S) && S[k] > m) m = S[k] }
      printf " %17s", (m >= 0 ? sprintf("%.0f%%", m) : "-")
    }
    printf "\n\n"
    # RSS table
    printf "Peak RSS: median MiB, (ratio = RSS / RSS of %s)\n", ref
    printf "%-12s", "workload"; for (a = 1; a <= na; a++) printf " %17s", A[a]; printf "\n"
    for (w = 1; w <= nw; w++) {
      printf "%-12s", W[w]
      rk = W[w] SUBSEP ref
      for (a = 1; a <= na; a++) {
        k = W[w] SUBSEP A[a]
        if (k in failed) cell = "FAIL"
        else if (!(k in R)) cell = "-"
        else if (!(rk in R) || R[rk] <= 0) cell = sprintf("%.1f", R[k])
        else { r = R[k] / R[rk]; cell = sprintf("%.1f (%.2fx)", R[k], r); ml[A[a]] += log(r); mn[A[a]]++ }
        printf " %17s", cell
      }
      printf "\n"
    }
    printf "%-12s", "geomean"
    for (a = 1; a <= na; a++) printf " %17s", (mn[A[a]] > 0 ? sprintf("(%.2fx)", exp(ml[A[a]] / mn[A[a]])) : "-")
    printf "\n"
    if (nfail > 0) {
      printf "\n%d workload/allocator combinations FAILED (status 99 = data check failed, 124 = timeout,\n", nfail
      printf "128+N = killed by signal N); they are left out of the geometric means. Logs: %s/<workload>.<allocator>.<rep>.log\n", logs
    }
  }' "$tsv"
awk -F'\t' 'NR > 1 && $8 != 0 && !seen[$1 "." $2]++ { print $1 "." $2 "." $3 }' "$tsv" | while read -r f; do
  echo "  $f: $(grep -m1 -E 'CHECK FAILED|rror|Segmentation|Abort' "$builddir/logs/$f.log" 2>/dev/null || tail -n1 "$builddir/logs/$f.log")"
done
echo
echo "max spread = largest (max - min) / median of the repetitions of one workload; raw results: $tsv"
