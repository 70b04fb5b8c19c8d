#!/usr/bin/env bash
# The Python package against its peers, in bench/peers/.venv (torch, torchcfm, POT): installs the
# otto-ot wheel built from crates/otto-py, runs the torch-dependent tests (tests_torch/), torchcfm's
# own OT tests with otto's sampler swapped in and with POT's kernels patched, then the speed
# comparisons (otto_py_vs_pot.py, torchcfm_otto_sampler.py). Never run in CI (PyTorch is GBs).
#   bash bench/peers/run_python.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$here/.venv/bin/python"
bash "$here/setup.sh"
"$py" -m pip install -q "$root/crates/otto-py"
"$py" -m pytest -q -p no:cacheprovider "$root/crates/otto-py/tests_torch"

# torchcfm's own OT tests (from its sdist, pinned) — with otto's OTPlanSampler, then with the patch.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" - "$tmp" <<'PY'
import hashlib, re, sys, tarfile, urllib.request
index = urllib.request.urlopen("https://pypi.org/simple/torchcfm/", timeout=60).read().decode()
url, digest = re.search(r'href="([^"]*/torchcfm-1\.0\.7\.tar\.gz)#sha256=([0-9a-f]{64})"', index).groups()
data = urllib.request.urlopen(url, timeout=120).read()
assert hashlib.sha256(data).hexdigest() == digest, "sha256 mismatch"
open(sys.argv[1] + "/torchcfm.tar.gz", "wb").write(data)
tarfile.open(sys.argv[1] + "/torchcfm.tar.gz").extractall(sys.argv[1])
PY
tests="$tmp/torchcfm-1.0.7/tests"
sed 's/from torchcfm.optimal_transport import OTPlanSampler, wasserstein/from otto_ot.torchcfm import OTPlanSampler, wasserstein/' \
    "$tests/test_optimal_transport.py" > "$tests/test_optimal_transport_otto.py"
echo "--- torchcfm's OT tests with otto_ot.torchcfm.OTPlanSampler"
"$py" -m pytest -q -p no:cacheprovider -c /dev/null --rootdir "$tests" "$tests/test_optimal_transport_otto.py" || true
echo "--- torchcfm's OT and flow-matcher tests with otto_ot.pot.patch()"
"$py" -m pytest -q -p no:cacheprovider -p otto_ot.pytest_pot -c /dev/null --rootdir "$tests" \
    "$tests/test_optimal_transport.py" "$tests/test_conditional_flow_matcher.py"

echo "--- speed"
"$py" "$here/otto_py_vs_pot.py" --repeats 5
"$py" "$here/torchcfm_otto_sampler.py" --steps 200
