# Shared by bench/run.sh and bench/callgrind.sh (sourced, not run): builds
# the helper tools, finds (and if allowed installs) the comparison
# allocators, and selects and verifies the allocators to run.
#
# Expects: here builddir cc install alloc_list ours extra[] ref, and the
# functions note() and die().
# Sets: names[] and libs[] (libs[i] = "" is the system allocator), ref.

# What --allocators all means.
bench_all_allocators="glibc,jemalloc,tcmalloc,mi-2.0.9,mi-2.1.7,mi-2.3.2,mi-3.3.2,snmalloc,ours"

# bench_find_lib PACKAGE DEFAULT-PATH REGEX: the library of a Debian package.
bench_find_lib() {
  local pkg=$1 def=$2 re=$3 f
  if [[ -e "$def" ]]; then echo "$def"; return 0; fi
  f=$(dpkg -L "$pkg" 2>/dev/null | grep -E "$re" | head -n1 || true)
  if [[ -n "$f" && -e "$f" ]]; then echo "$f"; return 0; fi
  f=$(ldconfig -p 2>/dev/null | grep -E "$re" | head -n1 | sed 's/.*=> //' || true)
  if [[ -n "$f" && -e "$f" ]]; then echo "$f"; return 0; fi
  return 1
}

bench_locate() {
  local libdir=/usr/lib/x86_64-linux-gnu multiarch
  multiarch=$(gcc -print-multiarch 2>/dev/null || true)
  [[ -n "$multiarch" ]] && libdir=/usr/lib/$multiarch
  je=$(bench_find_lib libjemalloc2 "$libdir/libjemalloc.so.2" '/libjemalloc\.so\.2$' || true)
  tc=$(bench_find_lib libtcmalloc-minimal4 "$libdir/libtcmalloc_minimal.so.4" '/libtcmalloc_minimal\.so\.4$' || true)
  mi=$(bench_find_lib libmimalloc2.0 "$libdir/libmimalloc.so.2.0" '/libmimalloc\.so\.2\.0$' || true)
}

bench_install() {
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      note "comparison allocators missing and not root; install them with:"
      note "  sudo apt-get update && sudo apt-get install -y libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0"
      return 0
    fi
  fi
  echo "installing comparison allocators (apt-get; log in $builddir/logs/apt.log) ..." >&2
  { $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
  } >"$builddir/logs/apt.log" 2>&1 || note "apt-get failed, see $builddir/logs/apt.log"
}

# bench_built NAME LIB WHAT SCRIPT [ARGS...]: an allocator built from source
# (C mimalloc, snmalloc) by bench/SCRIPT ARGS: built on first use unless
# --no-install, then added.
bench_built() {
  local name=$1 lib=$2 what=$3 script=$4
  shift 4
  if [[ ! -f "$lib" && $install -eq 1 ]]; then
    "$here/$script" "$@" --build-dir "$builddir" --variants release --quiet >/dev/null ||
      note "could not build $what (bench/$script needs cargo, cmake and a C/C++ compiler)"
  fi
  if [[ -f "$lib" ]]; then
    names+=("$name"); libs+=("$lib")
  else
    note "$what not built (run bench/$script${*:+ $*}); skipped"
  fi
}

