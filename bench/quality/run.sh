#!/usr/bin/env bash
# Reproduces the W2 column of the SF2M paper's Table 2 (MATH.md §2) for OT-CFM and I-CFM on
# 8gaussians → moons and N(0, I) → moons: the published protocol (3×64 SELU MLP, AdamW lr 1e-3,
# weight decay 1e-5, batch 512, σ = 0.1), STEPS training steps, then W2 = √(exact OT cost) between
# 10 000 samples (100 Euler steps) and 10 000 held-out target points, for seeds 0, 1, 2.
# Usage: bash bench/quality/run.sh [OUT_DIR]   (STEPS=10000, SOURCES="8gaussians gaussian",
# TARGET=moons by default; TARGET=sk-moons uses the torchcfm runner's moons, the paper's data)
set -euo pipefail
otto="${OTTO_BIN:-target/release/otto}"
out="${1:-runs/quality}"
steps="${STEPS:-10000}"
target="${TARGET:-moons}"
mkdir -p "$out"
for source in ${SOURCES:-8gaussians gaussian}; do
  for method in ot-cfm i-cfm; do
    for seed in 0 1 2; do
      run="$out/$source-$method-$seed"
      "$otto" train --source "$source" --target "$target" --method "$method" --steps "$steps" \
        --seed "$seed" --out "$run" --quiet
      "$otto" eval --run "$run" --n 10000 --json \
        | sed "s/^{/{\"source\":\"$source\",\"target\":\"$target\",\"method\":\"$method\",\"seed\":$seed,\"steps\":$steps,/"
    done
  done
done | tee "$out/results.jsonl"
