#!/usr/bin/env bash
# otto's test suite: the Rust workspace, then the Python package — built from crates/otto-py and
# installed into a fresh venv (target/py-test-venv) with its test peers from PyPI, its own tests,
# and POT's own test files run against otto's kernels (crates/otto-py/pot_suite/run.py).
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace --release   # also builds target/release/otto, which the Python tests train runs with
venv=target/py-test-venv
rm -rf "$venv"
python3 -m venv "$venv"
venv_bin="$PWD/$venv/bin"
py="$venv_bin/python"
"$py" -m pip install -q -r crates/otto-py/requirements-test.txt
"$py" -m pip install -q ./crates/otto-py
cd crates/otto-py
"$venv_bin/ruff" format --check python tests tests_torch pot_suite examples
"$venv_bin/ruff" check python tests tests_torch pot_suite examples
"$py" -m mypy python/otto_ot --ignore-missing-imports
OTTO_BIN="$PWD/../../target/release/otto" "$py" -m pytest -q -p no:cacheprovider tests
"$py" pot_suite/run.py
