#!/usr/bin/env python3
"""Fails (exit 1) if a library crate's top-level modules import each other in a circle.

Reads every `crate::<module>` path outside comments and unit tests in crates/*/src and
looks for cycles in the module graph (a folder module counts as one node; its children
importing a sibling is inside the node). `main.rs` and the binary's cli/ are skipped: the
binary sits above the library. Usage: scripts/import-cycles.py [crates-dir]"""
import os
import re
import sys


def graph(src):
    g = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0].removesuffix(".rs")
            if top in ("lib", "main", "cli") or f == "tests.rs":
                continue
            text = re.sub(r"//.*", "", open(path).read())
            cut = text.find("#[cfg(test)]\nmod tests")
            if cut >= 0:
                text = text[:cut]
            deps = set(re.findall(r"\bcrate::(\w+)", text)) - {top}
            g.setdefault(top, set()).update(deps)
    return {m: {d for d in deps if d in g} for m, deps in g.items()}


def cycles(g):
    found = set()

    def walk(start, node, path):
        for n in g.get(node, ()):
            if n == start:
                found.add(tuple(sorted(path)))
            elif n not in path:
                walk(start, n, path + [n])

    for m in g:
        walk(m, m, [m])
    return sorted(found)


def main(root):
    bad = 0
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if not os.path.isdir(src):
            continue
        g = graph(src)
        c = cycles(g)
        print(f"{crate}: {len(g)} modules, {len(c)} import circle(s)")
        for cyc in c:
            print("  circle:", " <-> ".join(cyc))
        bad += len(c)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates")
