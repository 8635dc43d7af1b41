#!/usr/bin/env bash
# Time to a target test error, ours against PyTorch on the same recipe, same machine, same run:
# `ae-bench bench --to-target` and scripts/torch_to_target.py train the deep ReLU AE
# 784-1000-500-250-30 on all 60 000 MNIST images (Adam, one-cycle, test SSE after every
# epoch), alternating ours and PyTorch for each recipe.
#
#   scripts/time-to-target.sh [--target SSE] [--threads T] [--torch VERSION]
#                             [--recipe EPOCHS,BATCH,LR ...]
#
# Default: target 5.0, 2 threads, PyTorch 2.15.0 (its venv .venv-torch-VERSION as in
# bench-vs-torch.sh), the reference recipe 30,128,3e-3. Writes
# results/bench/<date>-to-target/{raw/*.csv,summary.md,command.txt,machine.txt}.
set -euo pipefail
cd "$(dirname "$0")/.."
target=5.0 threads=2 version=2.15.0 recipes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --torch) version=$2; shift 2 ;;
    --recipe) recipes+=("$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#recipes[@]} -gt 0 ] || recipes=(30,128,3e-3)
source scripts/bench-lib.sh
venv=$(torch_venv "$version" torch numpy)
bin=${AE_BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/ae-bench}
[ -n "${AE_BENCH_BIN:-}" ] || cargo build --release -q -p ae-bench
out=$(dated_folder to-target)
mkdir -p "$out/raw"
echo "$0 --target $target --threads $threads --torch $version $(printf -- '--recipe %s ' "${recipes[@]}")" \
  > "$out/command.txt"
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads used: $threads"
  echo "- torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
  echo "- $("$bin" --version), git $(git rev-parse --short HEAD)"
} > "$out/machine.txt"
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
for r in "${recipes[@]}"; do
  IFS=, read -r epochs batch lr <<< "$r"
  tag="e$epochs-b$batch-lr$lr"
  echo "recipe $tag: ae-bench" >&2
  "$bin" bench --to-target "$target" --epochs "$epochs" --batch "$batch" --lr "$lr" \
    --threads "$threads" > "$out/raw/ours-$tag.csv"
  echo "recipe $tag: PyTorch $version" >&2
  "$venv/bin/python" scripts/torch_to_target.py --epochs "$epochs" --batch "$batch" \
    --lr "$lr" --threads "$threads" > "$out/raw/torch-$tag.csv"
done
python3 scripts/to_target_summary.py "$out" "$target"
