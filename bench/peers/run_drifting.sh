#!/usr/bin/env bash
# The drifting toy's speed, otto against PyTorch CPU in one run on the same machine (BENCHMARKS.md,
# "Drifting"): the full training step of the authors' recipe (MLP 32 → 256 → 256 → 256 → 2 SiLU,
# Adam, 2048 generated + 2048 data points, the paper's field at τ = 0.05) and the field alone at
# N = M = 2048 and 16 384 with its peak memory.
#   bash bench/peers/run_drifting.sh
# Environment: OTTO_BIN (default target/release/otto), THREADS (default 2), OUT (default
# bench/peers/out), SIZES (default "2048 16384"; PyTorch's unchunked 16 384 field needs ~10 GB).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
otto="${OTTO_BIN:-$root/target/release/otto}"
out="${OUT:-$here/out}"
threads="${THREADS:-2}"
sizes="${SIZES:-2048 16384}"
export OMP_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads"
py="$here/.venv/bin/python"
if [[ ! -x "$otto" ]]; then
    echo "run_drifting: no otto binary at $otto; build it with 'cargo build --release -p otto-cli' or set OTTO_BIN" >&2
    exit 1
fi
bash "$here/setup.sh"
mkdir -p "$out"
log="$out/drifting.jsonl"
: > "$log"
"$otto" bench drift --json --sizes "$(echo $sizes | tr ' ' ',')" | sed 's/^/{"peer":"otto",/; s/^{"peer":"otto",{/{"peer":"otto",/' >> "$log"
"$py" "$here/drifting_toy.py" --threads "$threads" step --task checkerboard | sed 's/^{/{"peer":"torch",/' >> "$log"
for n in $sizes; do
    "$py" "$here/drifting_toy.py" --threads "$threads" field --n "$n" --m "$n" | sed 's/^{/{"peer":"torch",/' >> "$log" || true
done
cat "$log"
