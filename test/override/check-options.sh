#!/bin/sh
# check-options.sh -- the MIMALLOC_* environment options, read at start-up.
#
#   check-options.sh PROG PRELOAD XMALLOC ERRORS_DEFAULT WORKDIR
#
# PROG is options-prog (options-prog.c); PRELOAD is the library to preload, or "-"
# when PROG is linked with it; XMALLOC is 1 for an MI_XMALLOC build (a failed
# allocation aborts); ERRORS_DEFAULT is 1 when errors are shown by default (debug
# builds, MI_SHOW_ERRORS). Every run starts from an environment without MIMALLOC_*
# variables. Checks:
#   - no option: nothing of ours on stdout or stderr;
#   - MIMALLOC_VERBOSE=1: "mimalloc: process init", the option list, "process done";
#   - MIMALLOC_SHOW_STATS=1 (and on/yes/TRUE/empty, and a lower-case name): the
#     statistics table ("heap stats") at exit; =0/no/off: none;
#   - MIMALLOC_SHOW_ERRORS=1 and an allocation of SIZE_MAX/2 bytes: "mimalloc: error:
#     allocation request is too large"; =0: silent; by default: as ERRORS_DEFAULT;
#   - an invalid value: "environment option mimalloc_<name> has an invalid value."
#     (for MIMALLOC_VERBOSE even without MIMALLOC_SHOW_ERRORS); a legacy name: the
#     deprecation warning;
#   - the values mi_option_get returns for values in the accepted spellings.
set -u
prog=$1
preload=$2
xmalloc=$3
errors_default=$4
work=$5

mkdir -p "$work" || exit 1
out="$work/stdout"
err="$work/stderr"
failures=0
runs=0

fail() {
  echo "FAILED: $*" >&2
  echo "  --- stdout ---" >&2
  sed 's/^/  | /' "$out" >&2
  echo "  --- stderr ---" >&2
  sed 's/^/  | /' "$err" | head -60 >&2
  failures=$((failures + 1))
}

# run [VAR=VALUE...] -- ARGS...: the program in a clean environment
run() {
  vars=""
  while [ "$1" != "--" ]; do
    vars="$vars $1"
    shift
  done
  shift
  runs=$((runs + 1))
  desc="$vars $*"
  if [ "$preload" = "-" ]; then
    # shellcheck disable=SC2086
    env -i PATH="$PATH" $vars "$prog" "$@" >"$out" 2>"$err"
  else
    # shellcheck disable=SC2086
    env -i PATH="$PATH" LD_PRELOAD="$preload" $vars "$prog" "$@" >"$out" 2>"$err"
  fi
  status=$?
}

expect_status() {
  [ "$status" -eq "$1" ] || fail "[$desc] exit status $status, expected $1"
}
expect_done() {
  expect_status 0
  [ "$(cat "$out")" = "options-prog: done" ] || fail "[$desc] stdout is not just 'options-prog: done'"
}
expect_err() {
  grep -F -q -- "$1" "$err" || fail "[$desc] stderr lacks: $1"
}
expect_no_err() {
  if grep -F -q -- "$1" "$err"; then fail "[$desc] stderr has: $1"; fi
}
expect_quiet() {
  [ -s "$err" ] && fail "[$desc] stderr is not empty"
}
expect_value() {
  grep -x -q -- "$1" "$out" || fail "[$desc] mi_option_get: expected $1, got $(grep "^${1%%=*}=" "$out")"
}

# --- nothing of ours without options ----------------------------------------
run -- ; expect_done; expect_quiet
run -- print; expect_status 0; expect_value "verbose=0"; expect_value "show_stats=0"
expect_value "show_errors=$errors_default"; expect_value "arena_reserve=1048576"
expect_value "purge_delay=10"; expect_value "max_errors=32"

# --- verbose ----------------------------------------------------------------
run MIMALLOC_VERBOSE=1 -- ; expect_done
expect_err "mimalloc: process init"
expect_err "mimalloc: option 'verbose': 1"
expect_err "mimalloc: option 'show_stats': 0"
expect_err "mimalloc: option 'arena_reserve': 1048576 KiB"
expect_err "mimalloc: option 'purge_delay': 10"
expect_err "mimalloc: process done"
expect_err "heap stats"          # verbose implies the statistics
run MIMALLOC_VERBOSE=0 -- ; expect_done; expect_quiet

