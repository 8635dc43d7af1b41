#!/usr/bin/env bash
# The Slurm steps of CI, on the single-node Slurm of scripts/slurm-local.sh (which must be
# up):  1. the smoke experiment as `ae-bench slurm submit --tasks 4`, merged and checked
# against results/baselines/smoke.csv by the merge job;  2. the same again with one array
# task cancelled mid-run: the merge job then fails (cells missing), `slurm submit --resume`
# runs only the missing cells, and the final merged run holds every cell exactly once and
# passes the same check.
#   usage: scripts/slurm-ci.sh AE_BENCH_BINARY OUT_DIR
set -euo pipefail
BIN=$1
OUT=$2
. "${SLURM_LOCAL_DIR:-/tmp/ae-bench-slurm}/env.sh"

job_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1/jobs.json" "$2"; }
wait_gone() { # job id, timeout in s
  for _ in $(seq "$2"); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 1; done
  echo "job $1 still queued after $2 s" >&2; squeue >&2; return 1
}
state_of() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }

echo "--- 1. smoke as a 4-task job array"
t0=$(date +%s)
# Prints submit's output (to stderr: stdout is the run root) and returns the run root.
submit() {
  local out
  out=$("$BIN" slurm submit "$@")
  echo "$out" >&2
  echo "$out" | sed -n 's|^Run root: \(.*\)/  .*|\1|p'
}
R=$(submit --tasks 4 --baseline results/baselines/smoke.csv --out "$OUT/plain")
wait_gone "$(job_of "$R" merge)" 900
echo "slurm smoke: $(( $(date +%s) - t0 )) s from submission to the checked merge"
cat "$R/logs/merge.log"
[ "$(state_of "$(job_of "$R" merge)")" = COMPLETED ] || { echo "merge/check job failed" >&2; exit 1; }
"$BIN" slurm status "$R"

echo "--- 2. one task cancelled mid-run, then --resume"
R=$(submit --tasks 4 --baseline results/baselines/smoke.csv --out "$OUT/cancel")
A=$(job_of "$R" array)
# Wait until task 2 runs and has stored at least one cell, then cancel it.
for _ in $(seq 600); do
  n=$( (ls "$R/shard-2/cells" 2>/dev/null || true) | wc -l)
  [ "$n" -ge 1 ] && [ "$(state_of "${A}_2" 2>/dev/null || true)" = RUNNING ] && break
  sleep 0.2
done
scancel "${A}_2"
echo "cancelled task 2 with $(ls "$R/shard-2/cells" | wc -l) of 21 cells stored"
wait_gone "$(job_of "$R" merge)" 900
first=$(state_of "$(job_of "$R" merge)")
echo "merge job after the cancel: $first (expected FAILED: cells missing)"
"$BIN" slurm status "$R"
[ "$first" != COMPLETED ] || { echo "the check passed with a task cancelled" >&2; exit 1; }
"$BIN" slurm submit --resume "$R"
wait_gone "$(job_of "$R" merge)" 900
cat "$R/logs/merge.log"
[ "$(state_of "$(job_of "$R" merge)")" = COMPLETED ] || { echo "resumed merge/check failed" >&2; exit 1; }
"$BIN" slurm status "$R" | tee "$OUT/cancel-status.txt"
grep -q "84 done, 0 failed, 0 missing" "$OUT/cancel-status.txt"
M=$(ls -d "$R"/merged/*-merged* | tail -1)
cells=$(ls "$M/cells" | wc -l)
uniq=$(ls "$M/cells" | sort -u | wc -l)
[ "$cells" = 84 ] && [ "$uniq" = 84 ] || { echo "merged run has $cells cells ($uniq distinct), expected 84" >&2; exit 1; }
grep -q "appeared in more than one source" "$R/logs/merge.log" && { echo "a cell ran twice" >&2; exit 1; }
echo "cancel + resume: every one of the 84 cells present once, check passed"

echo "--- 3. preemption: a --requeue task is requeued mid-run (SIGTERM), stops at a cell boundary, continues"
R=$(submit --tasks 2 --requeue --baseline results/baselines/smoke.csv --out "$OUT/requeue")
A=$(job_of "$R" array)
for _ in $(seq 600); do
  n=$( (ls "$R/shard-1/cells" 2>/dev/null || true) | wc -l)
  [ "$n" -ge 2 ] && [ "$(state_of "${A}_1" 2>/dev/null || true)" = RUNNING ] && break
  sleep 0.2
done
scontrol requeue "${A}_1"
echo "requeued task 1 with $(ls "$R/shard-1/cells" | wc -l) of 42 cells stored"
wait_gone "$(job_of "$R" merge)" 900
cat "$R/logs/merge.log"
grep -a -q "stopped by SIGTERM at a cell boundary" "$R/logs/task-1.log" \
  || { echo "task 1 did not stop cleanly on SIGTERM" >&2; tail -5 "$R/logs/task-1.log" >&2; exit 1; }
[ "$(state_of "$(job_of "$R" merge)")" = COMPLETED ] || { echo "merge after requeue failed" >&2; exit 1; }
echo "requeue: the task stopped at a cell boundary, was requeued, continued its folder; check passed"
