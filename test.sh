#!/usr/bin/env bash
# otto's test suite: the Rust workspace, then the Python package — built from crates/otto-py and
# installed into a fresh venv (target/py-test-venv) with its test peers from PyPI, its own tests,
# and POT's own test files run against otto's kernels (crates/otto-py/pot_suite/run.py).
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace --release
venv=target/py-test-venv
rm -rf "$venv"
python3 -m venv "$venv"
py="$PWD/$venv/bin/python"
"$py" -m pip install -q -r crates/otto-py/requirements-test.txt
"$py" -m pip install -q ./crates/otto-py
cd crates/otto-py
"$py" -m pytest -q -p no:cacheprovider tests
"$py" pot_suite/run.py
