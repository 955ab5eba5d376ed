#!/bin/sh
# test-minject.sh -- minject end to end, on real Windows executables run under wine:
#
#   1. cross-builds with mingw-w64 a small C program that calls malloc/free and
#      reports whether a DLL is loaded, two test DLLs (mimalloc-override.dll and
#      mimalloc-test.dll: they export mi_version and announce their DllMain), a
#      checksum checker (imagehlp's CheckSumMappedFile) and a program that links
#      mimalloc-override.dll last;
#   2. runs minject on them: adding the DLL (the input stays byte-identical, the output
#      is <stem>-mi.exe), --postfix, --inplace, moving a linked DLL first, a second run
#      that changes nothing, --list against objdump's order;
#   3. checks each result with `x86_64-w64-mingw32-objdump -p` (the DLL is the first
#      import, every other import keeps its symbols, no complaints), `objdump -t` (the
#      COFF symbol table after the sections is intact) and CheckSumMappedFile (the
#      checksum in the header is right), and runs it under wine: the DLL is attached
#      before the program's main and the program runs and exits with 0;
#   4. patches every x86-64 program that wine itself ships (PE files not built here,
#      most linked with ucrtbase.dll), checks them with objdump, and runs wine's
#      cmd.exe patched;
#   5. builds minject itself for x86_64-pc-windows-gnu (with Debian's rustc-web,
#      cargo-web and rust-web-src: -Zbuild-std, offline) and checks that minject.exe
#      under wine writes the same bytes as the Linux build, in place too, and refuses
#      what it should.
#
# Needs x86_64-w64-mingw32-gcc/-objdump and wine64; when they are missing it installs
# gcc-mingw-w64-x86-64 and wine64 with apt-get (as root or with sudo -n), and prints
# "skipped: ..." and exits 0 only when they cannot be installed. Step 5 is skipped, with
# a "skipped: ..." line, when the Debian Rust packages are missing. About 30 s; the first
# run of step 5 builds std for Windows (about a minute more).
# Environment: CARGO_TARGET_DIR (where cargo builds), MI_KEEP_TMP=1 keeps the temporary
# folder, MI_MINJECT_WINDOWS=0 skips step 5, MI_WIN_RUSTC/MI_WIN_CARGO (default
# /usr/bin/rustc, /usr/bin/cargo) the toolchain of step 5.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { echo "test-minject: $*"; }
fail() { echo "test-minject: FAILED: $*" >&2; exit 1; }
skip() { say "skipped: $*"; exit 0; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

# wine64 puts no wrapper on PATH on Debian: find the binary itself.
find_wine() {
  for w in /usr/lib/wine/wine64 /usr/lib/x86_64-linux-gnu/wine/wine64 \
           "$(command -v wine64 2>/dev/null || true)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then echo "$w"; return 0; fi
  done
  w=$(dpkg -L wine64 2>/dev/null | grep '/wine64$' | head -n 1 || true)
  if [ -n "$w" ] && [ -x "$w" ]; then echo "$w"; return 0; fi
  return 1
}

have_tools() {
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 \
    && command -v x86_64-w64-mingw32-objdump >/dev/null 2>&1 \
    && find_wine >/dev/null
}

if ! have_tools; then
  say "installing gcc-mingw-w64-x86-64 and wine64 with apt-get"
  if ! { as_root apt-get update \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
              gcc-mingw-w64-x86-64 wine64; } >/dev/null 2>&1 || ! have_tools; then
    skip "x86_64-w64-mingw32-gcc, x86_64-w64-mingw32-objdump or wine64 missing and not installable"
  fi
fi
wine=$(find_wine)
wineserver=$(dirname "$wine")/wineserver
CC=x86_64-w64-mingw32-gcc
OBJDUMP=x86_64-w64-mingw32-objdump

case "${CARGO_TARGET_DIR:-}" in
  "") target_dir=$root/target ;;
  /*) target_dir=$CARGO_TARGET_DIR ;;
  *) target_dir=$root/$CARGO_TARGET_DIR ;;
esac
say "cargo build -p minject"
cargo build -q -p minject --locked
minject="$target_dir/debug/minject"
[ -x "$minject" ] || fail "no minject binary at $minject"

tmp=$(mktemp -d)
export WINEPREFIX="$tmp/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  [ -x "$wineserver" ] && "$wineserver" -k >/dev/null 2>&1 || true
  if [ "${MI_KEEP_TMP:-0}" = 1 ]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
cd "$tmp"

# --- the test programs -----------------------------------------------------------
cat > prog.c <<'EOF'
/* Calls malloc/free through the C runtime and reports whether the DLL named by
   argv[1] (default mimalloc-override.dll) is loaded and what its DllMain recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
int main(int argc, char **argv) {
  const char *dll = argc > 1 ? argv[1] : "mimalloc-override.dll";
  char marker[128];
  char *p = malloc(100);
  if (p == NULL) return 3;
  strcpy(p, "program: main runs");
  puts(p);
  free(p);
  printf("program: %s %s\n", dll, GetModuleHandleA(dll) ? "loaded" : "absent");
  DWORD n = GetEnvironmentVariableA("MINJECT_TEST_ATTACHED", marker, sizeof marker);
  printf("program: attached=%s\n", n ? marker : "none");
  return 0;
}
EOF
cat > linked.c <<'EOF'
/* Linked with mimalloc-override.dll, which the linker puts last in the imports. */
#include <stdio.h>
#include <stdlib.h>
const char *mi_version(void);
int main(void) {
  void *p = malloc(10);
  free(p);
  printf("program: main runs, mi_version %s\n", mi_version());
  return 0;
}
EOF
cat > testdll.c <<'EOF'
/* A stand-in for the mimalloc DLL: exports mi_version and says that it was attached. */
#include <windows.h>
__declspec(dllexport) const char *mi_version(void) { return "test"; }
BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) {
  (void)h; (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) {
    static const char msg[] = DLLNAME ": attached\n";
    DWORD written;
    SetEnvironmentVariableA("MINJECT_TEST_ATTACHED", DLLNAME);
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), msg, sizeof msg - 1, &written, NULL);
  }
  return TRUE;
}
EOF
cat > cksum.c <<'EOF'
/* Checks a PE file's CheckSum field with imagehlp's CheckSumMappedFile. */
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>
#include <imagehlp.h>
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) return 2;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(len);
  if (fread(buf, 1, len, f) != (size_t)len) return 2;
  DWORD header = 0, computed = 0;
  if (CheckSumMappedFile(buf, len, &header, &computed) == NULL) return 2;
  printf("checksum: header %08lx computed %08lx\n", header, computed);
  return header == computed ? 0 : 1;
}
EOF
say "building the test programs with $CC"
$CC -O1 -o prog.exe prog.c
$CC -O1 -s -o prog-stripped.exe prog.c
$CC -O1 -shared -DDLLNAME='"mimalloc-override.dll"' -o mimalloc-override.dll testdll.c
$CC -O1 -shared -DDLLNAME='"mimalloc-test.dll"' -o mimalloc-test.dll testdll.c
$CC -O1 -o linked.exe linked.c mimalloc-override.dll
$CC -O1 -o cksum.exe cksum.c -limagehlp
cp prog.exe prog.orig

