#!/bin/sh
# test-packages.sh -- build the packages and use them as a user would (CI runs it after
# bin/test.sh; it is not part of the README's test command). Steps:
#
#   cpack   bin/package.sh makes the .deb, .rpm and .tar.gz packages. The .debs: control
#           fields, file lists, lintian (no errors); then installed with apt-get, the
#           downstream projects of test/downstream (C, C++, CMake find_package, pkg-config,
#           static and object linking) built and run against /usr, a real program run with
#           LD_PRELOAD, the packages purged and nothing of them left. The .rpms: metadata
#           and file lists with rpm -qip/-qlp. The .tar.gz: unpacked into a temporary
#           directory and used from there by the downstream projects (it is relocatable).
#   debian  the Debian source package: dpkg-buildpackage -us -uc -b with Debian's
#           rustc-web/cargo-web, offline (crates vendored by debian/vendor.sh); the same
#           package names, control fields and file lists as the CPack .debs; lintian; then
#           the same install test.
#   conan   `conan create .` of conanfile.py (shared and static), whose test_package uses
#           find_package(mimalloc) (Conan 2 from pip, in a private Conan home)
#   vcpkg   the vcpkg port's CMake configure/build/install steps (ports/mimalloc-rs), run
#           directly with the options the portfile passes, then a consumer of the result
#
# What the machine lacks (lintian, rpm, debhelper, rustc-web, cargo-web, ...) is installed
# with apt-get, as root or with sudo. Debian's own mimalloc packages, if installed, are
# removed by the install test (the packages conflict) and re-installed at its end.
#
# Environment:
#   MI_PACKAGE_TESTS   steps to run (default "cpack debian conan vcpkg")
#   MI_SKIP_PACKAGES=1 skip all of them (.ci/run honours it too)
#   MI_JOBS            parallel jobs (default 2)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${MI_SKIP_PACKAGES:-0}" = 1 ]; then
  echo "test-packages: skipped (MI_SKIP_PACKAGES=1)"
  exit 0
