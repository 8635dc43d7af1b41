#!/usr/bin/env bash
# Same-machine, same-run A/B of our training steps (criterion, flex backend) against the
# PyTorch twins in scripts/torch_reference.py (same shapes, float32, batch, 2 threads),
# alternating A B A B. Writes results/bench/<date>-vs-torch/{raw/,summary.md,command.txt}.
# The PyTorch side installs into a venv this script creates (CI does not run it).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TORCH_VENV:-.venv-torch}
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet torch; }
out="results/bench/$(date +%F)-vs-torch"
mkdir -p "$out/raw"
echo "$0 $*" > "$out/command.txt"
export RAYON_NUM_THREADS=2
for round in 1 2; do
  for b in "ae-core train_step deep_ae" "ae-core zoo_step conv_ae_16_32_k30" "ae-rbm cd_step rbm_cd1"; do
    set -- $b
    cargo bench -q -p "$1" --bench "$2" -- "$3.*flex" 2>/dev/null | grep -A2 "flex" > "$out/raw/ours-$2-$round.txt" || true
  done
  "$venv/bin/python" scripts/torch_reference.py --threads 2 --steps 50 2>/dev/null > "$out/raw/torch-$round.csv"
done
python3 - "$out" <<'PY'
import glob, re, sys, statistics
out = sys.argv[1]
def ours(bench):
    v = []
    for f in glob.glob(f"{out}/raw/ours-{bench}-*.txt"):
        m = re.search(r"thrpt:\s*\[\S+ \S+ (\S+) (\S*)elem/s", open(f).read())
        if m:
            v.append(float(m.group(1)) * (1000 if m.group(2) == "K" else 1))
    return statistics.mean(v) if v else float("nan")
torch = {}
for f in glob.glob(f"{out}/raw/torch-*.csv"):
    for line in open(f):
        name, *_, sps = line.strip().split(",")
        torch.setdefault(name, []).append(float(sps))
rows = [("deep AE 784-1000-500-250-30, Adam, b128", "train_step", "deep_ae_784_1000_500_250_30"),
        ("conv AE 16-32, k=30, Adam, b128", "zoo_step", "conv_ae_16_32_k30"),
        ("RBM 784x1000 CD-1, b100", "cd_step", "rbm_cd1_784x1000")]
with open(f"{out}/summary.md", "w") as s:
    s.write("| workload | ours (flex) samples/s | PyTorch samples/s | ours / PyTorch |\n|---|---:|---:|---:|\n")
    for label, bench, tname in rows:
        a, b = ours(bench), statistics.mean(torch.get(tname, [float("nan")]))
        s.write(f"| {label} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |\n")
print(open(f"{out}/summary.md").read())
PY
