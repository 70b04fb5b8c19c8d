#!/usr/bin/env python3
"""Time POT (ot.emd, ot.sinkhorn method='sinkhorn_log') and, as a second
reference, scipy.optimize.linear_sum_assignment, on inputs written by
make_ot_inputs.py. Prints one JSON line per (case, method) on stdout.

Each (case, method) runs in a fresh subprocess so that its peak RSS
(getrusage ru_maxrss) belongs to that measurement alone. Only the solver
call is timed (time.perf_counter); inputs are loaded beforehand.
Thread pools (OpenMP / OpenBLAS / MKL) are limited to --threads (default 2).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
METHODS = ("emd", "sinkhorn_log", "lsa")
LSA_MAX_N = 2000  # linear_sum_assignment at n = 4000 takes ~45 s: skipped by default


def worker(case_dir, method, eps, repeats):
    """Run in the child: load inputs, time `repeats` solver calls, return a dict."""
    import resource
    import statistics
    import time
    import warnings

    import numpy as np

    tol = float(os.environ.get("POT_BENCH_TOL", "1e-6"))
    import ot
    import scipy.optimize

    a = np.load(case_dir / "a.npy")
    b = np.load(case_dir / "b.npy")
    M = np.load(case_dir / "M.npy")
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    times, extra = [], {}
    for _ in range(repeats):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            if method == "emd":
                P, log = ot.emd(a, b, M, numItermax=10_000_000, log=True)
            elif method == "sinkhorn_log":
                P, log = ot.sinkhorn(
                    a,
                    b,
                    M,
                    reg=eps,
                    method="sinkhorn_log",
                    stopThr=tol,
                    numItermax=100000,
                    log=True,
                )
            else:
                rows, cols = scipy.optimize.linear_sum_assignment(M)
            times.append(time.perf_counter() - t0)
        if method == "lsa":
            cost = float(M[rows, cols].sum()) / len(a)  # = <P, M> with P = I / n
            iterations = None
            extra = {"status": "optimal"}
        else:
            cost = float((P * M).sum())
            if method == "emd":
                iterations = None  # POT's network simplex does not report it
                extra = {
                    "status": "optimal" if log["result_code"] == 1 else "not_optimal",
                    "result_code": int(log["result_code"]),
                    "warning": log["warning"],
                }
            else:
                iterations = int(log["niter"]) if "niter" in log else None
                err = float(log["err"][-1]) if log.get("err") else None
                extra = {
                    "status": "converged" if err is not None and err < tol else "not_converged",
                    "error": err,
                    "eps": eps,
                }
        if caught:
            extra["warnings"] = sorted({str(w.message) for w in caught})

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    return {
        "time_s": statistics.median(times),
        "times_s": times,
        "cost": cost,
        "iterations": iterations,
        "peak_rss_mb": (peak_kb - base_kb) / 1024,
        "peak_rss_abs_mb": peak_kb / 1024,
        "baseline_rss_mb": base_kb / 1024,
        **extra,
    }


def plan(manifest, methods, repeats, lsa_max_n):
    for c in manifest:
        for method in methods:
            if method == "lsa" and (
                c["n"] != c["m"] or c["weights"] != "uniform" or c["n"] > lsa_max_n
            ):
                continue
            r = 1 if (method == "sinkhorn_log" and c["n"] * c["m"] >= 4000 * 4000) else repeats
            yield c, method, r


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--inputs", type=Path, required=True, help="directory written by make_ot_inputs.py"
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed repeats per measurement, median reported (default 3; "
        "Sinkhorn at 4000 x 4000 always uses 1)",
    )
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--cases", nargs="+", help="subset of case names (default: all in cases.json)")
    p.add_argument(
        "--lsa-max-n",
        type=int,
        default=LSA_MAX_N,
        help=f"largest n timed with linear_sum_assignment (default {LSA_MAX_N})",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="value for OMP/OPENBLAS/MKL_NUM_THREADS in the children (default 2)",
    )
    p.add_argument(
        "--tol",
        type=float,
        default=1e-6,
        help="Sinkhorn stopThr, the tolerance on the marginal error (default 1e-6)",
    )
    p.add_argument(
        "--worker",
        nargs=4,
        metavar=("CASE_DIR", "METHOD", "EPS", "REPEATS"),
        help=argparse.SUPPRESS,
    )
    args = p.parse_args()

    if args.worker:
        case_dir, method, eps, repeats = args.worker
        print(json.dumps(worker(Path(case_dir), method, float(eps), int(repeats))))
        return

    import ot  # only for the version strings
    import scipy

    manifest = json.loads((args.inputs / "cases.json").read_text())
    if args.cases:
        manifest = [c for c in manifest if c["case"] in args.cases]
    env = dict(os.environ, **{v: str(args.threads) for v in THREAD_VARS})
    env["POT_BENCH_TOL"] = repr(args.tol)
    for c, method, repeats in plan(manifest, args.methods, args.repeats, args.lsa_max_n):
        cmd = [
            sys.executable,
            __file__,
            "--inputs",
            str(args.inputs),
            "--worker",
            str(args.inputs / c["dir"]),
            method,
            repr(c["eps"]),
            str(repeats),
        ]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        if method == "lsa":
            peer, version = "scipy", {"scipy_version": scipy.__version__}
        else:
            peer, version = "pot", {"pot_version": ot.__version__}
        print(
            json.dumps(
                {
                    "peer": peer,
                    **version,
                    "case": c["case"],
                    "n": c["n"],
                    "m": c["m"],
                    "method": method,
                    "repeats": repeats,
                    "threads": args.threads,
                    **res,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