fi
steps=${MI_PACKAGE_TESTS:-cpack debian conan vcpkg}
jobs=${MI_JOBS:-2}
work="$root/out/package-test"
version=$(sed -n 's/^version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n 1)
release=1
passed=0

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
say() { echo "==> test-packages: $*"; }
ok() { passed=$((passed + 1)); echo "ok $passed - $*"; }
fail() {
  echo "FAILED: test-packages: $*" >&2
  echo "test-packages: $passed passed, 1 failed" >&2
  exit 1
}
# apt_need PKG...: install the Debian packages that are not installed yet
apt_updated=0
apt_need() {
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  say "apt-get install$missing"
  if [ "$apt_updated" = 0 ]; then as_root apt-get update >/dev/null; apt_updated=1; fi
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null
}
# same_lists WHAT EXPECTED ACTUAL: two newline-separated lists must be equal
same_lists() {
  if [ "$2" != "$3" ]; then
    printf '%s\n' "$2" > "$work/expected.txt"
    printf '%s\n' "$3" > "$work/actual.txt"
    diff -u "$work/expected.txt" "$work/actual.txt" >&2 || true
    fail "$1 differs from what was expected (diff above: - expected, + actual)"
  fi
}
# deb_files DEB: the files (and symlinks) a .deb installs, sorted, without directories
deb_files() {
  dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | LC_ALL=C sort
}
field() { dpkg-deb -f "$1" "$2"; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || cc -print-multiarch)
debarch=$(dpkg --print-architecture)
libdir="/usr/lib/$multiarch"

# the files of the two .debs, as Debian's layout has them (GNUInstallDirs' multiarch libdir)
expected_runtime=$(LC_ALL=C sort <<EOF
$libdir/libmimalloc.so.2
$libdir/libmimalloc.so.2.1
/usr/share/doc/libmimalloc-rs2/changelog.Debian.gz
/usr/share/doc/libmimalloc-rs2/copyright
EOF
)
expected_dev=$(LC_ALL=C sort <<EOF
/usr/include/mimalloc-2.1/mimalloc-new-delete.h
/usr/include/mimalloc-2.1/mimalloc-override.h
/usr/include/mimalloc-2.1/mimalloc.h
$libdir/cmake/mimalloc-2.1/mimalloc-config-version.cmake
$libdir/cmake/mimalloc-2.1/mimalloc-config.cmake
$libdir/cmake/mimalloc-2.1/mimalloc-@CONFIG@.cmake
$libdir/cmake/mimalloc-2.1/mimalloc.cmake
$libdir/libmimalloc.so
$libdir/mimalloc-2.1/libmimalloc.a
$libdir/mimalloc-2.1/mimalloc.o
$libdir/pkgconfig/mimalloc.pc
/usr/share/doc/libmimalloc-rs-dev/changelog.Debian.gz
/usr/share/doc/libmimalloc-rs-dev/copyright
EOF
)

# check_debs DIR CONFIG: control fields, file lists and lintian of the two .debs in DIR
# (CONFIG: the CMake build type in lower case, which names one file of the CMake package)
check_debs() {
  dir=$1
  runtime=$dir/libmimalloc-rs2_${version}-${release}_${debarch}.deb
  dev=$dir/libmimalloc-rs-dev_${version}-${release}_${debarch}.deb
  [ -f "$runtime" ] && [ -f "$dev" ] || fail "$dir lacks $(basename "$runtime") or $(basename "$dev")"
  dpkg-deb -I "$runtime"; dpkg-deb -I "$dev"
  [ "$(field "$runtime" Version)" = "$version-$release" ] || fail "runtime version"
  field "$runtime" Depends | grep -Eq '^libc6 \(>= 2\.[0-9]+\)' || fail "runtime must depend on libc6 (>= 2.x)"
  [ "$(field "$runtime" Conflicts)" = libmimalloc2.0 ] && [ "$(field "$runtime" Replaces)" = libmimalloc2.0 ] \
    || fail "runtime must conflict with and replace libmimalloc2.0"
  [ "$(field "$runtime" Provides)" = "libmimalloc2.0 (= $version)" ] || fail "runtime must provide libmimalloc2.0 (= $version)"
  [ "$(field "$runtime" Section)" = libs ] && [ "$(field "$dev" Section)" = libdevel ] || fail "sections"
  [ "$(field "$dev" Depends)" = "libmimalloc-rs2 (= $version-$release)" ] || fail "dev must depend on the same runtime version"
  [ "$(field "$dev" Conflicts)" = libmimalloc-dev ] && [ "$(field "$dev" Replaces)" = libmimalloc-dev ] \
    || fail "dev must conflict with and replace libmimalloc-dev"
  dpkg-deb --ctrl-tarfile "$runtime" | tar -xOf - ./shlibs | grep -qx "libmimalloc 2 libmimalloc-rs2 (>= $version-$release)" \
    || dpkg-deb --ctrl-tarfile "$runtime" | tar -tf - | grep -q symbols || fail "runtime has neither shlibs nor symbols"
  ok "$2: control fields of $(basename "$runtime") and $(basename "$dev")"
  same_lists "files of $(basename "$runtime")" "$expected_runtime" "$(deb_files "$runtime")"
  same_lists "files of $(basename "$dev")" "$(echo "$expected_dev" | sed "s/@CONFIG@/$3/" | LC_ALL=C sort)" "$(deb_files "$dev")"
  ok "$2: file lists of the runtime and dev packages"
  lintian --fail-on error "$runtime" "$dev" 2>&1 | grep -v '^running with root' | tee "$work/lintian-$2.txt" \
    || fail "lintian reports errors"
  if grep -q '^E:' "$work/lintian-$2.txt"; then fail "lintian reports errors"; fi
  ok "$2: lintian reports no errors ($(grep -c '^W:' "$work/lintian-$2.txt" || true) warnings)"
}

# Debian's own mimalloc packages conflict with ours: remember them, and put them back
debian_mimalloc=""
for p in libmimalloc2.0 libmimalloc-dev; do
  if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    debian_mimalloc="$debian_mimalloc $p=$(dpkg-query -W -f='${Version}' "$p")"
  fi
done
restore() {
  for p in libmimalloc-rs-dev libmimalloc-rs2; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y "$p" >/dev/null || true
    fi
  done
  if [ -n "$debian_mimalloc" ]; then
    missing=""
    for pv in $debian_mimalloc; do
      dpkg-query -W -f='${db:Status-Status}' "${pv%%=*}" 2>/dev/null | grep -qx installed || missing="$missing $pv"
    done
    if [ -n "$missing" ]; then
      echo "test-packages: re-installing Debian's$missing"
      # shellcheck disable=SC2086
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null \
        || echo "test-packages: could not re-install$missing" >&2
    fi
  fi
}
trap restore EXIT

# install_test DIR LABEL: install the two .debs of DIR, build and run the downstream
# programs against them, a real program with LD_PRELOAD, purge, check nothing is left
install_test() {
  dir=$1 label=$2
  runtime=$dir/libmimalloc-rs2_${version}-${release}_${debarch}.deb
  dev=$dir/libmimalloc-rs-dev_${version}-${release}_${debarch}.deb
  files=$( (deb_files "$runtime"; deb_files "$dev") | LC_ALL=C sort)
  for f in $files; do
    # only Debian's mimalloc packages, which ours replace, may have it already
    if { [ -e "$f" ] || [ -L "$f" ]; } && ! dpkg-query -S "$f" 2>/dev/null | grep -Eq '^libmimalloc(2\.0|-dev)[:,]'; then
      fail "$f exists before the install (remove the earlier mimalloc install first)"
    fi
  done
  say "$label: apt-get install ./$(basename "$runtime") ./$(basename "$dev")"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$runtime" "$dev"
  for f in $files; do
    [ -e "$f" ] || [ -L "$f" ] || fail "$f is not installed"
  done
  [ "$(readlink -f "$libdir/libmimalloc.so.2")" = "$libdir/libmimalloc.so.2.1" ] || fail "libmimalloc.so.2 is not ours"
  ok "$label: the packages install with apt-get (Debian's mimalloc, if present, replaced)"

  # find_package(mimalloc) from /usr: C and C++ programs, shared, static and object
  ds="$work/$label-downstream"
  rm -rf "$ds"
  cmake -S test/downstream -B "$ds" -DCMAKE_BUILD_TYPE=Release -DMI_EXPECT_PREFIX=/usr >/dev/null
  cmake --build "$ds" -j "$jobs" >/dev/null
  ctest --test-dir "$ds" --output-on-failure || fail "the downstream CMake programs failed"
  for exe in dynamic-override dynamic-override-cxx new-delete-header static-override-obj \
             static-override-obj-cxx static-override static-override-cxx static-override-static; do
    [ -x "$ds/$exe" ] || fail "downstream program $exe was not built"
  done
  ldd "$ds/dynamic-override" | grep -Eq "libmimalloc.so.2 => (/usr)?/lib/$multiarch/libmimalloc.so.2 " \
    || fail "dynamic-override does not load $libdir/libmimalloc.so.2"
  ok "$label: CMake consumers (find_package(mimalloc 2.1): C, C++, shared, static, mimalloc.o) build and run"

  # pkg-config, as a user without CMake: C (shared and static) and C++
  sh test/downstream/pkgconfig-test.sh /usr "lib/$multiarch" "lib/$multiarch/mimalloc-2.1" mimalloc \
     cc "$root/test/downstream" "$work/$label-pkgconfig" pkg-config 1 1 OFF ON >/dev/null \
     || fail "the pkg-config programs failed"
  # shellcheck disable=SC2046
  c++ -std=c++17 -o "$work/$label-pkgconfig/cxx" test/downstream/main-override.cpp $(pkg-config --cflags --libs mimalloc)
  "$work/$label-pkgconfig/cxx" >/dev/null || fail "the C++ pkg-config program failed"
  printf '#include <mimalloc.h>\n#include <stdio.h>\nint main(void) { printf("%%d\\n", mi_version()); return 0; }\n' \
    > "$work/$label-pkgconfig/version.c"
  # shellcheck disable=SC2046
  cc -o "$work/$label-pkgconfig/version" "$work/$label-pkgconfig/version.c" $(pkg-config --cflags --libs mimalloc)
  [ "$("$work/$label-pkgconfig/version")" = 217 ] || fail "mi_version() of the installed library is not 217"
  ok "$label: pkg-config consumers (C shared and static, C++) build and run, mi_version() = 217"

  # a real program with the library preloaded (found by the loader in the system path)
  seq 200000 | LD_PRELOAD=libmimalloc.so.2 MIMALLOC_VERBOSE=1 sort -rn 2> "$work/$label-preload.txt" \
    | head -n 1 > "$work/$label-sorted.txt"
  [ "$(cat "$work/$label-sorted.txt")" = 200000 ] || fail "sort under LD_PRELOAD gave a wrong result"
  grep -q '^mimalloc: process init' "$work/$label-preload.txt" || fail "LD_PRELOAD=libmimalloc.so.2 sort did not load mimalloc"
  if command -v python3 >/dev/null 2>&1; then
    LD_PRELOAD=libmimalloc.so.2 MIMALLOC_VERBOSE=1 python3 -c \
      'import json; d = {str(i): list(range(i % 50)) for i in range(20000)}; assert len(json.dumps(d)) > 100000' \
      2> "$work/$label-python.txt" || fail "python3 under LD_PRELOAD failed"
    grep -q '^mimalloc: process init' "$work/$label-python.txt" || fail "python3 did not load mimalloc"
  fi
  ok "$label: sort and python3 run with LD_PRELOAD=libmimalloc.so.2"

  say "$label: apt-get purge"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y libmimalloc-rs-dev libmimalloc-rs2
  for f in $files; do
    if [ -e "$f" ] || [ -L "$f" ]; then fail "$f is left after the purge"; fi
  done
  for d in /usr/include/mimalloc-2.1 "$libdir/mimalloc-2.1" "$libdir/cmake/mimalloc-2.1" \
           /usr/share/doc/libmimalloc-rs2 /usr/share/doc/libmimalloc-rs-dev; do
    [ ! -e "$d" ] || fail "directory $d is left after the purge"
  done
  for p in libmimalloc-rs2 libmimalloc-rs-dev; do
    if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -q .; then
      dpkg-query -W -f='${db:Status-Status}\n' "$p" | grep -qx not-installed || fail "$p is still known to dpkg"
    fi
  done
  if ldconfig -p | grep -q 'libmimalloc.so.2.1'; then fail "the loader cache still lists libmimalloc.so.2.1"; fi
  ok "$label: purged, nothing of the packages left"
  restore
}

step_cpack() {
  apt_need dpkg-dev lintian rpm pkg-config xz-utils
  say "cpack: bin/package.sh deb rpm tgz"
  out="$work/cpack"
  rm -rf "$out"
  MI_PACKAGE_OUT="$out" MI_PACKAGE_BUILD="$work/cpack-build" bin/package.sh deb rpm tgz
  check_debs "$out" cpack release

  # rpm: metadata and file lists
  rpm_runtime="$out/mimalloc-rs-$version-$release.x86_64.rpm"
  rpm_dev="$out/mimalloc-rs-devel-$version-$release.x86_64.rpm"
  if [ "$(uname -m)" = x86_64 ]; then
    rpm -qip "$rpm_runtime"; rpm -qip "$rpm_dev"
    [ "$(rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE} %{LICENSE}' "$rpm_runtime")" = "mimalloc-rs $version $release MIT" ] \
      || fail "rpm metadata of $(basename "$rpm_runtime")"
    [ "$(rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE}' "$rpm_dev")" = "mimalloc-rs-devel $version $release" ] \
      || fail "rpm metadata of $(basename "$rpm_dev")"
    rpm -qp --requires "$rpm_dev" | grep -qx "mimalloc-rs = $version-$release" || fail "the devel rpm must require mimalloc-rs = $version-$release"
    rpm -qp --provides "$rpm_runtime" | grep -q '^libmimalloc.so.2()(64bit)' || fail "the rpm must provide libmimalloc.so.2()(64bit)"
    rpm -qp --conflicts "$rpm_runtime" | grep -qx mimalloc || fail "the rpm must conflict with mimalloc"
    same_lists "files of $(basename "$rpm_runtime")" "$(LC_ALL=C sort <<EOF
/usr/lib64/libmimalloc.so.2
/usr/lib64/libmimalloc.so.2.1
/usr/share/licenses/mimalloc-rs
/usr/share/licenses/mimalloc-rs/LICENSE
EOF
)" "$(rpm -qlp "$rpm_runtime" | LC_ALL=C sort)"
    same_lists "files of $(basename "$rpm_dev")" "$(LC_ALL=C sort <<EOF
/usr/include/mimalloc-2.1
/usr/include/mimalloc-2.1/mimalloc-new-delete.h
/usr/include/mimalloc-2.1/mimalloc-override.h
/usr/include/mimalloc-2.1/mimalloc.h
/usr/lib64/cmake/mimalloc-2.1
/usr/lib64/cmake/mimalloc-2.1/mimalloc-config-version.cmake
/usr/lib64/cmake/mimalloc-2.1/mimalloc-config.cmake
/usr/lib64/cmake/mimalloc-2.1/mimalloc-release.cmake
/usr/lib64/cmake/mimalloc-2.1/mimalloc.cmake
/usr/lib64/libmimalloc.so
/usr/lib64/mimalloc-2.1
/usr/lib64/mimalloc-2.1/libmimalloc.a
/usr/lib64/mimalloc-2.1/mimalloc.o
/usr/lib64/pkgconfig/mimalloc.pc
/usr/share/licenses/mimalloc-rs-devel
/usr/share/licenses/mimalloc-rs-devel/LICENSE
EOF
)" "$(rpm -qlp "$rpm_dev" | LC_ALL=C sort)"
    ok "cpack: rpm -qip/-qlp: names, versions, license, requires, provides, conflicts, file lists"
  fi

  # the .tar.gz: unpacked anywhere, used from there
  tgz="$out/mimalloc-rs-$version-Linux.tar.gz"
  rm -rf "$work/tgz" && mkdir -p "$work/tgz"
  tar -C "$work/tgz" -xzf "$tgz"
  prefix="$work/tgz/mimalloc-rs-$version-Linux"
  same_lists "files of $(basename "$tgz")" "$(LC_ALL=C sort <<EOF
