#!/bin/sh
# install.sh -- build mimalloc (release) with CMake and install it: the README's
# install command. Extra arguments go to CMake, e.g.
#
#   bin/install.sh -DCMAKE_INSTALL_PREFIX=$HOME/.local
#   bin/install.sh -DMI_SECURE=ON
#
# Equivalent to the classic
#   mkdir -p out/release && cd out/release && cmake ../.. && make && sudo make install
# except that it first installs cmake (and a C++ compiler, make) with apt-get when they
# are missing, and uses sudo only when it must. Needs a Rust toolchain (cargo).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/out/release"
jobs=${MI_JOBS:-2}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v make  >/dev/null 2>&1 || missing="$missing make"
command -v c++   >/dev/null 2>&1 || missing="$missing g++"
if [ -n "$missing" ]; then
  echo "install.sh: installing$missing (apt-get)"
  as_root apt-get update
  # shellcheck disable=SC2086
  as_root apt-get install -y $missing
fi
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  echo "install.sh: cargo not found: install a Rust toolchain first (rustup, or the distribution's cargo package)" >&2
  exit 1
fi

cmake -S "$root" -B "$build" -DMI_CARGO_JOBS="$jobs" "$@"
cmake --build "$build" -j "$jobs"

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
dir=$prefix
while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
if [ "$(id -u)" = 0 ] || [ -w "$dir" ]; then
  cmake --install "$build"
else
  sudo cmake --install "$build"
fi
echo "install.sh: installed into $prefix (uninstall: cmake --build $build --target uninstall)"
