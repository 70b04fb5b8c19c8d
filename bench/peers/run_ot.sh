#!/usr/bin/env bash
# End-to-end OT comparison, POT vs otto, on identical inputs.
#   bash bench/peers/run_ot.sh
# Environment: OTTO_BIN (default target/release/otto), REPEATS (default 3),
# SEED (default 0), OUT (default bench/peers/out), THREADS (default 2),
# CASES (space-separated subset of make_ot_inputs.py's cases; default all),
# TOL (Sinkhorn tolerance on the marginal error, both sides; default 1e-6).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-$here/out}"
repeats="${REPEATS:-3}"
threads="${THREADS:-2}"
tol="${TOL:-1e-6}"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
export RAYON_NUM_THREADS="$threads"   # otto side, if it uses rayon
py="$here/.venv/bin/python"

bash "$here/setup.sh"                                   # (a) venv with pinned POT
"$py" "$here/compare_ot.py" --check-bin                  # fail fast if otto is not built

mkdir -p "$out"
"$py" "$here/make_ot_inputs.py" --out "$out/inputs" --seed "${SEED:-0}" \
    ${CASES:+--cases $CASES}                                            # (b)
echo "run_ot: POT (threads=$threads, repeats=$repeats)" >&2
"$py" "$here/pot_ot.py" --inputs "$out/inputs" --repeats "$repeats" --threads "$threads" --tol "$tol" \
    | tee "$out/pot.jsonl" >&2                                          # (c)
"$py" "$here/compare_ot.py" --inputs "$out/inputs" --pot "$out/pot.jsonl" \
    --repeats "$repeats" --tol "$tol" --otto-json "$out/otto.jsonl" | tee "$out/ot_table.md"  # (d) + (e)
echo "run_ot: results in $out (pot.jsonl, otto.jsonl, ot_table.md)" >&2
