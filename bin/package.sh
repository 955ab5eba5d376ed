#!/bin/sh
# package.sh -- build the binary packages with CMake and CPack:
#
#   deb  libmimalloc-rs2_<v>_<arch>.deb (libmimalloc.so.2*) and libmimalloc-rs-dev_<v>_<arch>.deb
#        (headers, libmimalloc.so, libmimalloc.a, mimalloc.o, CMake package, mimalloc.pc),
#        installing into /usr with the multiarch libdir (/usr/lib/x86_64-linux-gnu)
#   rpm  mimalloc-rs-<v>.<arch>.rpm and mimalloc-rs-devel-<v>.<arch>.rpm (libdir /usr/lib64)
#   tgz  mimalloc-rs-<v>-Linux.tar.gz: the whole install tree (include/, lib/), relocatable
#
# usage: bin/package.sh [deb] [rpm] [tgz]     (default: all three)
# The packages are written to out/packages (MI_PACKAGE_OUT); the build directory is
# out/package (MI_PACKAGE_BUILD), configured once per kind: only the install layout
# changes, so cargo builds the library once. Extra CMake options: MI_PACKAGE_CMAKE_ARGS.
# Needs cmake, a C compiler, cargo; dpkg-dev (dpkg-shlibdeps) for the .deb's computed
# dependencies, rpmbuild (Debian package `rpm`) for the .rpm.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MI_PACKAGE_BUILD:-$root/out/package}
out=${MI_PACKAGE_OUT:-$root/out/packages}
jobs=${MI_JOBS:-2}
kinds=${*:-deb rpm tgz}

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || ${CC:-cc} -print-multiarch 2>/dev/null || true)
mkdir -p "$out"
for kind in $kinds; do
  case "$kind" in
    deb) gen=DEB; libdir="lib${multiarch:+/$multiarch}"; docs=deb; reloc=OFF ;;
    rpm) gen=RPM; libdir=lib64; docs=rpm; reloc=OFF ;;
    tgz) gen=TGZ; libdir=lib; docs=""; reloc=ON ;;
    *) echo "package.sh: unknown package kind '$kind' (deb, rpm, tgz)" >&2; exit 2 ;;
  esac
  echo "==> package.sh: $kind (libdir $libdir)"
  # relro/now, as Debian's and Fedora's build flags link shared libraries
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DCMAKE_INSTALL_LIBDIR="$libdir" -DMI_PACKAGE_DOCS="$docs" -DMI_PC_RELOCATABLE="$reloc" \
        -DMI_BUILD_TESTS=OFF -DMI_CARGO_JOBS="$jobs" \
        -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-z,relro -Wl,-z,now" ${MI_PACKAGE_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j "$jobs"
  rm -rf "$build/packages"
  (cd "$build" && cpack -G "$gen" -B "$build/packages")
  for f in "$build"/packages/*.deb "$build"/packages/*.rpm "$build"/packages/*.tar.gz; do
    [ -f "$f" ] || continue
    cp "$f" "$out/"
    echo "package.sh: $out/$(basename "$f")"
  done
done
