#!/usr/bin/env python3
"""Summarises a bench-vs-torch run folder: per workload, the median examples/s over the rounds
of `raw/*.csv` (ae-bench bench and scripts/torch_reference.py rows) with its spread (min–max),
for ours and for every reference (each PyTorch version, scikit-learn), and the ratio of ours
to the faster reference's median, with GFLOP/s against the run's sgemm peak. Writes summary.md.

    python3 scripts/bench_summary.py results/bench/<date>-vs-torch
"""
import csv
import glob
import statistics
import sys

out = sys.argv[1]
rate, flop = {}, {}
for f in sorted(glob.glob(f"{out}/raw/*.csv")):
    for r in csv.DictReader(line for line in open(f) if not line.startswith("#")):
        key = (r["implementation"], r["backend"], r["workload"])
        rate.setdefault(key, []).append(float(r["examples_per_s"]))
        if r["flop_per_example"]:
            flop[r["workload"]] = float(r["flop_per_example"])
# Medians: robust to one round disturbed by other load on a shared machine; the spread
# beside them says how much the rounds disagreed.
med = {k: statistics.median(v) for k, v in rate.items()}
peaks = {k[0]: v for k, v in med.items() if k[2] == "sgemm_2048"}
peak = max(peaks.values(), default=float("nan"))
refs = {}
for (impl, _, w), v in med.items():
    if impl != "burn" and w != "sgemm_2048":
        refs.setdefault(w, []).append(impl)


def cell(key):
    v = rate[key]
    return f"{med[key]:,.0f} ({min(v):,.0f}–{max(v):,.0f})"


rounds = len(glob.glob(f"{out}/raw/ours-*.csv"))
lines = []
try:
    lines.append(open(f"{out}/machine.txt").read().rstrip("\n"))
except FileNotFoundError:
    pass
peak_text = ", ".join(f"{impl} {v:.0f}" for impl, v in sorted(peaks.items()))
lines += [
    "",
    f"Practical peak (MKL sgemm 2048³ in PyTorch, same threads, same run): {peak_text} GFLOP/s; "
    f"percentages below are of the higher, **{peak:.0f} GFLOP/s**. GFLOP/s count "
    "matrix-product FLOPs only (`ae-bench` `Workload::flop_per_example`: 3× the forward "
    "products for a training step, one triangle of XᵀX for PCA).",
    "",
    "Examples/s: median (min–max) over the rounds.",
    "",
    "| workload | ours | ours examples/s | reference | reference examples/s "
    "| ours / faster reference | ours GFLOP/s (% of peak) |",
    "|---|---|---:|---|---:|---:|---:|",
]
for (impl, backend, w), ours in sorted(med.items(), key=lambda kv: (kv[0][2], kv[0][1])):
    if impl != "burn":
        continue
    f = flop.get(w, float("nan"))
    g = ours * f / 1e9
    names = sorted(refs.get(w, []))
    fastest = max((med[(n, "cpu", w)] for n in names), default=float("nan"))
    for i, name in enumerate(names or ["-"]):
        ref = cell((name, "cpu", w)) if names else "-"
        first = i == 0
        lines.append(
            f"| {w if first else ''} | {backend if first else ''} "
            f"| {cell((impl, backend, w)) if first else ''} | {name} | {ref} "
            f"| {f'**{ours / fastest:.2f}**' if first else ''} "
            f"| {f'{g:.0f} ({100 * g / peak:.0f} %)' if first else ''} |"
        )
lines += [
    "",
    f"Medians of {rounds} alternating rounds (ours, then each PyTorch, …); raw rows in `raw/`, "
    "the command in `command.txt`. For PCA, examples/s is 60 000 / seconds per fit.",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