# --- helpers -----------------------------------------------------------------------
# The imported modules in objdump's order.
dlls() { $OBJDUMP -p "$1" | sed -n 's/^[[:space:]]*DLL Name: //p'; }
# "module hint name" for every imported symbol, as objdump reads it.
symbols() {
  $OBJDUMP -p "$1" | awk '
    /^[[:space:]]*DLL Name: / { dll = $3; next }
    /^[[:space:]]*$/ { next }
    dll != "" && /^\t[0-9a-f]+\t/ { print dll, $2, $3 }
    /^The Function Table|^There is an export table|^PE File Base Relocations/ { dll = "" }'
}
# objdump must read the file without a complaint.
objdump_clean() {
  $OBJDUMP -p "$1" >/dev/null 2>objdump.err || fail "objdump -p $1 failed: $(cat objdump.err)"
  [ ! -s objdump.err ] || fail "objdump -p $1 complains: $(cat objdump.err)"
}
# run <exe> [args]: runs it under wine, prints its output, returns its exit code.
run() {
  if "$wine" "$@" >run.out 2>wine.err; then rc=0; else rc=$?; fi
  tr -d '\r' <run.out
  return $rc
}
# check_run <exe> <dll>: the DLL attaches before main and the program runs to the end.
check_run() {
  out=$(run "$1" "$2") || fail "$1 exited with $? under wine: $out $(cat wine.err)"
  first=$(echo "$out" | head -n 1)
  [ "$first" = "$2: attached" ] || fail "$1: first line is '$first', not '$2: attached': $out"
  echo "$out" | grep -qx "program: main runs" || fail "$1 did not run: $out"
  echo "$out" | grep -qx "program: $2 loaded" || fail "$1: $2 not loaded: $out"
  echo "$out" | grep -qx "program: attached=$2" || fail "$1: no marker of $2: $out"
}
check_checksum() {
  out=$(run cksum.exe "$1") || fail "checksum of $1 is wrong: $out"
}
# check_injected <exe> <original> <dll>: the DLL first, the original imports after it
# with all their symbols, a clean objdump, the symbol table kept, a right checksum.
check_injected() {
  objdump_clean "$1"
  dlls "$2" | grep -vix "$3" > want.dlls || true
  { echo "$3"; cat want.dlls; } > want.order
  dlls "$1" > got.order
  diff -u want.order got.order >&2 || fail "$1: imports are not '$3' then the original ones"
  symbols "$2" | grep -v "^$3 " > want.syms || true
  symbols "$1" | grep -v "^$3 " > got.syms || true
  [ -s want.syms ] || fail "no symbols read from $2"
  diff -u want.syms got.syms >&2 || fail "$1: the other imports changed"
  symbols "$1" | grep -q "^$3 .* mi_version$" || fail "$1: $3 does not import mi_version"
  [ "$($OBJDUMP -t "$1" | wc -l)" = "$($OBJDUMP -t "$2" | wc -l)" ] \
    || fail "$1: the COFF symbol table differs from $2's"
  check_checksum "$1"
}

