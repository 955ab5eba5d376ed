#!/usr/bin/env bash
# Run the allocator benchmarks of bench/ under glibc, jemalloc, tcmalloc,
# C mimalloc (Debian's 2.0.9; 2.1.7, 2.3.2 and 3.3.2 built from source),
# snmalloc and ours, side by side, and print wall time, peak RSS, system time
# and CPU time, and the ratio to ours. See bench/README.md.
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
  --stat median|min  the wall, system and CPU time reported per workload (default median); on a noisy machine
                     the minimum is the steadier estimate of an allocator's own cost
  --threads N        worker threads of the multi-threaded workloads (default: online CPUs)
  --only LIST        comma-separated workloads (default: all); "stress", "threads" and
                     "programs" name groups:
                     stress:   churn,larson,prodcons,threadchurn,large,realloc,mtchurn,
                               threadwave,pool,test-stress
                     threads:  threadchurn,threadwave,pool,test-stress (short-lived threads)
                     programs: py,perl,sqlite,gcc (real programs, see bench/README.md)
  --allocators LIST  comma-separated allocators (default: glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours);
                     also mi-2.3.2, mi-3.3.2, snmalloc (built from source on first use);
                     "all" names all nine
  --alloc NAME=PATH  add another allocator to compare (may be repeated), e.g. ours-secure=...
  --env NAME:VAR=VAL run allocator NAME with VAR=VAL in its environment (may be repeated), e.g.
                     --alloc ours-p0=out/release/libmimalloc.so --env ours-p0:MIMALLOC_PURGE_DELAY=0
                     compares our library with and without eager purging in one run
  --ref NAME         allocator the ratios are relative to (default: ours; mi-2.1.7 if ours is missing)
  --no-install       do not install (apt-get) or build (C mimalloc, snmalloc) missing comparison allocators
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
stress_workloads="churn,larson,prodcons,threadchurn,large,realloc,mtchurn,threadwave,pool,test-stress"
thread_workloads="threadchurn,threadwave,pool,test-stress"
program_workloads="py,perl,sqlite,gcc"
only="$stress_workloads,$program_workloads"
alloc_list="glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,ours"
ref=""
install=1
builddir="${BENCH_BUILD_DIR:-$root/out/bench}"
timeout=120
extra=()
envs=()

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
    --env) envs+=("$2"); shift 2 ;;
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
progs=(churn larson prodcons threadchurn large realloc mtchurn threadwave pool)
for p in "${progs[@]}"; do
  if [[ ! -x "$builddir/$p" || "$here/$p.c" -nt "$builddir/$p" || "$here/common.h" -nt "$builddir/$p" ]]; then
    $cc -O2 -pthread -Wall -o "$builddir/$p" "$here/$p.c" || die "cannot build $p"
  fi
done
# test-stress: mimalloc's own stress test (test/test-stress.c), unchanged, with
# a mimalloc.h that maps its mi_* calls onto malloc/calloc/realloc/free.
stress_src=$root/test/test-stress.c stress_shim=$here/test-stress-shim/mimalloc.h
if [[ -f "$stress_src" ]] && [[ ! -x "$builddir/test-stress" || "$stress_src" -nt "$builddir/test-stress" ||
      "$stress_shim" -nt "$builddir/test-stress" ]]; then
  $cc -O2 -pthread -Wall -DNDEBUG -I "$here/test-stress-shim" -o "$builddir/test-stress" "$stress_src" ||
    die "cannot build test-stress"
fi
# shellcheck source=allocators.sh
source "$here/allocators.sh"
setup_allocators
# --env NAME:VAR=VAL: the environment of each allocator's runs.
declare -A alloc_env=()
for e in ${envs[@]+"${envs[@]}"}; do
  [[ "$e" =~ ^([^:]+):([A-Za-z_][A-Za-z0-9_]*=.*)$ ]] || die "--env wants NAME:VAR=VALUE, not '$e'"
  [[ " ${names[*]} " == *" ${BASH_REMATCH[1]} "* ]] || die "--env ${BASH_REMATCH[1]}: no such allocator"
  alloc_env[${BASH_REMATCH[1]}]+="${alloc_env[${BASH_REMATCH[1]}]:+ }${BASH_REMATCH[2]}"
done

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
    threadwave)  echo "-t $(( 4 * threads )) -x $scale" ;;
    pool)        echo "-t $(( 2 * threads )) -x $scale" ;;
    test-stress) # `test-stress 8 50 20`: 8 threads, load 50%, 20 rounds (x scale)
                 echo "8 50 $(awk -v s="$scale" 'BEGIN { n = int(20 * s + 0.5); print (n < 1 ? 1 : n) }')" ;;
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
IFS=, read -r -a given <<<"$only"
requested=()
for w in "${given[@]}"; do
  case "$w" in
    stress) IFS=, read -r -a group <<<"$stress_workloads" ;;
    threads) IFS=, read -r -a group <<<"$thread_workloads" ;;
    programs) IFS=, read -r -a group <<<"$program_workloads" ;;
    *) group=("$w") ;;
  esac
  for g in "${group[@]}"; do
    [[ " ${requested[*]-} " == *" $g "* ]] || requested+=("$g")
  done
done
workloads=()
for w in ${requested[@]+"${requested[@]}"}; do
  if program_cmd "$w" >/dev/null; then
    if ! command -v "$(program_tool "$w")" >/dev/null 2>&1; then
      note "skipping workload $w: $(program_tool "$w") is not installed"
      continue
    fi
  else
    workload_args "$w" >/dev/null || die "unknown workload '$w'"
    if [[ ! -x "$builddir/$w" ]]; then
      note "skipping workload $w: $builddir/$w is not built"
      continue
    fi
  fi
  workloads+=("$w")
