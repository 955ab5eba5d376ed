#!/bin/sh
# run-port-steps.sh WORKDIR [JOBS] -- run the vcpkg port's CMake steps without vcpkg
# (see port-steps.cmake); called by bin/test-packages.sh.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
exec cmake "-DMI_SOURCE_DIR=$root" "-DMI_WORK=$1" "-DMI_JOBS=${2:-2}" -P "$root/test/vcpkg/port-steps.cmake"