# --- the checks --------------------------------------------------------------------
say "creating a wine prefix"
out=$(run prog.exe) || fail "prog.exe does not run under wine: $out $(cat wine.err)"
echo "$out" | grep -qx "program: mimalloc-override.dll absent" \
  || fail "prog.exe loads the DLL before minject: $out"
echo "$out" | grep -q ": attached$" && fail "the DLL attached to the unmodified program: $out"
# The linker's checksum of the original agrees with CheckSumMappedFile.
check_checksum prog.exe

say "--list agrees with objdump"
"$minject" --list prog.exe > list.txt
dlls prog.exe > objdump.txt
diff -u objdump.txt list.txt >&2 || fail "minject --list and objdump -p disagree"

say "adding mimalloc-override.dll (prog.exe -> prog-mi.exe)"
"$minject" prog.exe
cmp -s prog.exe prog.orig || fail "prog.exe was changed"
check_injected prog-mi.exe prog.exe mimalloc-override.dll
check_run prog-mi.exe mimalloc-override.dll
[ "$("$minject" --list prog-mi.exe | head -n 1)" = mimalloc-override.dll ] \
  || fail "minject --list does not show the DLL first"

say "a stripped program"
"$minject" prog-stripped.exe
check_injected prog-stripped-mi.exe prog-stripped.exe mimalloc-override.dll
check_run prog-stripped-mi.exe mimalloc-override.dll

say "a second run changes nothing"
"$minject" prog-mi.exe | grep -q "already imports mimalloc-override.dll first" \
  || fail "no 'already first' message"
cmp -s prog-mi.exe prog-mi-mi.exe || fail "the second run changed the file"

