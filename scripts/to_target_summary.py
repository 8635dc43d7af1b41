#!/usr/bin/env python3
"""Summarises a time-to-target folder (scripts/time-to-target.sh): for every implementation and
recipe, the first epoch whose test SSE per image is at or below the target, the wall time and
training time to it, and the final test SSE. Writes summary.md.

    python3 scripts/to_target_summary.py results/bench/<date>-to-target 5.0
"""
import csv
import glob
import sys

out, target = sys.argv[1], float(sys.argv[2])
runs = {}
for f in sorted(glob.glob(f"{out}/raw/*.csv")):
    for r in csv.DictReader(open(f)):
        # Folders written before the model column had the deep AE only.
        key = (r.get("model", "deep"), r["implementation"], r["epochs"], r["batch"], r["lr"])
        runs.setdefault(key, []).append(r)
lines = []
try:
    lines.append(open(f"{out}/machine.txt").read().rstrip("\n"))
except FileNotFoundError:
    pass
NAMES = {
    "deep": "Deep ReLU AE 784-1000-500-250-30 (linear code)",
    "conv": "Conv AE 16-32 (k = 30)",
    "vae": "VAE 784-500-30 (β = 1, test error of the decoded posterior mean)",
}
models = sorted({k[0] for k in runs})
lines += [
    "",
    f"{' / '.join(NAMES[m] for m in models)} on all 60 000 MNIST images, Adam + one-cycle, "
    f"test SSE per image (10 000 images) after every epoch; target **{target}**. Wall time "
    "counts everything from the start (data, model, training, every test evaluation).",
    "",
    "| model | implementation | epochs | batch | peak lr | reached at epoch | wall s to target "
    "| training s to target | final test SSE | wall s in all |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for (model, impl, epochs, batch, lr), rows in sorted(
    runs.items(), key=lambda kv: (kv[0][0],) + kv[0][2:] + kv[0][1:2]
):
    rows.sort(key=lambda r: int(r["epoch"]))
    hit = next((r for r in rows if float(r["test_sse"]) <= target), None)
    last = rows[-1]
    done = "" if int(last["epoch"]) == int(epochs) else f" (stopped at epoch {last['epoch']})"
    if hit:
        cells = f"{hit['epoch']} | **{float(hit['wall_seconds']):.0f}** | {float(hit['train_seconds']):.0f}"
    else:
        cells = "not reached | – | –"
    lines.append(
        f"| {model} | {impl} | {epochs} | {batch} | {lr} | {cells} | {float(last['test_sse']):.3f}{done} "
        f"| {float(last['wall_seconds']):.0f} |"
    )
lines += ["", "Raw per-epoch rows in `raw/`, the command in `command.txt`."]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
