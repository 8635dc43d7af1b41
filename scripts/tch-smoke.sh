#!/usr/bin/env bash
# Builds ae-bench with the libtorch backend against the libtorch inside PyTorch's pip wheel,
# then runs one smoke-sweep cell and the benchmark workloads on it (CI does not run this).
#
# burn-tch 0.21 uses tch 0.22, whose build script requires exactly PyTorch 2.9.0
# (torch-sys `TORCH_VERSION`); LIBTORCH_USE_PYTORCH=1 makes it ask `python3` for the
# wheel's headers and libraries, so `python3` must be the venv's. The wheel on PyPI pulls
# its CUDA runtime packages (~4 GB in all); libtorch runs on the CPU without a GPU.
#
#   scripts/tch-smoke.sh            # venv in .venv-tch, or $TCH_VENV
#
# Writes results/bench/<date>-tch-smoke/{output.txt,command.txt,machine.txt} (append-only:
# a second run on the same day gets its own folder), which the README's tch numbers cite.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TCH_VENV:-.venv-tch}
want=2.9.0
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$want')" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "torch==$want"
fi
export PATH="$(cd "$venv/bin" && pwd):$PATH" LIBTORCH_USE_PYTORCH=1
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Its own target dir: the default build stays free of libtorch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/tch"
cargo build --release -p ae-bench --features tch
bin="$CARGO_TARGET_DIR/release/ae-bench"
out=$(mktemp -d)
source scripts/bench-lib.sh
folder=$(dated_folder tch-smoke)
echo "$0" > "$folder/command.txt"
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
  echo "- libtorch from torch $(python3 -c 'import torch; print(torch.__version__)')"
  echo "- $("$bin" --version), git $(git rev-parse --short HEAD)"
} > "$folder/machine.txt"
exec > >(tee "$folder/output.txt") 2>&1
echo "== one smoke cell on tch (mlp-256, code 30, MNIST, seed 0)"
"$bin" sweep --backend tch --out "$out" \
  --set 'datasets=["mnist"]' --set 'seeds=[0]' --set 'code_sizes=[30]' \
  --set 'models=[{ kind = "deep", label = "mlp-256", arch = { hidden = [256], activation = "relu", code_activation = "linear" } }]'
grep "| tch |" "$out"/*-smoke*/summary.md
echo "== benchmark workloads, tch then flex, 2 threads"
"$bin" bench --backend tch --backend flex --workload deep --workload conv --workload vae --workload rbm --steps 20