say "an existing output is not overwritten without --force"
if "$minject" prog.exe </dev/null 2>err.txt; then fail "prog-mi.exe was overwritten"; fi
grep -q "^minject: error: .*--force" err.txt || fail "unexpected message: $(cat err.txt)"
if command -v script >/dev/null 2>&1; then
  say "on a terminal minject asks before it overwrites"
  cp prog-mi.exe injected.exe
  echo "old output" > prog-mi.exe
  if printf 'n\n' | script -qec "'$minject' prog.exe" /dev/null >tty.txt 2>&1; then
    fail "answering n succeeded: $(cat tty.txt)"
  fi
  grep -q "overwrite 'prog-mi.exe'? (y/n)" tty.txt || fail "no question: $(cat tty.txt)"
  [ "$(cat prog-mi.exe)" = "old output" ] || fail "answering n changed prog-mi.exe"
  printf 'y\n' | script -qec "'$minject' prog.exe" /dev/null >tty.txt 2>&1 \
    || fail "answering y failed: $(cat tty.txt)"
  cmp -s prog-mi.exe injected.exe || fail "answering y did not write prog-mi.exe"
else
  say "no 'script' command: the terminal prompt is not tested"
fi

say "--postfix=test (mimalloc-test.dll)"
"$minject" --force --postfix=test prog.exe
cmp -s prog.exe prog.orig || fail "prog.exe was changed"
check_injected prog-mi.exe prog.exe mimalloc-test.dll
check_run prog-mi.exe mimalloc-test.dll

say "--inplace"
cp prog.exe inplace.exe
"$minject" --inplace --force inplace.exe
[ ! -e inplace-mi.exe ] || fail "--inplace wrote inplace-mi.exe"
check_injected inplace.exe prog.exe mimalloc-override.dll
check_run inplace.exe mimalloc-override.dll

say "moving a linked DLL first"
[ "$(dlls linked.exe | head -n 1)" != mimalloc-override.dll ] \
  || fail "the linker put mimalloc-override.dll first already; the test proves nothing"
"$minject" linked.exe | grep -q "moved mimalloc-override.dll" || fail "no 'moved' message"
check_injected linked-mi.exe linked.exe mimalloc-override.dll
[ "$(dlls linked-mi.exe | wc -l)" = "$(dlls linked.exe | wc -l)" ] || fail "a module was added"
out=$(run linked-mi.exe) || fail "linked-mi.exe failed under wine: $out"
[ "$(echo "$out" | head -n 1)" = "mimalloc-override.dll: attached" ] || fail "linked-mi.exe: $out"
echo "$out" | grep -qx "program: main runs, mi_version test" || fail "linked-mi.exe: $out"

say "refusing a file that is not a PE executable"
cp prog.c notpe.exe
if "$minject" notpe.exe 2>err.txt; then fail "minject accepted a C source file"; fi
grep -q "^minject: error: .*not a PE executable" err.txt || fail "message: $(cat err.txt)"
[ ! -e notpe-mi.exe ] || fail "an output was written for a bad input"

# --- programs not built here: wine's own PE executables ------------------------------
pe_dir=""
for d in /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows \
         /usr/lib64/wine/x86_64-windows; do
  if [ -f "$d/cmd.exe" ]; then pe_dir=$d; break; fi
done
if [ -z "$pe_dir" ]; then
  say "skipped: wine's own programs (no x86_64-windows folder with cmd.exe found)"
