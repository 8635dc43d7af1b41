#!/usr/bin/env bash
# A newcomer's first two commands, timed: clone this repository's HEAD into an empty folder,
# then the README's `cargo run --release -p ae-bench -- sweep` and `cargo test --workspace
# --release` with an empty target folder (crates from the cargo cache; no network), each
# with --timings. Writes results/bench/<date>-fresh-clone/{summary.md,command.txt,
# machine.txt,timings/*.html}. Keep the machine otherwise idle while it runs.
#
#   scripts/fresh-clone-timing.sh [--keep]     # --keep: leave the clone for inspection
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[ "${1:-}" = "--keep" ] && keep=true
source scripts/bench-lib.sh
out=$(dated_folder fresh-clone)
mkdir -p "$out/timings"
echo "$0 $*" > "$out/command.txt"
repo=$(pwd)
clone=$(mktemp -d /tmp/ae-fresh.XXXX)
git clone -q "$repo" "$clone"
rev=$(git -C "$clone" rev-parse --short HEAD)
{
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- $(cargo --version), $(rustc --version)"
  echo "- commit $rev, cloned into an empty folder; CARGO_TARGET_DIR unset (target/ inside the clone)"
} > "$out/machine.txt"
(
  cd "$clone"
  unset CARGO_TARGET_DIR
  s=$(date +%s)
  cargo run --release --timings -p ae-bench -- sweep > first.log 2>&1
  m=$(date +%s)
  cargo test --workspace --release --timings > second.log 2>&1
  e=$(date +%s)
  {
    echo "# Fresh clone: the README's two commands (commit $rev, $(date -u +%F))"
    echo
    echo "| command | seconds | cargo says |"
    echo "|---|---:|---|"
    echo "| \`cargo run --release -p ae-bench -- sweep\` | $((m - s)) | $(grep -m1 Finished first.log | sed 's/^ *//') |"
    echo "| \`cargo test --workspace --release\` | $((e - m)) | $(grep -m1 Finished second.log | sed 's/^ *//') |"
    echo "| together | $((e - s)) | |"
    echo
    echo "Tests: $(grep -h '^test result' second.log | awk '{p+=$4; f+=$6} END {print p " passed, " f " failed"}')."
    echo "Per-crate build times: \`timings/\` (cargo's --timings reports, first and second command)."
  } > summary.md
  cp target/cargo-timings/cargo-timing-*.html "$repo/$out/timings/"
  cp summary.md "$repo/$out/summary.md"
)
$keep || rm -rf "$clone"
cat "$out/summary.md"
