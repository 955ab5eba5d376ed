# A Python workload for bench/run.sh: dictionaries, lists of tuples, string building,
# JSON round trips and sorting, with every object from malloc (run with
# PYTHONMALLOC=malloc, so the allocator under test serves all of CPython's objects).
import json
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rounds = max(1, int(2 * scale))
n = 60000

check = 0
for r in range(rounds):
    d = {}
    for i in range(n):
        k = "key-%d-%d" % (r, i * 7919 % n)
        d[k] = (i, str(i * i), [i] * (i % 5))
    rows = sorted(d.items(), key=lambda kv: (len(kv[1][1]), kv[0]))
    text = json.dumps([[k, v[0], v[1]] for k, v in rows[: n // 4]])
    back = json.loads(text)
    words = " ".join(v[1] for _, v in rows).split(" ")
    check += len(back) + len(words) + sum(len(v[2]) for v in d.values())
    del d, rows, text, back, words

expect = rounds * (n // 4 + n + sum(i % 5 for i in range(n)))
if check != expect:
    print("py: check failed: %d != %d" % (check, expect), file=sys.stderr)
    sys.exit(99)
print("py: ok rounds=%d" % rounds)
