"""SF2M's Gaussian benchmark (Tong et al., AISTATS 2024, Table 3; MATH.md §8) with otto.

Task: N(−0.1, I_d) → N(0.1, I_d), σ = 1, d = 5, 20, 50. The Schrödinger bridge's marginals are known
in closed form (MATH.md §3 with A = B = I): q_t = N(0.2t − 0.1, s_t I) with
s_t = (1 − t)² + t² + t(1 − t)√(4 + σ⁴). For each run this script

1. writes 12 500 points of each Gaussian to .npy (otto's 80/20 split keeps 10⁴ for training, the
   paper's training-set size), seeded by the run's seed;
2. trains `otto train --method M --batch 500 --steps STEPS` (SF2M-Exact: flow + score with the exact
   coupling; SB-CFM: flow only, entropic coupling ε = 2σ²);
3. samples 10⁴ fresh source points through 20 steps — Euler–Maruyama of the learned SDE with g = σ
   for SF2M (`--solver sde`), the probability-flow ODE (Euler) for SB-CFM, which learns no score —
   keeping every step (`otto sample --trajectory`);
4. fits a Gaussian p̃_t to the 10⁴ points at each recorded time t_k and reports KL(p̃_1 ‖ q_1) and
   the mean of KL(p̃_t ‖ q_t) over the 21 recorded times (SF2M's SDE starts at t = 10⁻³, where the
   bridge's score is finite; q_t is taken at the recorded times).

It also reports the finite-sample floor: the same KLs for 10⁴ exact draws of q_t (a Gaussian fit to
n points in d dimensions is off by about (d + d(d + 1)/2)/(2n) nats in expectation).

Usage: python bench/quality/sf2m_gaussian.py [OUT_DIR]
  env: OTTO_BIN (default target/release/otto), DIMS ("5 20 50"), SEEDS ("0 1 2"),
       METHODS ("sf2m sb-cfm"; also sf2m-sinkhorn: SF2M with the entropic coupling ε = 2σ², whose
       marginals are the Schrödinger bridge's), STEPS (20000). Prints one JSON object per run;
       needs NumPy.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SIGMA = 1.0
N_TRAIN_FILE = 12_500  # otto's default test fraction 0.2 leaves 10 000 training points
N_SAMPLES = 10_000
EM_STEPS = 20


def bridge_marginal(t: float) -> tuple[float, float]:
    """Mean (per coordinate) and variance of q_t, the Gaussian bridge's marginal."""
    s = (1 - t) ** 2 + t**2 + t * (1 - t) * math.sqrt(4 + SIGMA**4)
    return 0.2 * t - 0.1, s


def kl_fit_to_isotropic(x: np.ndarray, mean: float, var: float) -> float:
    """KL(N(m̂, Ŝ) ‖ N(mean·1, var·I)) for the Gaussian fit (m̂, Ŝ) of the rows of x."""
    d = x.shape[1]
    m = x.mean(axis=0)
    cov = np.cov(x, rowvar=False).reshape(d, d)
    _, logdet = np.linalg.slogdet(cov)
    diff = m - mean
    return 0.5 * (np.trace(cov) / var + diff @ diff / var - d + d * math.log(var) - logdet)


def otto(*args: str) -> str:
    binary = os.environ.get("OTTO_BIN", "target/release/otto")
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def kls(states: np.ndarray, times: np.ndarray) -> tuple[float, float]:
    per_time = [
        kl_fit_to_isotropic(s, *bridge_marginal(float(t)))
        for s, t in zip(states, times, strict=True)
    ]
    return per_time[-1], float(np.mean(per_time))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/sf2m-gaussian")
    out.mkdir(parents=True, exist_ok=True)
    dims = [int(d) for d in os.environ.get("DIMS", "5 20 50").split()]
    seeds = [int(s) for s in os.environ.get("SEEDS", "0 1 2").split()]
    methods = os.environ.get("METHODS", "sf2m sb-cfm").split()
    steps = int(os.environ.get("STEPS", "20000"))
    for d in dims:
        for seed in seeds:
            rng = np.random.default_rng([d, seed])
            data = {}
            for name, mean in (("source", -0.1), ("target", 0.1)):
                path = out / f"d{d}-seed{seed}-{name}.npy"
                np.save(path, mean + rng.standard_normal((N_TRAIN_FILE, d)))
                data[name] = path
            x0 = out / f"d{d}-seed{seed}-x0.npy"
            np.save(x0, -0.1 + rng.standard_normal((N_SAMPLES, d)))
            # The floor: exact draws of q_t at the SDE's recorded times.
            times = 1e-3 + (1 - 1e-3) * np.arange(EM_STEPS + 1) / EM_STEPS
            exact = np.stack(
                [
                    m + math.sqrt(v) * rng.standard_normal((N_SAMPLES, d))
                    for m, v in map(bridge_marginal, times)
                ]
            )
            floor_end, floor_mean = kls(exact, times)
            for method in methods:
                run = out / f"d{d}-{method}-{seed}"
                coupling = ["--coupling", "sinkhorn"] if method == "sf2m-sinkhorn" else []
                otto(
                    "train",
                    "--source", str(data["source"]),
                    "--target", str(data["target"]),
                    "--method", method.removesuffix("-sinkhorn"), *coupling,
                    "--batch", "500",
                    "--steps", str(steps),
                    "--seed", str(seed),
                    "--out", str(run),
                    "--quiet",
                )  # fmt: skip
                sde = method.startswith("sf2m")
                solver = ["--solver", "sde"] if sde else ["--solver", "euler"]
                trajectory = run / "trajectory.npy"
                otto(
                    "sample", "--run", str(run), *solver,
                    "--steps", str(EM_STEPS),
                    "--x0", str(x0),
                    "--seed", str(seed + 100),
                    "--trajectory", str(trajectory),
                    "--json",
                )  # fmt: skip
                states = np.load(trajectory)
                recorded = np.load(trajectory.with_suffix(".times.npy"))
                kl_end, kl_mean = kls(states, recorded)
                row = {
                    "d": d,
                    "method": method,
                    "seed": seed,
                    "steps": steps,
                    "sampler": solver[1],
                    "kl_end": kl_end,
                    "kl_mean": kl_mean,
                    "floor_kl_end": floor_end,
                    "floor_kl_mean": floor_mean,
                    "t_first": float(recorded[0]),
                }
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
