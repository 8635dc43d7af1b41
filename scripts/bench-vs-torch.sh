#!/usr/bin/env bash
# Same-machine, same-run A/B of `ae-bench bench` against its PyTorch twin
# scripts/torch_reference.py (same shapes, float32, batch, Adam, thread count), alternating
# A B A B, then a table of examples/s with the ratio and the GFLOP/s each achieves against
# the machine's practical peak (MKL sgemm 2048^3 on the same threads, measured in the run).
#
#   scripts/bench-vs-torch.sh [--steps N] [--threads T] [--rounds R] [--backend B ...]
#
# Writes results/bench/<date>-vs-torch/{raw/*.csv,summary.md,command.txt}. The PyTorch side
# installs (torch, scikit-learn) into a venv this script creates, .venv-torch or $TORCH_VENV;
# CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=50 threads=2 rounds=2 backends=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --backend) backends+=(--backend "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#backends[@]} -gt 0 ] || backends=(--backend flex)
venv=${TORCH_VENV:-.venv-torch}
if ! "$venv/bin/python" -c "import torch, sklearn" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch scikit-learn numpy
fi
# Append-only: a second run on the same day gets its own folder.
out="results/bench/$(date +%F)-vs-torch"
n=1
while [ -e "$out" ]; do n=$((n + 1)); out="results/bench/$(date +%F)-vs-torch-$n"; done
mkdir -p "$out/raw"
echo "$0 --steps $steps --threads $threads --rounds $rounds ${backends[*]}" > "$out/command.txt"
cargo build --release -q -p ae-bench
# Both sides get exactly $threads threads and no more (rayon pool / torch.set_num_threads).
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
for round in $(seq "$rounds"); do
  echo "round $round: ae-bench bench" >&2
  target/release/ae-bench bench --steps "$steps" --threads "$threads" "${backends[@]}" \
    > "$out/raw/ours-$round.csv"
  echo "round $round: PyTorch" >&2
  "$venv/bin/python" scripts/torch_reference.py --steps "$steps" --threads "$threads" \
    2>/dev/null > "$out/raw/torch-$round.csv"
done
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads used: $threads"
  echo "- torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null),"\
    "$(target/release/ae-bench --version), git $(git rev-parse --short HEAD)"
} > "$out/machine.txt"
python3 scripts/bench_summary.py "$out"
