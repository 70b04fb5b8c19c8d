#!/usr/bin/env python3
"""otto_ot from Python against POT on the same NumPy arrays, in one process, call overhead included
(each figure is a whole Python call: argument checks, input conversion, solve, outputs).

    bench/peers/.venv/bin/python bench/peers/otto_py_vs_pot.py [--repeats 5] [--threads 2] [--json FILE]

Cases: `emd2` on uniform 2-D Gaussian clouds (y shifted by (1, 1), cost ‖x − y‖²) at n = 256, 1000,
4000 against `ot.emd2`; `sinkhorn2` at n = 1000, reg = 0.05·mean(M), POT's defaults otherwise
(stopThr 1e-9, numItermax 1000) against `ot.sinkhorn2(method="sinkhorn_log")`. Reports the median
(and min) time per call, the speed-up and both values. `numItermax` is raised to 10⁷ for both
`emd2`s: at POT's default (10⁵) POT stops short of the optimum at n = 4000.
"""

import argparse
import json
import os
import statistics
import sys
import time


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import ot
    import otto_ot

    otto_ot.set_num_threads(args.threads)
    rows = []

    def add_row(case, ours, theirs, t_ours, min_ours, t_pot, min_pot):
        rows.append(
            dict(
                case=case,
                pot_s=t_pot,
                pot_min_s=min_pot,
                otto_s=t_ours,
                otto_min_s=min_ours,
                speedup=t_pot / t_ours,
                pot_value=float(theirs),
                otto_value=float(ours),
            )
        )

    def clouds(n):
        rng = np.random.default_rng(n)
        x = rng.standard_normal((n, 2))
        y = rng.standard_normal((n, 2)) + 1.0
        return ot.dist(x, y)

    for n in (256, 1000, 4000):
        M = clouds(n)
        a = np.full(n, 1.0 / n)
        cap = 10**7
        otto_ot.emd2(a, a, M, numItermax=cap)  # warm-up (also starts the pool)
        ours, t_ours, min_ours = timed(
            lambda a=a, M=M, cap=cap: otto_ot.emd2(a, a, M, numItermax=cap), args.repeats
        )
        theirs, t_pot, min_pot = timed(
            lambda a=a, M=M, cap=cap: ot.emd2(a, a, M, numItermax=cap), args.repeats
        )
        add_row(f"emd2 n={n}", ours, theirs, t_ours, min_ours, t_pot, min_pot)
    n = 1000
    M = clouds(n)
    a = np.full(n, 1.0 / n)
    reg = 0.05 * M.mean()
    otto_ot.sinkhorn2(a, a, M, reg)
    ours, t_ours, min_ours = timed(lambda: otto_ot.sinkhorn2(a, a, M, reg), args.repeats)
    theirs, t_pot, min_pot = timed(
        lambda: ot.sinkhorn2(a, a, M, reg, method="sinkhorn_log"), max(1, args.repeats // 2)
    )
    add_row(f"sinkhorn2 (log) n={n}", ours, theirs, t_ours, min_ours, t_pot, min_pot)

    print(
        f"POT {ot.__version__}, otto_ot {otto_ot.__version__}, numpy {np.__version__}, "
        f"threads {args.threads}, repeats {args.repeats}, Python {sys.version.split()[0]}"
    )
    print("| case | POT (s) | otto_ot (s) | speed-up | POT value | otto value |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['case']} | {r['pot_s']:.4f} | {r['otto_s']:.4f} | {r['speedup']:.2f}× | "
            f"{r['pot_value']:.10g} | {r['otto_value']:.10g} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
