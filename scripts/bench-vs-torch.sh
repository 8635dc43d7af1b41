#!/usr/bin/env bash
# Same-machine, same-run A/B of `ae-bench bench` against its PyTorch twin
# scripts/torch_reference.py (same shapes, float32, batch, Adam, thread count), alternating
# A B A B, then a table of examples/s with the ratio and the GFLOP/s each achieves against
# the machine's practical peak (MKL sgemm 2048^3 on the same threads, measured in the run).
#
#   scripts/bench-vs-torch.sh [--steps N] [--threads T] [--rounds R] [--backend B ...]
#                             [--torch VERSION ...]
#
# Writes results/bench/<date>-vs-torch/{raw/*.csv,summary.md,command.txt}: medians over the
# rounds with their spread (min–max), each workload against the faster PyTorch. Every
# --torch VERSION (default: 2.15.0 and 2.9.0) gets its own venv, .venv-torch-VERSION under
# $TORCH_VENV_DIR (default: the repository), created and filled (torch, scikit-learn) on
# first use; rounds alternate ours, then each PyTorch. CI does not run it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=200 threads=2 rounds=5 backends=() versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --backend) backends+=(--backend "$2"); shift 2 ;;
    --torch) versions+=("$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#backends[@]} -gt 0 ] || backends=(--backend flex)
[ ${#versions[@]} -gt 0 ] || versions=(2.15.0 2.9.0)
source scripts/bench-lib.sh
for v in "${versions[@]}"; do
  torch_venv "$v" "torch, sklearn" scikit-learn numpy threadpoolctl > /dev/null
done
out=$(dated_folder vs-torch)
mkdir -p "$out/raw"
echo "$0 --steps $steps --threads $threads --rounds $rounds ${backends[*]}"\
  "$(printf -- '--torch %s ' "${versions[@]}")" > "$out/command.txt"
# $AE_BENCH_BIN: a binary built beforehand (e.g. to keep the build out of a quiet window).
bin=${AE_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/ae-bench}
[ -n "${AE_BENCH_BIN:-}" ] || cargo build --release -q -p ae-bench
# Both sides get exactly $threads threads and no more (rayon pool / torch.set_num_threads).
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
for round in $(seq "$rounds"); do
  echo "round $round: ae-bench bench" >&2
  "$bin" bench --steps "$steps" --threads "$threads" "${backends[@]}" \
    > "$out/raw/ours-$round.csv"
  for v in "${versions[@]}"; do
    echo "round $round: PyTorch $v" >&2
    "$(venv_path "$v")/bin/python" scripts/torch_reference.py --steps "$steps" \
      --threads "$threads" 2>/dev/null > "$out/raw/torch-$v-$round.csv"
  done
done
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads used: $threads"
  for v in "${versions[@]}"; do
    echo "- torch $("$(venv_path "$v")/bin/python" -c 'import torch; print(torch.__version__)')"
  done
  echo "- $("$bin" --version), git $(git rev-parse --short HEAD)"
} > "$out/machine.txt"
python3 scripts/bench_summary.py "$out"
