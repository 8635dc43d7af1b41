#!/usr/bin/env python3
"""Summarises a recipe search (scripts/recipe-search.sh): per family and peak learning rate,
the lowest validation reconstruction loss over the epochs (mean over seeds) and the epoch it
was reached; the winning rate per family is the lowest. Reads <dir>/lr-*/results.csv."""
import csv
import json
import glob
import os
import sys
from collections import defaultdict


def main(root):
    best = defaultdict(dict)  # model -> lr -> (val, epoch)
    for path in sorted(glob.glob(os.path.join(root, "lr-*", "results.csv"))):
        lr = os.path.basename(os.path.dirname(path))[3:]
        curves = defaultdict(lambda: defaultdict(list))  # model -> epoch -> [val]
        failed = set()
        with open(path) as f:
            for r in csv.DictReader(f):
                if r["status"] != "ok":
                    failed.add(r["model"])
                    continue
                if r["metric"].startswith("curve_val_recon@"):
                    epoch = int(r["metric"].split("@")[1])
                    curves[r["model"]][epoch].append(float(r["value"]))
        for model, by_epoch in curves.items():
            means = {e: sum(v) / len(v) for e, v in by_epoch.items()}
            e = min(means, key=means.get)
            best[model][lr] = (means[e], e)
        for model in failed:
            best[model].setdefault(lr, (float("nan"), 0))
    lrs = sorted({lr for m in best.values() for lr in m}, key=float)
    print(f"# Recipe search: {root}\n")
    print("Lowest validation reconstruction loss (BCE per image, 5 000 held-out training")
    print("images) over 8 one-cycle epochs on 20 000 images, k = 30, seed 0; (epoch) where")
    print("it was reached. **Bold**: the family's winner, used in experiments/converged.toml.\n")
    print("| family | " + " | ".join(f"lr {lr}" for lr in lrs) + " | winner |")
    print("|---|" + "---|" * (len(lrs) + 1))
    for model in sorted(best):
        vals = best[model]
        ok = {lr: v for lr, v in vals.items() if v[0] == v[0]}
        win = min(ok, key=lambda lr: ok[lr][0]) if ok else None
        cells = []
        for lr in lrs:
            if lr not in vals:
                cells.append("–")
            elif vals[lr][0] != vals[lr][0]:
                cells.append("failed")
            else:
                text = f"{vals[lr][0]:.2f} ({vals[lr][1]})"
                cells.append(f"**{text}**" if lr == win else text)
        print(f"| {model} | " + " | ".join(cells) + f" | {win or '–'} |")
    print("\nEach grid point's exact command (from its run.json); a rate tried for a few")
    print("families only probes past a winner that sat on the grid's edge:\n")
    for run in sorted(glob.glob(os.path.join(root, "lr-*", "run.json")), key=lambda p: float(p.split("lr-")[-1].split("/")[0])):
        with open(run) as f:
            info = json.load(f)
        git = info.get("git", {})
        print(f"- `{info.get('command', '?')}` (binary built from {git.get('binary_revision', '?')[:7]}, checkout at {git.get('revision', '?')[:7]}"
              f"{', dirty' if git.get('dirty') else ''}; {info.get('machine', {}).get('cpu', '?')})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