setup_allocators() {
  local p a e i n l v out want ok fn got glibc_so cand
  mkdir -p "$builddir/logs"
  for p in benchwrap allocprobe; do
    if [[ ! -x "$builddir/$p" || "$here/$p.c" -nt "$builddir/$p" ]]; then
      $cc -O2 -Wall -o "$builddir/$p" "$here/$p.c" -ldl || die "cannot build $p"
    fi
  done

  bench_locate
  if [[ -z "$je" || -z "$tc" || -z "$mi" ]] && [[ $install -eq 1 ]]; then
    bench_install
    bench_locate
  fi

  names=()
  libs=()
  local wanted=() given all_list
  IFS=, read -r -a given <<<"$alloc_list"
  IFS=, read -r -a all_list <<<"$bench_all_allocators"
  for a in ${given[@]+"${given[@]}"}; do
    if [[ $a == all ]]; then wanted+=("${all_list[@]}"); else wanted+=("$a"); fi
  done
  for a in ${wanted[@]+"${wanted[@]}"}; do
    case "$a" in
      glibc) names+=(glibc); libs+=("") ;;
      jemalloc|je)
        if [[ -n "$je" ]]; then names+=(jemalloc); libs+=("$je"); else note "jemalloc not found (package libjemalloc2); skipped"; fi ;;
      tcmalloc|tc)
        if [[ -n "$tc" ]]; then names+=(tcmalloc); libs+=("$tc"); else note "tcmalloc not found (package libtcmalloc-minimal4); skipped"; fi ;;
      mi-2.0.9|mimalloc|mi)
        if [[ -n "$mi" ]]; then names+=(mi-2.0.9); libs+=("$mi"); else note "C mimalloc 2.0.9 not found (package libmimalloc2.0); skipped"; fi ;;
      mi-2.1.7|mi-2.1|mi-2.3.2|mi-2.3|mi-3.3.2|mi-3.3|mi-3)
        # C mimalloc 2.1.7 (the version we re-implement), 2.3.2 and 3.3.2:
        # built from source by c-mimalloc.sh (no distribution packages them).
        case "$a" in
          mi-2.1*) v=2.1.7 ;;
          mi-2.3*) v=2.3.2 ;;
          *) v=3.3.2 ;;
        esac
        bench_built "mi-$v" "$builddir/c-mimalloc/$v/release/libmimalloc.so" "C mimalloc $v" \
          c-mimalloc.sh --version "$v" ;;
      snmalloc|sn)
        # snmalloc's LD_PRELOAD shim, built from source by snmalloc.sh.
        bench_built snmalloc "$builddir/snmalloc/release/libsnmallocshim.so" snmalloc snmalloc.sh ;;
      ours)
        if [[ -f "$ours" ]]; then
          names+=(ours); libs+=("$(realpath "$ours")")
        else
          note "our library is not at $ours -- the 'ours' column is skipped."
          note "build it first, or pass --ours PATH (or set MIMALLOC_RS_LIB)."
        fi ;;
      *) die "unknown allocator '$a' (use --alloc NAME=PATH for others)" ;;
    esac
  done
  for e in ${extra[@]+"${extra[@]}"}; do
    [[ "$e" == *=* ]] || die "--alloc wants NAME=PATH"
    [[ -f "${e#*=}" ]] || die "--alloc ${e%%=*}: no such file ${e#*=}"
    names+=("${e%%=*}"); libs+=("$(realpath "${e#*=}")")
  done

  # Verify that each preload really replaces malloc and free: ld.so only warns
  # when it cannot preload, and ignores a library without malloc, so the
  # column would silently measure glibc.
  glibc_so=$(LD_PRELOAD= "$builddir/allocprobe" | awk '$1 == "malloc" { print $2 }')
  local keep_names=() keep_libs=()
  for i in "${!names[@]}"; do
    n=${names[$i]} l=${libs[$i]}
    [[ " ${keep_names[*]-} " != *" $n "* ]] || continue  # named twice
    if ! out=$(LD_PRELOAD="$l" "$builddir/allocprobe" 2>&1); then
      note "$n: a test program fails with $l preloaded; skipped:"
      echo "$out" | sed 's/^/    /' >&2
      continue
    fi
    want=${l:-$glibc_so}
    ok=1
    for fn in malloc free; do
      got=$(echo "$out" | awk -v f=$fn '$1 == f { print $2 }')
      if [[ "$(realpath "$got" 2>/dev/null)" != "$(realpath "$want")" ]]; then
        note "$n: $fn comes from '$got', not $want (is the library built to export malloc/free?); skipped"
        ok=0
      fi
    done
    [[ $ok -eq 1 ]] || continue
    keep_names+=("$n"); keep_libs+=("$l")
  done
  names=(${keep_names[@]+"${keep_names[@]}"})
  libs=(${keep_libs[@]+"${keep_libs[@]}"})
  [[ ${#names[@]} -gt 0 ]] || die "no allocator left to run"

  if [[ -z "$ref" ]]; then
    ref=ours
    if [[ " ${names[*]} " != *" ours "* ]]; then
      for cand in mi-2.1.7 mi-2.0.9 glibc "${names[0]}"; do
        if [[ " ${names[*]} " == *" $cand "* ]]; then ref=$cand; break; fi
      done
      note "ratios are relative to '$ref' because 'ours' is not being run"
    fi
  fi
  [[ " ${names[*]} " == *" $ref "* ]] || die "--ref $ref is not among the allocators run (${names[*]})"
  return 0
}
