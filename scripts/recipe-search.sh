#!/usr/bin/env bash
# The recipe search of experiments/recipes.toml: one sweep per peak learning rate into
# results/<date>-recipes/lr-<rate>/, then a table of each family's best validation loss per
# rate and the winner (recipes.md beside them). Usage: scripts/recipe-search.sh [ae-bench]
set -euo pipefail
bin=${1:-target/release/ae-bench}
out=results/$(date +%F)-recipes
mkdir -p "$out"
for lr in 1e-3 3e-3 1e-2 3e-2; do
  if [ ! -f "$out/lr-$lr/run.json" ] || ! grep -q '"finished": "' "$out/lr-$lr/run.json"; then
    # A family that diverges at a rate is a failed cell, recorded; the search goes on.
    "$bin" sweep --experiment experiments/recipes.toml --set "train.lr=$lr" \
      --run-dir "$out/lr-$lr" --jobs 2 || echo "lr $lr: some cells failed (see above)"
  fi
done
python3 scripts/recipe_summary.py "$out" > "$out/recipes.md"
cat "$out/recipes.md"
