#!/bin/sh
# real-programs.sh -- programs nobody here wrote give the same results with and
# without LD_PRELOAD of our libmimalloc.so.
#
#   real-programs.sh NAME LIBRARY WORKDIR
#
# NAME is one of: python git gcc perl sqlite sort. The workload of NAME runs in fresh
# directories: without LD_PRELOAD, then with LD_PRELOAD=LIBRARY (inherited by every
# process the workload starts: git's and gcc's helpers, python's test workers, ...),
# and (but for python) once more with LD_PRELOAD and options that purge freed
# memory at once and reserve small arenas. The test fails if
#   - the preload does not take effect (MIMALLOC_VERBOSE=1 must print "process init"),
#   - the exit status or the standard output differ from the run without LD_PRELOAD,
#   - a preloaded run prints anything of ours ("mimalloc:") on stderr
#     (debug builds show errors and warnings by default).
# Exit status 77 (ctest: skipped) if the program is not installed.
set -u
name=$1
lib=$2
work=$3
SKIP=77

case "$lib" in
  /*) ;;
  *) lib="$(pwd)/$lib" ;;
esac
[ -f "$lib" ] || { echo "real-programs: no library $lib" >&2; exit 1; }
# a clean environment: no options of ours, no user configuration
for v in $(env | sed -n 's/^\(MIMALLOC_[A-Za-z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD
export LC_ALL=C
export TZ=UTC

rm -rf "$work"
mkdir -p "$work" || exit 1

need() {
  for prog in "$@"; do
    if ! command -v "$prog" >/dev/null 2>&1; then
      echo "real-programs: $prog is not installed: skipped" >&2
      exit $SKIP
    fi
  done
}

# the preload must take effect on PROGRAM ARGS... (not a static or setuid binary)
check_preloaded() {
  if ! LD_PRELOAD="$lib" MIMALLOC_VERBOSE=1 "$@" 2>&1 >/dev/null </dev/null | grep -q "mimalloc: process init"; then
    echo "FAILED: LD_PRELOAD=$lib does not take effect for: $*" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------
# workloads: run in an empty current directory; print deterministic results
# ---------------------------------------------------------------------------

python_exe=""
python_tests=""
find_python() {
  # the real interpreter (not a wrapper script such as a pyenv shim), and a part of
  # its own regression test suite that it has
  for candidate in python3 /usr/bin/python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    exe=$("$candidate" -c 'import sys; print(sys.executable)' 2>/dev/null) || continue
    [ -n "$exe" ] || continue
    tests=$("$exe" - <<'EOF' 2>/dev/null
import importlib.util
wanted = ["test_list", "test_dict", "test_string", "test_unicode", "test_json",
          "test_re", "test_bytes", "test_collections", "test_sort", "test_deque"]
try:
    import test.libregrtest  # the test runner itself
except ImportError:
    raise SystemExit(0)
print(" ".join(t for t in wanted if importlib.util.find_spec("test." + t) is not None))
EOF
)
    if [ -n "$tests" ]; then
      python_exe=$exe
      python_tests=$tests
      return 0
    fi
  done
  return 1
}

wl_python() {
  # PYTHONMALLOC=malloc: all of Python's objects come from malloc (not pymalloc)
  # shellcheck disable=SC2086
  PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$python_exe" -m test -j1 $python_tests >regrtest.log 2>&1
  status=$?
  # the deterministic part of the summary (the rest has timings)
  grep -E '^(Total tests:|Total test files:|Result:|All [0-9]+ tests OK|[0-9]+ tests? (failed|skipped|OK))' regrtest.log
  grep -E '^(test_[a-z_]+ failed|FAIL:|ERROR:)' regrtest.log
  # and a program of our own: many objects, threads, a big dict
  PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$python_exe" - <<'EOF'
import threading, hashlib, json
d = {}
for i in range(200000):
    d["k%d" % i] = [i, str(i) * (i % 7), {"x": i}]
def work(n, out):
    acc = []
    for i in range(20000):
        acc.append(("%d-%d" % (n, i)) * (i % 5 + 1))
    out[n] = hashlib.sha256("".join(acc).encode()).hexdigest()
out = {}
threads = [threading.Thread(target=work, args=(n, out)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(len(d), sum(len(v[1]) for v in d.values()))
print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest())
print(sorted(out.items()))
EOF
  return $status
}

wl_git() {
  export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
  export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.org
  export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.org
  git init -q repo || return 1
  cd repo || return 1
  git config core.autocrlf false
  git config gc.auto 0
  git checkout -q -b main 2>/dev/null || true
  mkdir -p src
  i=1
  while [ $i -le 25 ]; do
    export GIT_AUTHOR_DATE="2020-01-01T00:00:$(printf %02d $((i % 60)))Z" GIT_COMMITTER_DATE="2020-01-01T00:00:$(printf %02d $((i % 60)))Z"
    awk -v c=$i 'BEGIN { for (f = 0; f < 8; f++) { file = sprintf("src/file%d.txt", (c * 3 + f) % 25);
                  for (l = 0; l < 300; l++) printf "line %d of file %d, commit %d: %d\n", l, f, c, (l * c + f) % 97 >> file;
                  close(file) } }' || return 1
    git add -A && git commit -q -m "commit $i" || return 1
    if [ $i -eq 12 ]; then
      git checkout -q -b side && printf 'side branch\n' > side.txt && git add side.txt && git commit -q -m "side" && git checkout -q main || return 1
    fi
    i=$((i + 1))
  done
  git merge -q --no-edit side || return 1
  git tag -a v1 -m "tag v1" || return 1
  git gc -q --prune=now || return 1
  git fsck --full --strict 2>&1 || return 1
  git count-objects -v | grep -E '^(count|in-pack|packs|prune-packable|garbage):'
  git log --stat --format='%H %an %s' | head -400
  git rev-list --all --objects | wc -l
  git diff --stat HEAD~8 HEAD
  git grep -c "commit 17" | head -20
  git log -p --format=%s | cksum
  git blame src/file3.txt | tail -5
  git repack -q -a -d -f --window=50 || return 1
  git cat-file --batch-all-objects --batch-check | sort | git hash-object --stdin
  git archive --format=tar HEAD | cksum
}

wl_gcc() {
  # a generated C program and a C++ one: compile (the assembly must be identical),
  # assemble and link, run
  awk 'BEGIN {
    print "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>";
    for (i = 0; i < 200; i++) {
      printf "struct s%d { int a[%d]; double d; char name[%d]; };\n", i, i % 13 + 1, i % 29 + 3;
      printf "static long f%d(long x) { struct s%d s; memset(&s, 0, sizeof s); long r = x;\n", i, i;
      printf "  for (int k = 0; k < %d; k++) { s.a[k %% %d] += (int)(r ^ k); r = r * %d + s.a[k %% %d]; }\n", i % 17 + 3, i % 13 + 1, i % 7 + 3, i % 13 + 1;
      printf "  switch (r & 3) { case 0: r += %d; break; case 1: r ^= %d; break; default: r -= %d; }\n", i, i * 7, i * 3;
      printf "  return r %% 1000003; }\n";
    }
    print "int main(void) { long t = 1;";
    for (i = 0; i < 200; i++) printf "  t = (t + f%d(t + %d)) %% 1000000007;\n", i, i;
    print "  printf(\"%ld\\n\", t); return 0; }";
  }' > gen.c
  gcc -O2 -frandom-seed=1 -S gen.c -o gen.s || return 1
  cksum < gen.s
  gcc -o gen gen.s || return 1
  ./gen || return 1
  if command -v g++ >/dev/null 2>&1; then
    cat > prog.cpp <<'EOF'
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
struct Node { std::string name; std::vector<int> values; std::unique_ptr<Node> next; };
int main() {
  std::map<std::string, std::vector<int>> m;
  std::unordered_map<int, std::string> u;
  for (int i = 0; i < 20000; i++) {
    m["k" + std::to_string(i % 1000)].push_back(i);
    u[i] = std::string(i % 50, 'u');
  }
  std::unique_ptr<Node> list;
  for (int i = 0; i < 1000; i++) {
    auto n = std::make_unique<Node>();
    n->name = "node" + std::to_string(i);
    n->values.assign(i % 100, i);
    n->next = std::move(list);
    list = std::move(n);
  }
  std::string s;
  for (auto& kv : m) s += kv.first + ':' + std::to_string(kv.second.back()) + ';';
  std::sort(s.begin(), s.end());
  std::size_t total = 0;
  for (auto& kv : u) total += kv.second.size();
  std::printf("%zu %zu %s %s\n", s.size(), total, s.substr(s.size() - 10).c_str(), list->name.c_str());
}
EOF
    g++ -O2 -std=c++17 -frandom-seed=1 -S prog.cpp -o prog.s || return 1
    cksum < prog.s
    g++ -o prog prog.s || return 1
    ./prog || return 1
  fi
}

wl_perl() {
  perl -e '
    use strict; use warnings;
    my %h;
    for my $i (1 .. 300000) { $h{"key$i"} = [$i, "v" x ($i % 17)]; }
    my ($sum, $cnt) = (0, 0);
    for my $k (sort keys %h) {
      if ($k =~ /^key(\d*7)$/) { $sum += $h{$k}[0]; $cnt++; }
    }
    print "$cnt $sum\n";
    my $text = join(" ", map { "word$_" } 1 .. 200000);
    my $n = () = $text =~ /\bword\d*5\b/g;
    (my $t2 = $text) =~ s/word(\d+)/W${\ ($1 % 10)}/g;
    $t2 =~ s/W(\d)/"X" . ($1 * 2)/ge;
    my %freq;
    $freq{$_}++ for split / /, $t2;
    print "$n ", length($t2), " ", join(",", map { "$_=$freq{$_}" } sort keys %freq), "\n";
    my @big = map { { id => $_, s => sprintf("%08d", $_ * 7919 % 1000003) } } 1 .. 100000;
    my @sorted = sort { $a->{s} cmp $b->{s} } @big;
    print "$sorted[0]{id} $sorted[-1]{id} ", scalar(@sorted), "\n";
    delete $h{"key$_"} for 1 .. 150000;
    print scalar(keys %h), "\n";
  '
}

wl_sqlite() {
  sqlite3 test.db <<'EOF'
create table t(id integer primary key, name text, val real, grp int, blob blob);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 200000)
  insert into t select x, 'name' || x, x * 1.5, x % 100, zeroblob(x % 300) from c;
create index t_grp on t(grp, val);
select grp, count(*), sum(val), min(name), max(name) from t group by grp order by grp limit 5;
select count(*) from t where name like '%77%';
update t set val = val * 2 where grp < 10;
delete from t where id % 7 = 0;
select name from t order by val desc, id limit 3;
create table u as select grp, group_concat(name, ',') as names from t group by grp;
select grp, length(names) from u order by length(names) desc, grp limit 3;
vacuum;
select count(*), sum(val), sum(length(blob)) from t;
pragma integrity_check;
EOF
}

sort_input() {
  awk 'BEGIN { srand(7); for (i = 0; i < 300000; i++) printf "%08x %d line%d %s\n", int(rand() * 4294967295), i % 1000, i, substr("abcdefghijklmnopqrstuvwxyz", i % 26 + 1, i % 13) }' > "$work/sort-input"
}
wl_sort() {
  sort "$work/sort-input" | cksum
  sort -k2,2n -k1,1r "$work/sort-input" | cksum
  sort -u -k2,2n "$work/sort-input" | wc -l
  sort --parallel=2 -S 4M -T . "$work/sort-input" | cksum   # external merge through temporary files
  sort -R --random-source="$work/sort-input" "$work/sort-input" | sort | cksum
}

# ---------------------------------------------------------------------------

case "$name" in
  python)
    if ! find_python; then
      echo "real-programs: no python3 with its regression test suite (test.libregrtest and test modules): skipped" >&2
      exit $SKIP
    fi
    echo "python: $python_exe -m test $python_tests"
    check_preloaded "$python_exe" -c pass ;;
  git)    need git awk;     check_preloaded git --version ;;
  gcc)    need gcc awk;     check_preloaded gcc --version ;;
  perl)   need perl;        check_preloaded perl -e 1 ;;
  sqlite) need sqlite3;     check_preloaded sqlite3 -version ;;
  sort)   need sort awk cksum; check_preloaded sort --version; sort_input ;;
  *) echo "real-programs: unknown program $name" >&2; exit 2 ;;
esac

run_workload() {   # run_workload TAG [PRELOAD [VAR=VALUE...]]
  tag=$1
  mkdir -p "$work/$tag"
  if [ $# -gt 1 ]; then
    preload_lib=$2
    shift 2
    (cd "$work/$tag" && for kv in "$@"; do export "$kv"; done &&
     LD_PRELOAD=$preload_lib && export LD_PRELOAD && "wl_$name") >"$work/$tag.out" 2>"$work/$tag.err"
  else
    (cd "$work/$tag" && "wl_$name") >"$work/$tag.out" 2>"$work/$tag.err"
  fi
}

failed=0
# compare TAG STATUS SECONDS: the run TAG against the plain one
compare() {
  if [ "$plain_status" -ne "$2" ]; then
    echo "FAILED: $name: exit status $plain_status without LD_PRELOAD, $2 with it ($1)" >&2
    failed=1
  fi
  if ! cmp -s "$work/plain.out" "$work/$1.out"; then
    echo "FAILED: $name: the output differs with LD_PRELOAD ($1) (- without, + with):" >&2
    diff -u "$work/plain.out" "$work/$1.out" | head -60 >&2
    failed=1
  fi
  if grep -q "mimalloc:" "$work/$1.err"; then
    echo "FAILED: $name: mimalloc printed something with LD_PRELOAD ($1):" >&2
    grep "mimalloc:" "$work/$1.err" | head -20 >&2
    failed=1
  fi
  echo "$name: $3 s with LD_PRELOAD ($1), exit status $2"
}

t0=$(date +%s)
run_workload plain
plain_status=$?
t1=$(date +%s)
echo "$name: $((t1 - t0)) s without LD_PRELOAD, exit status $plain_status"
if [ ! -s "$work/plain.out" ]; then
  echo "FAILED: $name: the workload printed nothing" >&2
  failed=1
fi
run_workload preload "$lib"
preload_status=$?
t2=$(date +%s)
compare preload $preload_status $((t2 - t1))
if [ "$name" != python ]; then
  # once more with options that make the allocator give memory back at once and
  # reserve small arenas (more purging, decommits and arenas)
  run_workload preload-options "$lib" MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_RESERVE=32MiB MIMALLOC_ARENA_PURGE_MULT=0
  options_status=$?
  t3=$(date +%s)
  compare preload-options $options_status $((t3 - t2))
fi
if [ "$failed" -ne 0 ] || [ "$plain_status" -ne 0 ]; then
  for tag in plain preload preload-options; do
    [ -f "$work/$tag.err" ] || continue
    echo "--- stderr of the $tag run (tail) ---" >&2
    tail -20 "$work/$tag.err" >&2
  done
fi
echo "--- output (the same in all runs: $([ "$failed" -eq 0 ] && echo yes || echo no)) ---"
head -40 "$work/plain.out"
if [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$plain_status" -ne 0 ]; then
  echo "note: $name failed without LD_PRELOAD too (status $plain_status), in the same way" >&2
fi
exit 0
