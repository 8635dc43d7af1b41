#!/usr/bin/env bash
# Fuzzes the parsers that read user and run files (fuzz/fuzz_targets/*): IDX (raw, gzip),
# experiment TOML + --set, baseline CSV, cell records. Needs a nightly toolchain and
# cargo-fuzz (`rustup toolchain install nightly && cargo install cargo-fuzz`).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 600 s, every target)
# Corpora grow in fuzz/corpus/<target> (ignored by git), starting from the committed
# fuzz/seeds/<target>; crashes land in fuzz/artifacts/<target>. A summary line per target
# (executions, corpus size, crashes) goes to fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx experiment baseline cell)
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/ae-fuzz-target}
cd fuzz
# One build of every target (sanitizer-instrumented; the first build takes about an hour on
# 2 cores: polars and burn), then the binaries run directly. FUZZ_NO_BUILD=1 skips it.
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  cargo +nightly fuzz build -O 2>&1 | tail -3
fi
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
: > summary.txt
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  # -rss_limit_mb: a gzip bomb or a huge axis must fail cleanly well below the machine's memory.
  if "$bin_dir/$t" "corpus/$t" "seeds/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  corpus=$(find "corpus/$t" -type f | wc -l)
  echo "$t: ${secs}s, ${execs:-?} executions, corpus $corpus, $crashes crash/oom/timeout file(s): $result" | tee -a summary.txt
done
exit $status
