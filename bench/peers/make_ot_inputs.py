#!/usr/bin/env python3
"""Write identical OT benchmark inputs for POT and otto.

For every case a sub-directory <out>/<case>/ gets
    x.npy (n x 2), y.npy (m x 2)   2-D standard Gaussian clouds, y shifted by (1, 1)
    a.npy (n,),    b.npy (m,)      weights (uniform, or uniform(0.5, 1.5) normalised)
    M.npy (n x m)                  squared Euclidean cost, float64, C order
except for the "structured" cases, whose cost is M_ij = i*j / n**2 (x = i / n, y = j / n; uniform
weights): a rank-one cost whose optimum is the anti-diagonal (rearrangement inequality), where the
nearest neighbours of a point say nothing about the optimal plan.
and <out>/cases.json lists the cases with the entropic regulariser
eps = 0.05 * mean(M) that both sides must use for Sinkhorn.
"""

import argparse
import json
from pathlib import Path

import numpy as np

# name -> (n, m, weights)
CASES = {
    "uniform_256": (256, 256, "uniform"),
    "uniform_512": (512, 512, "uniform"),
    "uniform_1000": (1000, 1000, "uniform"),
    "uniform_2000": (2000, 2000, "uniform"),
    "uniform_4000": (4000, 4000, "uniform"),
    "nonuniform_1000": (1000, 1000, "nonuniform"),
    "rect_1000x1500": (1000, 1500, "uniform"),
    "structured_ij_1000": (1000, 1000, "structured"),
}
EPS_FACTOR = 0.05


def make_case(n, m, weights, seed):
    if weights == "structured":
        x = (np.arange(n, dtype=np.float64) / n)[:, None]
        y = (np.arange(m, dtype=np.float64) / n)[:, None]
        M = np.ascontiguousarray(x * y.T, dtype=np.float64)
        return {"x": x, "y": y, "a": np.full(n, 1.0 / n), "b": np.full(m, 1.0 / m), "M": M}
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    y = rng.standard_normal((m, 2)) + 1.0
    if weights == "uniform":
        a = np.full(n, 1.0 / n)
        b = np.full(m, 1.0 / m)
    else:
        a = rng.uniform(0.5, 1.5, n)
        a /= a.sum()
        b = rng.uniform(0.5, 1.5, m)
        b *= a.sum() / b.sum()  # same total mass as a
    M = np.ascontiguousarray(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1), dtype=np.float64)
    return {"x": x, "y": y, "a": a, "b": b, "M": M}


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed for np.random.default_rng (default 0)")
    p.add_argument(
        "--cases",
        nargs="+",
        choices=sorted(CASES),
        default=list(CASES),
        help="subset of cases (default: all)",
    )
    args = p.parse_args()

    manifest = []
    for name in args.cases:
        n, m, weights = CASES[name]
        arrays = make_case(n, m, weights, args.seed)
        case_dir = args.out / name
        case_dir.mkdir(parents=True, exist_ok=True)
        for key, arr in arrays.items():
            np.save(case_dir / f"{key}.npy", arr)
        eps = EPS_FACTOR * float(arrays["M"].mean())
        manifest.append(
            {
                "case": name,
                "n": n,
                "m": m,
                "weights": weights,
                "seed": args.seed,
                "eps": eps,
                "eps_rule": f"{EPS_FACTOR} * mean(M)",
                "dir": name,
            }
        )
        print(f"wrote {case_dir} (n={n}, m={m}, {weights}, eps={eps!r})")
    (args.out / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