done
[[ ${#workloads[@]} -gt 0 ]] || die "no workload left to run"

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
      read -r -a env_of <<<"${alloc_env[$n]-}"
      env ${env_of[@]+"${env_of[@]}"} "$builddir/benchwrap" -p "$l" -o "$res" -T "$timeout" -- "${cmd[@]}" >"$log" 2>&1 || true
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
  else printf '  %-10s %s%s\n' "${names[$i]}" "${libs[$i]}" "${alloc_env[${names[$i]}]:+ with ${alloc_env[${names[$i]}]}}"; fi
done
wl=()
for w in "${workloads[@]}"; do wl+=("$w: $(workload_cmd "$w" | sed "s|$builddir/||; s|$here/||")"); done
echo "workloads (stress programs in $builddir, real-program scripts in bench/programs):"
printf '  %s\n' "${wl[@]}"
echo

awk -F'\t' -v order="$(IFS=,; echo "${names[*]}")" -v worder="$(IFS=,; echo "${workloads[*]}")" \
    -v ref="$ref" -v logs="$builddir/logs" -v stat="$stat" '
  # vals[m, key, i]: metric m ("wall", "sys", "cpu" = user + sys, "rss") of
  # repetition i of key = workload SUBSEP allocator; cnt[key] repetitions.
  function sorted(m, key, a,   n, i, j, t) {
    n = cnt[key]
    for (i = 1; i <= n; i++) a[i] = vals[m, key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n
  }
  function median(m, key,   n, a) {
    n = sorted(m, key, a)
    if (n % 2) return a[(n + 1) / 2]
    return (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function minimum(m, key,   n, a) { n = sorted(m, key, a); return a[1] }
  function spread(m, key,   n, a, md) {
    n = sorted(m, key, a); md = median(m, key)
    return md > 0 ? (a[n] - a[1]) / md * 100 : 0
  }
  # One table: metric m, values V[m, key] printed with format fmt; a cell gets
  # a ratio to the reference when the reference value is at least minref.
  function table(m, fmt, minref,   w, a, k, rk, cell, r, gl, gn) {
    printf "%-12s", "workload"; for (a = 1; a <= na; a++) printf " %17s", A[a]; printf "\n"
    for (w = 1; w <= nw; w++) {
      printf "%-12s", W[w]
      rk = W[w] SUBSEP ref
      for (a = 1; a <= na; a++) {
        k = W[w] SUBSEP A[a]
        if (k in failed) { cell = (m == "wall" ? sprintf("FAIL(status %d)", failed[k]) : "FAIL"); if (m == "wall") nfail++ }
        else if (!((m, k) in V)) cell = "-"
        else if (!((m, rk) in V) || V[m, rk] <= 0 || V[m, rk] < minref) cell = sprintf(fmt, V[m, k])
        else {
          r = V[m, k] / V[m, rk]; cell = sprintf(fmt " (%.2fx)", V[m, k], r)
          if (r > 0) { gl[A[a]] += log(r); gn[A[a]]++ }
        }
        printf " %17s", cell
      }
      printf "\n"
    }
    printf "%-12s", "geomean"
    for (a = 1; a <= na; a++) printf " %17s", (gn[A[a]] > 0 ? sprintf("(%.2fx)", exp(gl[A[a]] / gn[A[a]])) : "-")
    printf "\n"
  }
  NR == 1 { next }
  {
    k = $1 SUBSEP $2
    if ($8 != 0) { failed[k] = $8; next }
    n = ++cnt[k]
    vals["wall", k, n] = $4; vals["sys", k, n] = $6; vals["cpu", k, n] = $5 + $6
    vals["rss", k, n] = $7 / 1024
  }
  END {
    na = split(order, A, ","); nw = split(worder, W, ",")
    for (w = 1; w <= nw; w++) for (a = 1; a <= na; a++) {
      k = W[w] SUBSEP A[a]
      if (cnt[k] > 0 && !(k in failed)) {
        V["wall", k] = (stat == "min" ? minimum("wall", k) : median("wall", k)); S[k] = spread("wall", k)
        V["sys", k] = (stat == "min" ? minimum("sys", k) : median("sys", k))
        V["cpu", k] = (stat == "min" ? minimum("cpu", k) : median("cpu", k))
        V["rss", k] = median("rss", k)   # peak RSS in MiB: always the median
      }
    }
    printf "Time: %s wall-clock seconds,", stat
    printf " (ratio = time / time of %s; >1 means slower than %s)\n", ref, ref
    table("wall", "%.3f", 0)
    printf "%-12s", "max spread"
    for (a = 1; a <= na; a++) {
      m = -1; for (w = 1; w <= nw; w++) { k = W[w] SUBSEP A[a]; if ((k in S) && S[k] > m) m = S[k] }
      printf " %17s", (m >= 0 ? sprintf("%.0f%%", m) : "-")
    }
    printf "\n\n"
    printf "Peak RSS: median MiB, (ratio = RSS / RSS of %s)\n", ref
    table("rss", "%.1f", 0)
    printf "\n"
    printf "System time: %s seconds of kernel CPU time, (ratio = sys / sys of %s;\n", stat, ref
    printf "no ratio where %s used less than 0.02 s: the kernel counts CPU time in ticks of a few ms)\n", ref
    table("sys", "%.3f", 0.02)
    printf "\n"
    printf "CPU time: %s seconds of user + system CPU time, all threads, (ratio = CPU / CPU of %s)\n", stat, ref
    table("cpu", "%.3f", 0.02)
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