include/mimalloc-2.1/mimalloc-new-delete.h
include/mimalloc-2.1/mimalloc-override.h
include/mimalloc-2.1/mimalloc.h
lib/cmake/mimalloc-2.1/mimalloc-config-version.cmake
lib/cmake/mimalloc-2.1/mimalloc-config.cmake
lib/cmake/mimalloc-2.1/mimalloc-release.cmake
lib/cmake/mimalloc-2.1/mimalloc.cmake
lib/libmimalloc.so
lib/libmimalloc.so.2
lib/libmimalloc.so.2.1
lib/mimalloc-2.1/libmimalloc.a
lib/mimalloc-2.1/mimalloc.o
lib/pkgconfig/mimalloc.pc
EOF
)" "$(cd "$prefix" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)"
  ds="$work/tgz-downstream"
  rm -rf "$ds"
  cmake -S test/downstream -B "$ds" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DMI_EXPECT_PREFIX="$prefix" >/dev/null
  cmake --build "$ds" -j "$jobs" >/dev/null
  ctest --test-dir "$ds" --output-on-failure || fail "the downstream programs against the .tar.gz failed"
  sh test/downstream/pkgconfig-test.sh "$prefix" lib lib/mimalloc-2.1 mimalloc cc "$root/test/downstream" \
     "$work/tgz-pkgconfig" pkg-config 1 1 OFF ON >/dev/null || fail "pkg-config against the .tar.gz failed"
  ok "cpack: the .tar.gz unpacked elsewhere serves find_package and pkg-config (relocatable)"

  install_test "$out" cpack
}

