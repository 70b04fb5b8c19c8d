#!/usr/bin/env bash
# The drifting paper's toy (Deng et al. 2026, the authors' notebook; MATH.md §5) with otto:
# MLP 32 → 256 → 256 → 256 → 2 (SiLU), Adam 1e-3, 2000 steps of 2048 generated + 2048 data
# points, the paper's field (Alg. 2, τ = 0.05, one temperature, no normalization), on the
# notebook's checkerboard and swiss roll, 3 seeds each. Reports the final loss as the notebook
# does (EMA 0.96 of the per-step loss; reported 1.63e-5 swiss roll, 3.56e-5 checkerboard), W2 to
# 4096 held-out points, the wall time, and draws the snapshots at steps 1, 500, 1000, 1500, 2000.
# Usage: bash bench/quality/drifting_toy.sh   (env: OTTO_BIN, OUT, SEEDS)
set -euo pipefail
otto="${OTTO_BIN:-target/release/otto}"
out="${OUT:-out/drifting-toy}"
seeds="${SEEDS:-0 1 2}"
mkdir -p "$out"
echo "| task | seed | final loss (EMA 0.96) | W2 to 4096 held-out | train s |"
echo "|---|---|---|---|---|"
for task in checkerboard swissroll; do
  for seed in $seeds; do
    run="$out/$task-$seed"
    start=$(date +%s.%N)
    "$otto" train --method drifting --drift deng --temperatures 0.05 --target "drifting-$task" \
      --seed "$seed" --log-every 1 --checkpoint-every 500 --quiet --out "$run"
    end=$(date +%s.%N)
    ema=$(sed 's/.*"loss":\([^,]*\),.*/\1/' "$run/log.jsonl" |
      awk 'NR == 1 { e = $1 } NR > 1 { e = 0.96 * e + 0.04 * $1 } END { printf "%.3e", e }')
    w2=$("$otto" eval --run "$run" --n 4096 --json | sed 's/.*"w2":\([^,]*\),.*/\1/')
    "$otto" plot --run "$run" >/dev/null
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    printf '| %s | %s | %s | %.4f | %s |\n' "$task" "$seed" "$ema" "$w2" "$secs"
  done
done
echo
echo "snapshots: $out/<task>-<seed>/plots/snapshots.png"
