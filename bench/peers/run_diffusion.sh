#!/usr/bin/env bash
# End-to-end diffusion-sampler and likelihood comparisons, otto vs diffusers and flow_matching, on
# the same networks, start points and levels (BENCHMARKS.md, "Diffusion samplers" and
# "Likelihood").
#   bash bench/peers/run_diffusion.sh
# Environment: OTTO_BIN (default target/release/otto), RUNS (default runs), REPEATS (default 3),
# THREADS (default 2), OUT (default bench/peers/out).
# Trains the four runs it needs when they are missing (20 000 steps each, seconds apiece):
#   $RUNS/ddpm-peers       otto train --method ddpm --target moons                      (SELU)
#   $RUNS/ddpm-silu-peers  the same with --activation silu (PyTorch's SELU is slow here: BENCHMARKS.md)
#   $RUNS/icfm-peers       otto train --method i-cfm --source gaussian --target moons   (SELU)
#   $RUNS/icfm-silu-peers  the same with --activation silu
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
otto="${OTTO_BIN:-$root/target/release/otto}"
runs="${RUNS:-$root/runs}"
out="${OUT:-$here/out}"
repeats="${REPEATS:-3}"
threads="${THREADS:-2}"
export RAYON_NUM_THREADS="$threads"  # PyTorch's threads: torch.set_num_threads in the scripts
py="$here/.venv/bin/python"

if [[ ! -x "$otto" ]]; then
    echo "run_diffusion: no otto binary at $otto; build it with 'cargo build --release -p otto-cli' or set OTTO_BIN" >&2
    exit 1
fi
bash "$here/setup.sh"
mkdir -p "$out" "$runs"
train() {
    local dir="$runs/$1"; shift
    if [[ ! -f "$dir/model.safetensors" ]]; then
        echo "run_diffusion: training $dir" >&2
        "$otto" train --steps 20000 --seed 0 --quiet --out "$dir" "$@"
    fi
}
train ddpm-peers --method ddpm --target moons
train ddpm-silu-peers --method ddpm --target moons --activation silu
train icfm-peers --method i-cfm --source gaussian --target moons
train icfm-silu-peers --method i-cfm --source gaussian --target moons --activation silu

echo "run_diffusion: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in ddpm-silu-peers ddpm-peers; do
    "$py" "$here/diffusers_samplers.py" --run "$runs/$run" --otto "$otto" --steps 20 --n 2000 \
        --time-n 10000 --repeats "$repeats" --threads "$threads" --json-out "$out/diffusers-$run.json" \
        | tee "$out/diffusers-$run.md"
done
for run in icfm-silu-peers icfm-peers; do
    "$py" "$here/flow_matching_likelihood.py" --run "$runs/$run" --otto "$otto" --method midpoint \
        --steps 100 --n 10000 --repeats "$repeats" --threads "$threads" --float64 \
        --json-out "$out/flow_matching-$run.json" | tee "$out/flow_matching-$run.md"
done
echo "run_diffusion: results in $out (diffusers-*.{md,json}, flow_matching-*.{md,json})" >&2
