#!/usr/bin/env python3
"""Summarises a bench-vs-torch run folder: medians over rounds of `raw/*.csv` (ae-bench bench
and scripts/torch_reference.py rows), one table row per (our backend, reference), with the
ratio and the GFLOP/s each achieves against the run's sgemm peak. Writes summary.md.

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
# Medians: robust to one round disturbed by other load on a shared machine.
mean = {k: statistics.median(v) for k, v in rate.items()}
peak = mean.get(("pytorch", "cpu", "sgemm_2048"), float("nan"))
refs = {}
for (impl, _, w), v in mean.items():
    if impl != "burn" and w != "sgemm_2048":
        refs.setdefault(w, []).append((impl, v))
rounds = len(glob.glob(f"{out}/raw/ours-*.csv"))
lines = []
try:
    lines.append(open(f"{out}/machine.txt").read().rstrip("\n"))
except FileNotFoundError:
    pass
lines += [
    "",
    f"Practical peak (MKL sgemm 2048³ in PyTorch, same threads, same run): **{peak:.0f} GFLOP/s**. "
    "GFLOP/s count matrix-product FLOPs only (`ae-bench` `Workload::flop_per_example`: "
    "3× the forward products for a training step, one triangle of XᵀX for PCA).",
    "",
    "| workload | ours | ours examples/s | reference | reference examples/s | ours / reference "
    "| ours GFLOP/s (% of peak) | reference GFLOP/s (% of peak) |",
    "|---|---|---:|---|---:|---:|---:|---:|",
]
for (impl, backend, w), ours in sorted(mean.items(), key=lambda kv: (kv[0][2], kv[0][1])):
    if impl != "burn":
        continue
    f = flop.get(w, float("nan"))
    for ref_impl, ref in refs.get(w, [("-", float("nan"))]):
        g, gr = ours * f / 1e9, ref * f / 1e9
        lines.append(
            f"| {w} | {backend} | {ours:,.0f} | {ref_impl} | {ref:,.0f} | **{ours / ref:.2f}** "
            f"| {g:.0f} ({100 * g / peak:.0f} %) | {gr:.0f} ({100 * gr / peak:.0f} %) |"
        )
lines += [
    "",
    f"Medians of {rounds} alternating rounds (ours, PyTorch, ours, …); raw rows in `raw/`, the "
    "command in `command.txt`. For PCA, examples/s is 60 000 / seconds per fit.",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
