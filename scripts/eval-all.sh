#!/usr/bin/env bash
# Runs every evaluation task of `ae-bench eval` with its committed experiment file
# (experiments/eval-<task>.toml) into results/<date>-eval-<task>/. About 60 minutes on
# 2 cores; pass extra arguments (e.g. `--set train.epochs=1`) to every run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ae-bench
for task in denoise compress tsne generate features anomaly cluster; do
  echo "== eval $task"
  ./target/release/ae-bench eval "$task" "$@" | tail -n 4
done
