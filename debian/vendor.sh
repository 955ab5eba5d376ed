#!/bin/sh
# vendor.sh -- vendor the crates the Rust build needs into debian/vendor, for an offline
# package build (run before dpkg-buildpackage; see debian/README.source).
#
# Runs `cargo vendor` with the versions of Cargo.lock; cargo takes them from its local
# registry cache, or from the crates registry when they are not cached. The result
# (about 8 MB, most of it the libc crate) is not committed: .gitignore lists it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
rm -rf debian/vendor
cargo vendor --locked --manifest-path Cargo.toml debian/vendor >/dev/null
echo "vendor.sh: vendored $(ls debian/vendor | tr '\n' ' ')into debian/vendor"
