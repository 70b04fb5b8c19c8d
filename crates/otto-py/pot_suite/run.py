"""Runs POT's own test files twice — as released, and with otto's kernels patched in
(``pytest -p otto_ot.pytest_pot``) — and checks the outcome:

1. every test that passes with POT alone passes with the patch, except the differences listed in
   ``KNOWN_DIFFERENCES`` (each explained in ../README.md), which must still be the only ones;
2. every patched kernel (``emd_c``, ``emd_1d_sorted``, ``sinkhorn_log``, ``sinkhorn_stabilized``)
   served some calls.

POT's sdist is fetched from PyPI (version pinned to the installed POT, sha256 checked against the
index) into a temporary directory. Usage: ``python pot_suite/run.py [--keep DIR]``. Exit status 0
when both checks hold.
"""

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

FILES = ["test_ot.py", "test_bregman.py", "test_1d_solver.py", "test_gaussian.py"]

#: Tests that fail with the patch and pass without it, with why (kept in step with ../README.md).
KNOWN_DIFFERENCES: dict[str, str] = {}


def fetch_sdist(version, into):
    """POT's sdist of ``version`` from PyPI's simple index, its sha256 checked."""
    index = urllib.request.urlopen("https://pypi.org/simple/pot/", timeout=60).read().decode()
    name = f"pot-{version}.tar.gz"
    match = re.search(r'href="([^"]*/' + re.escape(name) + r')#sha256=([0-9a-f]{64})"', index)
    if not match:
        sys.exit(f"POT {version}: no sdist {name} on PyPI's index")
    url, digest = match.groups()
    data = urllib.request.urlopen(url, timeout=120).read()
    if hashlib.sha256(data).hexdigest() != digest:
        sys.exit(f"{name}: sha256 mismatch")
    archive = Path(into) / name
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/test/" in m.name and m.name.endswith(".py")]
        tar.extractall(into, members=members)
    return Path(into) / f"pot-{version}" / "test"


def run_suite(tests, patched):
    report = tests / ("patched.json" if patched else "baseline.json")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "otto_ot.pytest_pot",
        "-p",
        "no:cacheprovider",
        "-c",
        "/dev/null",
        "--rootdir",
        str(tests),
        "--otto-report",
        str(report),
        *FILES,
    ]
    if not patched:
        cmd.append("--otto-pot-off")
    done = subprocess.run(cmd, cwd=tests, capture_output=True, text=True)
    summary = [line for line in done.stdout.splitlines() if line.strip()][-8:]
    print(f"--- POT's tests, {'patched' if patched else 'as released'}:\n" + "\n".join(summary))
    return json.loads(report.read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", help="extract POT's tests here instead of a temporary directory")
    args = parser.parse_args()
    import ot

    with tempfile.TemporaryDirectory() as tmp:
        tests = fetch_sdist(ot.__version__, args.keep or tmp)
        base = run_suite(tests, patched=False)
        patched = run_suite(tests, patched=True)

    passed_before = set(base["outcomes"]["passed"])
    passed_after = set(patched["outcomes"]["passed"])
    lost = passed_before - passed_after
    gained = passed_after - passed_before
    unexplained = sorted(lost - set(KNOWN_DIFFERENCES))
    print(
        f"passed: {len(passed_before)} as released, {len(passed_after)} patched "
        f"({len(gained)} gained, {len(lost)} lost)"
    )
    for test in sorted(lost & set(KNOWN_DIFFERENCES)):
        print(f"  known difference {test}: {KNOWN_DIFFERENCES[test]}")
    for test in sorted(set(KNOWN_DIFFERENCES) - lost):
        print(f"  note: {test} no longer differs; remove it from KNOWN_DIFFERENCES and the README")
    print(
        "kernel calls served by otto: "
        + ", ".join(f"{k} {v['otto']} (POT {v['pot']})" for k, v in patched["calls"].items())
    )
    ok = True
    if unexplained:
        print(
            "FAIL: tests that pass with POT but fail with otto's kernels:\n  "
            + "\n  ".join(unexplained)
        )
        ok = False
    idle = [k for k, v in patched["calls"].items() if v["otto"] == 0]
    if idle:
        print(f"FAIL: kernels that served no call: {', '.join(idle)}")
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