# --- statistics at exit -----------------------------------------------------
for v in 1 on yes TRUE ""; do
  run "MIMALLOC_SHOW_STATS=$v" -- ; expect_done
  expect_err "heap stats"
  expect_err "elapsed:"
  expect_err "process:"
  expect_no_err "mimalloc: process init"
done
run mimalloc_show_stats=1 -- ; expect_done; expect_err "heap stats"   # the lookup ignores case
for v in 0 no off FALSE; do
  run "MIMALLOC_SHOW_STATS=$v" -- ; expect_done; expect_quiet
done

# --- errors -----------------------------------------------------------------
too_large="mimalloc: error: allocation request is too large"
if [ "$xmalloc" = 1 ]; then
  # MI_XMALLOC: the failed allocation aborts (after the message, if shown)
  run MIMALLOC_SHOW_ERRORS=1 -- huge
  [ "$status" -gt 128 ] || fail "[$desc] exit status $status, expected an abort"
  expect_err "$too_large"
else
  run MIMALLOC_SHOW_ERRORS=1 -- huge; expect_done; expect_err "$too_large"
  run MIMALLOC_SHOW_ERRORS=0 -- huge; expect_done; expect_no_err "mimalloc: error"
  run -- huge; expect_done
  if [ "$errors_default" = 1 ]; then expect_err "$too_large"; else expect_quiet; fi
  run MIMALLOC_VERBOSE=1 -- huge; expect_done; expect_err "$too_large"   # verbose shows errors
fi

# --- invalid values and legacy names ----------------------------------------
run MIMALLOC_SHOW_ERRORS=1 MIMALLOC_PURGE_DELAY=soon -- ; expect_done
expect_err "mimalloc: warning: environment option mimalloc_purge_delay has an invalid value."
run MIMALLOC_SHOW_ERRORS=1 MIMALLOC_PURGE_DELAY=soon -- print; expect_value "purge_delay=10"
run MIMALLOC_SHOW_ERRORS=1 MIMALLOC_ARENA_RESERVE=12parsecs -- ; expect_done
expect_err "environment option mimalloc_arena_reserve has an invalid value."
run MIMALLOC_VERBOSE=bogus -- ; expect_done
expect_err "environment option mimalloc_verbose has an invalid value."
expect_no_err "mimalloc: process init"
run MIMALLOC_SHOW_ERRORS=1 MIMALLOC_RESET_DELAY=5 -- print; expect_status 0
expect_err 'environment option "mimalloc_reset_delay" is deprecated -- use "mimalloc_purge_delay" instead.'
expect_value "purge_delay=5"

# --- values -----------------------------------------------------------------
run MIMALLOC_PURGE_DELAY=-1 MIMALLOC_ARENA_RESERVE=64MiB MIMALLOC_MAX_ERRORS=7 \
    MIMALLOC_EAGER_COMMIT=f MIMALLOC_ABANDONED_PAGE_PURGE=e mimalloc_use_numa_nodes=1 -- print
expect_status 0
expect_value "purge_delay=-1"; expect_value "arena_reserve=65536"; expect_value "max_errors=7"
expect_value "eager_commit=0"; expect_value "abandoned_page_purge=1"; expect_value "use_numa_nodes=1"
run MIMALLOC_ARENA_RESERVE=1g -- print; expect_value "arena_reserve=1048576"
run MIMALLOC_ARENA_RESERVE=64mb -- print; expect_value "arena_reserve=65536"
run MIMALLOC_ARENA_RESERVE=3000 -- print; expect_value "arena_reserve=3"   # bytes, rounded up to KiB
run MIMALLOC_VERBOSE=1 MIMALLOC_ARENA_RESERVE=256M -- ; expect_done
expect_err "mimalloc: option 'arena_reserve': 262144 KiB"

if [ "$failures" -ne 0 ]; then
  echo "check-options: $failures of the checks over $runs runs FAILED" >&2
  exit 1
fi
echo "check-options: all checks over $runs runs passed"
exit 0
