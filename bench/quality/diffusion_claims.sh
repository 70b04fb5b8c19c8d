#!/usr/bin/env bash
# The diffusion issue's claims, measured with the CLI on one task (N(0, I) → moons):
#   1. path kinetic energy of the probability-flow ODE of VP and VE diffusion vs OT-CFM vs W2²,
#   2. sample quality versus NFE (EDM Heun and DPM-Solver++ at 10–20 NFE vs Euler at 100),
#   3. the reverse SDE and the probability-flow ODE reach the same marginals: W2 between SDE and
#      ODE sample sets next to the finite-sample floor (W2 between ODE sets of other seeds), each
#      over five seeds.
# 1 and 2 are `otto compare`'s table and figure; 3 samples the compare runs again.
# Usage: bash bench/quality/diffusion_claims.sh   (env: OTTO_BIN, OUT, STEPS, N)
set -euo pipefail
otto="${OTTO_BIN:-target/release/otto}"
out="${OUT:-out/diffusion-claims}"
steps="${STEPS:-20000}"
n="${N:-2000}"
if [[ ! -x "$otto" ]]; then
  echo "diffusion_claims: no otto binary at $otto; build it with 'cargo build --release -p otto-cli' or set OTTO_BIN" >&2
  exit 1
fi
mkdir -p "$out"
"$otto" compare --methods ddpm,score-ve,edm,vp-v,i-cfm,ot-cfm --steps "$steps" --n "$n" \
  --quiet --out "$out/compare" >"$out.compare.md" 2>&1 || { cat "$out.compare.md"; exit 1; }
cat "$out.compare.md"
echo
# Five draws on each side: one pair of 2000-point sets moves W2 by up to ±0.08 from seed to seed.
seeds="11 21 31 41 51"
echo "| run | W2(SDE, ODE): median (min–max) of 5 SDE seeds | floor W2(ODE', ODE): median (min–max) of 5 seeds |"
echo "|---|---|---|"
w2() { "$otto" ot w2 --x "$1" --y "$2" --json | sed 's/.*"w2":\([^,]*\),.*/\1/'; }
summary() { sort -g | awk '{ v[NR] = $1 } END { printf "%.4f (%.4f–%.4f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
for m in ddpm score-ve edm vp-v; do
  run="$out/compare/$m"
  "$otto" sample --run "$run" --solver rk4 --steps 100 --n "$n" --seed 12 --out "$out/$m-ode.npy" >/dev/null
  sde=$(for s in $seeds; do
    "$otto" sample --run "$run" --solver em --steps 1000 --n "$n" --seed "$s" --out "$out/$m-sde.npy" >/dev/null
    w2 "$out/$m-sde.npy" "$out/$m-ode.npy"
  done | summary)
  ode=$(for s in $seeds; do
    "$otto" sample --run "$run" --solver rk4 --steps 100 --n "$n" --seed $((s + 2)) --out "$out/$m-ode2.npy" >/dev/null
    w2 "$out/$m-ode2.npy" "$out/$m-ode.npy"
  done | summary)
  printf '| %s | %s | %s |\n' "$m" "$sde" "$ode"
done