step_debian() {
  apt_need dpkg-dev debhelper cmake rustc-web cargo-web pkgconf lintian
  src="$work/debian/mimalloc-rs-$version"
  say "debian: dpkg-buildpackage -us -uc -b in $src"
  rm -rf "$work/debian" && mkdir -p "$src"
  # the tracked and new files of the work tree (not the build directories)
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$src" -xf -
  else
    tar --exclude=./out --exclude=./.git -cf - . | tar -C "$src" -xf -
  fi
  (cd "$src" && debian/vendor.sh)
  if ! (cd "$src" && dpkg-buildpackage -us -uc -b -j"$jobs") > "$work/debian/build.log" 2>&1; then
    tail -n 60 "$work/debian/build.log" >&2
    fail "dpkg-buildpackage failed (log: $work/debian/build.log)"
  fi
  grep -E 'tests passed|Test.*(Failed|Not Run)' "$work/debian/build.log" || true
  grep -q 'Rust core with cargo' "$work/debian/build.log" || fail "the package build did not run cargo"
  grep -q -- '-DMI_CARGO_EXECUTABLE=/usr/bin/cargo' "$work/debian/build.log" && grep -q -- '--offline' "$work/debian/build.log" \
    || fail "the package build did not run Debian's cargo offline"
  grep -E '^(rustc|cargo) [0-9]' "$work/debian/build.log" || fail "the package build did not report Debian's rustc and cargo"
  ok "debian: dpkg-buildpackage -us -uc -b (rustc-web, cargo-web, vendored crates, offline; ctest passed)"
  # the library's build type in the Debian build is None (CMake package file mimalloc-none.cmake)
  check_debs "$work/debian" debian none
  if [ -d "$work/cpack" ]; then
    for p in libmimalloc-rs2 libmimalloc-rs-dev; do
      a="$work/cpack/${p}_${version}-${release}_${debarch}.deb"
      b="$work/debian/${p}_${version}-${release}_${debarch}.deb"
      for f in Package Version Architecture Section Conflicts Replaces Provides; do
        [ "$(field "$a" "$f")" = "$(field "$b" "$f")" ] || fail "$p: field $f differs between CPack's and dpkg-buildpackage's package"
      done
    done
    ok "debian: the same package names and control fields as the CPack packages"
  fi
  install_test "$work/debian" debian
}

