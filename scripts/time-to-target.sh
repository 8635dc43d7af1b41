#!/usr/bin/env bash
# Time to a target test error, ours against PyTorch on the same recipe, same machine, same run:
# `ae-bench bench --to-target` and scripts/torch_to_target.py train one model at k = 30 on
# all 60 000 MNIST images (Adam, one-cycle, test SSE after every epoch), alternating ours
# and PyTorch for each recipe. Models: deep (ReLU AE 784-1000-500-250-30), conv (conv AE
# 16-32), vae (VAE 784-500).
#
#   scripts/time-to-target.sh [--model deep|conv|vae] [--target SSE] [--threads T]
#                             [--torch VERSION] [--recipe EPOCHS,BATCH,LR ...]
#
# Default: the deep AE, target 5.0, 2 threads, PyTorch 2.15.0 (its venv .venv-torch-VERSION
# as in bench-vs-torch.sh), the reference recipe 30,128,3e-3. Writes
# results/bench/<date>-to-target[-conv|-vae]/{raw/*.csv,summary.md,command.txt,machine.txt}.
set -euo pipefail
cd "$(dirname "$0")/.."
model=deep target=5.0 threads=2 version=2.15.0 recipes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
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
case "$model" in
  deep) out=$(dated_folder to-target) ;;
  conv | vae) out=$(dated_folder "to-target-$model") ;;
  *) echo "unknown model $model (deep, conv or vae)" >&2; exit 2 ;;
esac
mkdir -p "$out/raw"
echo "$0 --model $model --target $target --threads $threads --torch $version $(printf -- '--recipe %s ' "${recipes[@]}")" \
  > "$out/command.txt"
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads used: $threads"
  echo "- torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
  echo "- $("$bin" --version), git $(git rev-parse --short HEAD)"
} > "$out/machine.txt"
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
for r in "${recipes[@]}"; do
  IFS=, read -r epochs batch lr <<< "$r"
  tag="$model-e$epochs-b$batch-lr$lr"
  echo "recipe $tag: ae-bench" >&2
  "$bin" bench --to-target "$target" --model "$model" --epochs "$epochs" --batch "$batch" --lr "$lr" \
    --threads "$threads" > "$out/raw/ours-$tag.csv"
  echo "recipe $tag: PyTorch $version" >&2
  "$venv/bin/python" scripts/torch_to_target.py --model "$model" --epochs "$epochs" --batch "$batch" \
    --lr "$lr" --threads "$threads" > "$out/raw/torch-$tag.csv"
done
python3 scripts/to_target_summary.py "$out" "$target"
