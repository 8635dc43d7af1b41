#!/bin/bash
# Throughput per batch size, 1 epoch each side (deep ReLU AE, to-target path), machine paused.
cd /work/main
pkill -STOP -f "ae-bench-conv sweep"
trap 'pkill -CONT -f "ae-bench-conv sweep"' EXIT
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
for b in 32 64 128 256; do
  /work/logs/ae-bench-simd bench --to-target 0.1 --epochs 1 --batch $b --lr 1e-3 --threads 2 | tail -1
  .venv-torch-2.15.0/bin/python scripts/torch_to_target.py --epochs 1 --batch $b --lr 1e-3 --threads 2 | tail -1
done
