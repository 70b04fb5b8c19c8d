#!/usr/bin/env python3
"""Run otto's CLI on the inputs written by make_ot_inputs.py and print a
markdown table next to POT's results (JSON lines from pot_ot.py).

otto is `target/release/otto` (cargo build --release -p otto-cli), or $OTTO_BIN.
For each case it runs
    otto ot emd      --cost M.npy --a a.npy --b b.npy --json
    otto ot sinkhorn --cost M.npy --a a.npy --b b.npy --eps E --tol 1e-6 --json
(E = 0.05 * mean(M), taken from cases.json), --repeats times each; time is the
median of otto's reported solver time_s, peak memory the largest max-RSS of
the otto process (/usr/bin/time -f %M, or os.wait4 if that is missing).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "otto"
GNU_TIME = "/usr/bin/time"
BUILD_HINT = (
    "build it with `cargo build --release -p otto-cli` (from the repository root), "
    "or point OTTO_BIN at an otto binary"
)


def otto_bin():
    path = Path(os.environ.get("OTTO_BIN", DEFAULT_BIN))
    if not (path.is_file() and os.access(path, os.X_OK)):
        sys.exit(f"compare_ot: otto binary not found at {path}: {BUILD_HINT}")
    return path


def run_measured(cmd):
    """Run cmd; return (stdout, peak RSS in MB of that process)."""
    if os.access(GNU_TIME, os.X_OK):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            proc = subprocess.run(
                [GNU_TIME, "-f", "%M", "-o", tf.name, *cmd], capture_output=True, text=True
            )
            lines = tf.read().split()
        kb = float(lines[-1]) if lines else float("nan")
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    else:  # per-child rusage via wait4
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            proc = subprocess.Popen(cmd, stdout=fo, stderr=fe)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = rc = os.waitstatus_to_exitcode(status)
            fo.seek(0), fe.seek(0)
            out, err = fo.read().decode(), fe.read().decode()
        kb = usage.ru_maxrss
    if rc != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {rc}:\n{err.strip()}")
    return out, kb / 1024


def parse_json(stdout, cmd):
    """otto prints one JSON object on stdout; tolerate leading log lines."""
    for line in reversed(stdout.strip().splitlines()):
        if line.lstrip().startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON object in the output of {' '.join(map(str, cmd))}:\n{stdout}")


def run_otto(binary, case_dir, method, eps, tol, repeats):
    files = ["--cost", case_dir / "M.npy", "--a", case_dir / "a.npy", "--b", case_dir / "b.npy"]
    if method == "emd":
        cmd = [binary, "ot", "emd", *files, "--json"]
    else:
        cmd = [binary, "ot", "sinkhorn", *files, "--eps", repr(eps), "--tol", repr(tol), "--json"]
    runs = []
    for _ in range(repeats):
        out, peak_mb = run_measured([str(c) for c in cmd])
        runs.append((parse_json(out, cmd), peak_mb))
    res = dict(runs[-1][0])
    res["time_s"] = statistics.median(r["time_s"] for r, _ in runs)
    res["times_s"] = [r["time_s"] for r, _ in runs]
    res["peak_rss_abs_mb"] = max(m for _, m in runs)
    res["cost"] = res["cost"] if method == "emd" else res["transport_cost"]
    return res


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def table(rows):
    head = [
        "case",
        "method",
        "n×m",
        "POT time (s)",
        "otto time (s)",
        "speed-up",
        "scipy LSA (s)",
        "POT cost",
        "otto cost",
        "rel. cost diff",
        "POT peak MB (abs / Δ)",
        "otto peak MB",
        "notes",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        pot, otto, lsa = r["pot"], r["otto"], r["lsa"]
        speed = pot["time_s"] / otto["time_s"] if pot and otto and otto["time_s"] > 0 else None
        rel = (
            abs(otto["cost"] - pot["cost"]) / abs(pot["cost"])
            if pot and otto and pot["cost"]
            else None
        )
        notes = []
        for who, res in (("POT", pot), ("otto", otto)):
            if res and res.get("status") not in ("optimal", "converged"):
                notes.append(f"{who}: {res.get('status')}")
        if otto and (otto.get("n"), otto.get("m")) != (r["n"], r["m"]):
            notes.append(f"otto reports {otto.get('n')}×{otto.get('m')}!")
        if otto and otto.get("solver"):
            notes.append(f"otto solver: {otto['solver']}")
        if pot and otto and otto.get("iterations") is not None:
            notes.append(f"iters POT/otto: {fmt(pot.get('iterations'), '')}/{otto['iterations']}")
        lines.append(
            "| "
            + " | ".join(
                [
                    r["case"],
                    r["method"],
                    f"{r['n']}×{r['m']}",
                    fmt(pot and pot["time_s"], ".4f"),
                    fmt(otto and otto["time_s"], ".4f"),
                    fmt(speed, ".2f") + ("×" if speed else ""),
                    fmt(lsa and lsa["time_s"], ".4f"),
                    fmt(pot and pot["cost"], ".10g"),
                    fmt(otto and otto["cost"], ".10g"),
                    fmt(rel, ".2e"),
                    (f"{pot['peak_rss_abs_mb']:.1f} / {pot['peak_rss_mb']:.1f}" if pot else "–"),
                    fmt(otto and otto["peak_rss_abs_mb"], ".1f"),
                    "; ".join(notes),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--inputs", type=Path, help="directory written by make_ot_inputs.py")
    p.add_argument("--pot", type=Path, help="JSON lines written by pot_ot.py")
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="otto runs per measurement (default 3; "
        "Sinkhorn at 4000 x 4000 always uses 1, as on the POT side)",
    )
    p.add_argument("--tol", type=float, default=1e-6, help="Sinkhorn --tol (default 1e-6)")
    p.add_argument("--otto-json", type=Path, help="also write otto's results here as JSON lines")
    p.add_argument(
        "--check-bin", action="store_true", help="only check that the otto binary exists"
    )
    args = p.parse_args()

    binary = otto_bin()
    if args.check_bin:
        print(f"compare_ot: using otto at {binary}", file=sys.stderr)
        return
    if not (args.inputs and args.pot):
        p.error("--inputs and --pot are required")

    pot = {}
    for line in args.pot.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            pot[(r["case"], r["method"])] = r
    rows, otto_lines = [], []
    for c in json.loads((args.inputs / "cases.json").read_text()):
        if not any(case == c["case"] for case, _ in pot):
            continue
        for method, pot_method in (("emd", "emd"), ("sinkhorn", "sinkhorn_log")):
            if (c["case"], pot_method) not in pot:
                continue
            reps = 1 if method == "sinkhorn" and c["n"] * c["m"] >= 4000 * 4000 else args.repeats
            print(
                f"compare_ot: otto {method} on {c['case']} ({reps}x)", file=sys.stderr, flush=True
            )
            otto = run_otto(binary, args.inputs / c["dir"], method, c["eps"], args.tol, reps)
            otto_lines.append(json.dumps({"peer": "otto", "case": c["case"], **otto}))
            rows.append(
                {
                    "case": c["case"],
                    "method": method,
                    "n": c["n"],
                    "m": c["m"],
                    "pot": pot[(c["case"], pot_method)],
                    "otto": otto,
                    "lsa": pot.get((c["case"], "lsa")) if method == "emd" else None,
                }
            )
    if args.otto_json:
        args.otto_json.write_text("\n".join(otto_lines) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
