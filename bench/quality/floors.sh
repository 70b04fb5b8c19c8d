#!/usr/bin/env bash
# The finite-sample floor of W2: √(exact OT cost) between two independent draws of the same
# built-in data set, for several sample sizes n (three pairs of seeds each). A generated sample
# cannot be expected to come closer to a held-out set than another true sample does.
# Usage: bash bench/quality/floors.sh   (env: SETS, SIZES, OTTO_BIN)
set -euo pipefail
otto="${OTTO_BIN:-target/release/otto}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for set in ${SETS:-sk-moons dsb-moons dsb-8gaussians}; do
  for n in ${SIZES:-512 1000 10000}; do
    for pair in "0 1" "2 3" "4 5"; do
      read -r a b <<<"$pair"
      "$otto" data "$set" --n "$n" --seed "$a" --out "$tmp/a.npy" >/dev/null
      "$otto" data "$set" --n "$n" --seed "$b" --out "$tmp/b.npy" >/dev/null
      printf '{"set":"%s","n":%s,"seeds":[%s,%s],' "$set" "$n" "$a" "$b"
      "$otto" ot w2 --x "$tmp/a.npy" --y "$tmp/b.npy" --json | sed 's/^{//'
    done
  done
done
