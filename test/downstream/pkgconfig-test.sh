#!/bin/sh
# pkgconfig-test.sh -- build programs the pkg-config way against the install that the
# `install` test made, as a user without CMake would:
#   cc main.c $(pkg-config --cflags --libs mimalloc)
# and the static library with the flags of `pkg-config --static`.
#
# usage: pkgconfig-test.sh PREFIX LIBDIR OBJDIR BASENAME CC SRCDIR WORKDIR PKG_CONFIG
#                          HAS_SHARED HAS_STATIC TRACK_ASAN OVERRIDE
set -eu
prefix=$1 libdir=$2 objdir=$3 base=$4 cc=$5 src=$6 work=$7 pkgconfig=$8
has_shared=$9; shift 9; has_static=$1 asan=$2 override=${3:-ON}

rm -rf "$work" && mkdir -p "$work" && cd "$work"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
extra=""
case "$asan" in ON|1|TRUE|true) extra="-fsanitize=address" ;; esac
case "$override" in OFF|0|FALSE|false) extra="$extra -DMI_NO_OVERRIDE" ;; esac

version=$("$pkgconfig" --modversion mimalloc)
echo "pkg-config --modversion mimalloc: $version"
test "$version" = "2.1"
cflags=$("$pkgconfig" --cflags mimalloc)
echo "pkg-config --cflags mimalloc: $cflags"
echo "pkg-config --libs mimalloc: $("$pkgconfig" --libs mimalloc)"
echo "pkg-config --static --libs mimalloc: $("$pkgconfig" --static --libs mimalloc)"

if [ "$has_shared" = 1 ]; then
  # shellcheck disable=SC2046
  "$cc" -o dynamic "$src/main-override.c" $extra $("$pkgconfig" --cflags --libs mimalloc)
  LD_LIBRARY_PATH="$prefix/$libdir" ./dynamic
fi

if [ "$has_static" = 1 ]; then
  # the static library from the object directory, plus Libs.private
  static_libs=$("$pkgconfig" --static --libs mimalloc | sed "s/-l$base\( \|$\)/ /")
  # shellcheck disable=SC2046,SC2086
  "$cc" -o static "$src/main-override.c" $extra $("$pkgconfig" --cflags mimalloc) \
        "$prefix/$objdir/lib$base.a" $static_libs
  ./static
  if readelf -d static | grep -q "lib$base"; then
    echo "the static program must not need lib$base.so" >&2
    exit 1
  fi
fi
echo "downstream-pkgconfig: ok"
