#!/usr/bin/env python3
"""check-layers.py -- the crate's layer table (src/lib.rs) against its imports.

Reads the table in src/lib.rs (a module may use its own layer and the layers below) and
every `crate::<module>` a module of src/ names outside its unit tests, and fails when a
module uses one of a higher layer that bin/layers-allowed.txt does not list, when a
listed exception no longer exists (so the list only shrinks), or when a module is
missing from the table. Prints the modules that still import each other in a circle.
"""
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = os.path.join(root, "src")


def layer_table():
    text = open(os.path.join(src, "lib.rs")).read()
    block = text.split("//! ```text\n", 1)[1].split("//! ```\n", 1)[0]
    layers, carry = [], []
    for line in block.splitlines():
        first = re.split(r"\s{2,}", line[len("//!"):].strip(), maxsplit=1)[0]
        names = [n.strip() for n in first.split(",") if n.strip()]
        carry += names
        if not first.rstrip().endswith(","):
            layers.append(carry)
            carry = []
    return {m: i for i, row in enumerate(layers) for m in row}


def imports(module):
    text = open(os.path.join(src, module + ".rs")).read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\nmod tests", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)  # comments (and doc examples)
    found = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    for group in re.findall(r"\bcrate::\{([^;]*?)\};", text, re.S):
        depth, item = 0, ""
        for ch in group + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                name = item.strip().split("::")[0].strip()
                if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                    found.add(name)
                item = ""
            else:
                item += ch
    found.discard(module)
    return found


def main():
    level = layer_table()
    modules = sorted(f[:-3] for f in os.listdir(src)
                     if f.endswith(".rs") and f not in ("lib.rs", "models.rs"))
    errors = []
    for m in modules:
        if m not in level:
            errors.append(f"src/{m}.rs is not in the layer table of src/lib.rs")
    graph = {m: {d for d in imports(m) if d in level} for m in modules if m in level}
    upward = {(m, d) for m, ds in graph.items() for d in ds if level[d] > level[m]}
    allowed = {}
    allow_file = os.path.join(root, "bin", "layers-allowed.txt")
    for line in open(allow_file):
        line = line.split("#", 1)[0].strip()
        if line:
            a, b = [x.strip() for x in line.split("->")]
            allowed[(a, b)] = True
    for m, d in sorted(upward):
        if (m, d) not in allowed:
            errors.append(f"{m} (layer {level[m]}) uses {d} (layer {level[d]}), a higher layer")
    for m, d in sorted(allowed):
        if (m, d) not in upward:
            errors.append(f"bin/layers-allowed.txt lists {m} -> {d}, which is gone: remove it")

    # circles: strongly connected components of more than one module
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    print(f"check-layers: {len(graph)} modules, {len(upward)} upward imports "
          f"(all listed in bin/layers-allowed.txt)" if not errors else
          f"check-layers: {len(graph)} modules, {len(upward)} upward imports")
    for c in sccs:
        print(f"check-layers: {len(c)} modules import each other in a circle: {', '.join(c)}")
    for e in errors:
        print(f"check-layers: error: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
