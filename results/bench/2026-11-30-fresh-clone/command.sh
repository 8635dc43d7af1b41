#!/usr/bin/env bash
# Fresh clone, empty target folder, README's two commands with --timings, machine paused.
set -u
pkill -STOP -f "ae-bench-conv sweep"
trap 'pkill -CONT -f "ae-bench-conv sweep"' EXIT
rm -rf /tmp/fresh && git clone -q /work/main /tmp/fresh && cd /tmp/fresh
unset CARGO_TARGET_DIR
git log --oneline | head -1
date
s=$(date +%s)
cargo run --release --timings -p ae-bench -- sweep > /work/logs/fresh-sweep.out 2>&1; echo "sweep rc=$?"
m=$(date +%s)
cargo test --workspace --release --timings > /work/logs/fresh-test.out 2>&1; echo "test rc=$?"
e=$(date +%s)
echo "first command: $((m-s)) s; second: $((e-m)) s; total: $((e-s)) s"
grep -E "Finished|test result: FAILED|panicked" /work/logs/fresh-sweep.out /work/logs/fresh-test.out | head
mkdir -p /work/logs/timings && cp target/cargo-timings/*.html /work/logs/timings/