step_conan() {
  command -v python3 >/dev/null 2>&1 || apt_need python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_need python3-venv
  venv="$work/conan-venv"
  if [ ! -x "$venv/bin/conan" ]; then
    say "conan: pip install conan (in $venv)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet conan
  fi
  export CONAN_HOME="$work/conan-home"
  "$venv/bin/conan" profile detect --exist-ok >/dev/null 2>&1
  # the default (static), shared with override and inject, static with the single object
  set -f   # the option patterns (mimalloc-rs/*:...) are no file names
  for opts in "shared=False" "shared=True override=True inject=True" "shared=False override=True single_object=True"; do
    args=""
    for kv in $opts; do args="$args -o mimalloc-rs/*:$kv"; done
    say "conan: conan create .$args"
    # shellcheck disable=SC2086
    "$venv/bin/conan" create . --no-remote --build="mimalloc-rs/*" $args -c tools.build:jobs="$jobs" \
      > "$work/conan.log" 2>&1 || { tail -n 60 "$work/conan.log" >&2; fail "conan create ($opts) failed"; }
    kind=static
    case "$opts" in shared=True*) kind=shared ;; esac
    grep -x "test_package: mimalloc 217 ($kind)" "$work/conan.log" \
      && grep -x "test_package: mimalloc 217 (C++, $kind)" "$work/conan.log" \
      || fail "the Conan test_package did not run ($opts)"
    ok "conan: conan create . ($opts): test_package (C and C++) links the $kind target and runs"
  done
  set +f
}

step_vcpkg() {
  say "vcpkg: the port's configure/build/install steps (ports/mimalloc-rs)"
  sh test/vcpkg/run-port-steps.sh "$work/vcpkg" "$jobs" || fail "the vcpkg port's steps failed"
  ok "vcpkg: the port's CMake steps (static; shared with secure, override; shared with asan; Release and Debug) give a package find_package(mimalloc CONFIG) uses"
}

mkdir -p "$work"
for step in $steps; do
  case "$step" in
    cpack|debian|conan|vcpkg) "step_$step" ;;
    *) fail "unknown step $step (cpack, debian, conan, vcpkg)" ;;
  esac
done
echo "test-packages: $passed passed, 0 failed"
