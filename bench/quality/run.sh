#!/usr/bin/env bash
# Reproduces the W2 column of the SF2M paper's Table 2 (MATH.md §2) for OT-CFM and I-CFM with the
# published protocol: 3×64 SELU MLP, AdamW lr 1e-3, weight decay 1e-5, batch 512, σ = 0.1, STEPS
# training steps (default 20 000 = the torchcfm runner's 1000 epochs of 10 000 points at batch 512),
# then W2 = √(exact OT cost) between n samples (100 Euler steps) and n held-out target points, for
# seeds 0, 1, 2, with n = 10 000 (MATH.md's protocol) and n = 1 000 (the size of the runner's test
# split, [10000, 1000, 1000]; W2 between finite samples has a floor that depends on n).
#
# TASKS lists source:target pairs. The default is the paper's data as the torchcfm runner defines
# it: `dsb-8gaussians:dsb-moons` (the runner's `moon-8gaussians` data, generating the moons) and
# `gaussian:sk-moons` (N → moons).
# METHODS takes otto's training methods and `rf`, the SF2M table's rectified flow: an i-cfm run
# (reused when OUT_DIR already holds it: list i-cfm before rf to evaluate it too), then `--method reflow
# --from` it, the same STEPS each (2-rectified flow, Liu et al. 2023; MATH.md §8).
# TRAIN_SIZE=10000 trains on a fixed set of that many points of each built-in data set (the runner's
# finite training split; a gaussian source stays fresh noise); the default 0 draws fresh points.
# SIGMA overrides the methods' default σ (0.1 for i-cfm/ot-cfm/reflow, 1 for sb-cfm/sf2m).
# Usage: bash bench/quality/run.sh [OUT_DIR]   (env: STEPS, TASKS, METHODS, SEEDS, SIZES, TRAIN_SIZE, SIGMA, OTTO_BIN)
set -euo pipefail
otto="${OTTO_BIN:-target/release/otto}"
out="${1:-runs/quality}"
steps="${STEPS:-20000}"
mkdir -p "$out"
sigma_args=()
[ -n "${SIGMA:-}" ] && sigma_args=(--sigma "$SIGMA")
for task in ${TASKS:-dsb-8gaussians:dsb-moons gaussian:sk-moons}; do
  source="${task%%:*}"
  target="${task#*:}"
  for method in ${METHODS:-ot-cfm i-cfm}; do
    for seed in ${SEEDS:-0 1 2}; do
      run="$out/$source-$target-$method-$seed"
      if [ "$method" = rf ]; then
        base="$out/$source-$target-i-cfm-$seed"
        [ -f "$base/model.safetensors" ] ||
          "$otto" train --source "$source" --target "$target" --method i-cfm --steps "$steps" \
            --seed "$seed" --train-size "${TRAIN_SIZE:-0}" --out "$base" --quiet "${sigma_args[@]}"
        "$otto" train --method reflow --from "$base" --steps "$steps" --seed "$seed" --out "$run" \
          --quiet "${sigma_args[@]}"
      else
        "$otto" train --source "$source" --target "$target" --method "$method" --steps "$steps" \
          --seed "$seed" --train-size "${TRAIN_SIZE:-0}" --out "$run" --quiet "${sigma_args[@]}"
      fi
      for n in ${SIZES:-10000 1000}; do
        "$otto" eval --run "$run" --n "$n" --json \
          | sed "s/^{/{\"source\":\"$source\",\"target\":\"$target\",\"method\":\"$method\",\"seed\":$seed,\"steps\":$steps,\"sigma\":\"${SIGMA:-default}\",\"train_size\":${TRAIN_SIZE:-0},/"
      done
    done
  done
done | tee "$out/results.jsonl"