else
  say "wine's own programs ($pe_dir/*.exe)"
  mkdir -p third
  count=0
  for exe in "$pe_dir"/*.exe; do
    name=$(basename "$exe" .exe)
    cp "$exe" "third/$name.exe"
    "$minject" "third/$name.exe" >/dev/null 2>err.txt || fail "$name.exe: $(cat err.txt)"
    objdump_clean "third/$name-mi.exe"
    { echo mimalloc-override.dll; dlls "third/$name.exe"; } > want.order
    dlls "third/$name-mi.exe" > got.order
    cmp -s want.order got.order || fail "$name-mi.exe: imports $(tr '\n' ' ' <got.order)"
    symbols "third/$name.exe" > want.syms
    symbols "third/$name-mi.exe" | grep -v '^mimalloc-override.dll ' > got.syms || true
    cmp -s want.syms got.syms || fail "$name-mi.exe: the other imports changed"
    rm -f "third/$name.exe" "third/$name-mi.exe"
    count=$((count + 1))
  done
  [ "$count" -gt 10 ] || fail "only $count programs in $pe_dir"
  say "  $count programs patched; running wine's cmd.exe patched"
  cp "$pe_dir/cmd.exe" third/cmd.exe
  cp mimalloc-override.dll third/
  "$minject" third/cmd.exe >/dev/null
  check_checksum third/cmd-mi.exe
  out=$(run third/cmd-mi.exe /c echo cmd runs) || fail "cmd-mi.exe failed: $out $(cat wine.err)"
  [ "$(echo "$out" | head -n 1)" = "mimalloc-override.dll: attached" ] || fail "cmd-mi.exe: $out"
  echo "$out" | grep -qx "cmd runs" || fail "cmd-mi.exe: $out"
fi

# --- minject itself built for Windows, run under wine --------------------------------
# rustup cannot fetch the standard library of x86_64-pc-windows-gnu here, but Debian's
# rustc-web/cargo-web with rust-web-src build it from source (-Zbuild-std, offline from
# the crates vendored beside the library sources). The build of std takes about a
# minute the first time; it is kept in $target_dir/minject-windows.
windows_minject() {
  # A copy of the crate as a workspace of its own (see bin/cargo-windows-std.sh).
  mkdir -p win-src
  cp -r "$root/minject/Cargo.toml" "$root/minject/src" win-src/
  printf '\n[workspace]\n\n[profile.release]\npanic = "abort"\n' >> win-src/Cargo.toml
  status=0
  "$root/bin/cargo-windows-std.sh" win-src/Cargo.toml "$target_dir/minject-windows" \
    >win-build.log 2>&1 || status=$?
  if [ "$status" = 3 ]; then
    cat win-build.log; return 1
  elif [ "$status" != 0 ]; then
    echo "the build failed: $(tail -n 5 win-build.log)"; return 2
  fi
  cp "$target_dir/minject-windows/x86_64-pc-windows-gnu/release/minject.exe" .
}
if [ "${MI_MINJECT_WINDOWS:-1}" = 0 ]; then
  say "minject for Windows: not built (MI_MINJECT_WINDOWS=0)"
else
  say "building minject for Windows (x86_64-pc-windows-gnu)"
  set +e
  why=$(windows_minject)
  status=$?
  set -e
  if [ "$status" = 2 ]; then
    fail "minject for Windows: $why"
  elif [ "$status" != 0 ]; then
    say "skipped: minject for Windows: $why"
  else
    # Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std calls; a
    # stand-in beside minject.exe implements it with RtlGenRandom.
    if [ ! -e "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
      $CC -O1 -shared -o bcryptprimitives.dll "$root/test/windows/bcryptprimitives.c" -ladvapi32
    fi
    say "minject.exe under wine writes what the Linux build writes"
    out=$(run minject.exe --list prog.exe </dev/null) || fail "minject.exe --list: $(cat wine.err)"
    [ "$out" = "$(cat list.txt)" ] || fail "minject.exe --list prints '$out'"
    mkdir -p linux
    cp prog.exe linux/prog.exe
    (cd linux && "$minject" prog.exe >/dev/null)
    rm -f prog-mi.exe
    run minject.exe prog.exe </dev/null >/dev/null || fail "minject.exe prog.exe: $(cat wine.err)"
    cmp -s prog-mi.exe linux/prog-mi.exe || fail "minject.exe wrote other bytes than minject"
    cmp -s prog.exe prog.orig || fail "minject.exe changed prog.exe"
    check_run prog-mi.exe mimalloc-override.dll
    cp prog.exe winplace.exe
    run minject.exe --inplace --force winplace.exe </dev/null >/dev/null \
      || fail "minject.exe --inplace: $(cat wine.err)"
    cmp -s winplace.exe linux/prog-mi.exe || fail "minject.exe --inplace wrote other bytes"
    if run minject.exe prog.exe </dev/null >/dev/null; then
      fail "minject.exe overwrote prog-mi.exe without --force"
    fi
    grep -q "^minject: error: .*--force" wine.err || fail "minject.exe: $(cat wine.err)"
    if run minject.exe notpe.exe </dev/null >/dev/null; then fail "minject.exe accepted notpe.exe"; fi
    grep -q "^minject: error: .*not a PE executable" wine.err || fail "minject.exe: $(cat wine.err)"
  fi
fi

say "passed"
