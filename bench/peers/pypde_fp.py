#!/usr/bin/env python3
"""py-pde on the 2-D anisotropic Ornstein–Uhlenbeck Fokker–Planck problem that otto's
`otto flow fp` benchmark solves, with its error against the closed form (MATH.md §6).

Problem: ∂_t ρ = ∇·(ρ∇V) + DΔρ, V(x) = ½xᵀAx, A = [[1, .5], [.5, 2]], D = 1, on the box
[−6, 6]² (cell-centred N×N grid, the same nodes as otto's), from ρ_0 = N((1, 1), 0.25·I), to T = 1.
Closed form: ρ_T = N(m_T, S_T), m_T = e^{−AT} m0, S_T = e^{−AT} S0 e^{−AT} + D A^{-1}(I − e^{−2AT}).

py-pde writes the drift in the form its expression parser takes (operators act on fields):
∇·(ρ∇V) = ∇V·∇ρ + ρ tr(A), i.e.
    laplace(c) + (x + 0.5*y)*d_dx(c) + (0.5*x + 2*y)*d_dy(c) + 3*c
with Neumann (zero-derivative) boundaries. Errors, measured exactly as otto measures them:
  l1_to_exact      Σ|ρ_i − g_i|ΔV, g the closed-form Gaussian sampled at the nodes and normalized
                   on the grid (otto: GridDensity::gaussian);
  mean_error       max |mean(ρ) − m_T| (moments of the grid density, normalized by its mass);
  covariance_error max |cov(ρ) − S_T|.
Timing: the stepping function is built once (`solver.make_stepper`, where numba compiles; reported
as compile_s) and the time is the best of --repeats calls advancing a fresh state from 0 to T
(time_s; the first call is reported as time_s_first_call). No trackers, no output. One JSON object per (grid, dt, scheme) on
stdout.

    bench/peers/.venv/bin/python bench/peers/pypde_fp.py --grid 64,128 --dt 1e-3 --scheme euler
"""

import argparse
import json
import os
import time

import numpy as np
import pde
from scipy.linalg import expm

A = np.array([[1.0, 0.5], [0.5, 2.0]])
D = 1.0
M0 = np.array([1.0, 1.0])
S0 = 0.25 * np.eye(2)
T = 1.0
BOX = (-6.0, 6.0)


def exact(t):
    e = expm(-A * t)
    e2 = expm(-2 * A * t)
    return e @ M0, e @ S0 @ e + D * np.linalg.inv(A) @ (np.eye(2) - e2)


def gaussian_on(grid, mean, cov):
    x, y = grid.cell_coords[..., 0], grid.cell_coords[..., 1]
    d = np.stack([x - mean[0], y - mean[1]], axis=-1)
    p = np.linalg.inv(cov)
    v = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, p, d))
    return v / (v.sum() * grid.cell_volume_data[0] * grid.cell_volume_data[1])


def moments(grid, rho):
    x, y = grid.cell_coords[..., 0], grid.cell_coords[..., 1]
    w = rho / rho.sum()
    m = np.array([(w * x).sum(), (w * y).sum()])
    dx, dy = x - m[0], y - m[1]
    c = np.array(
        [[(w * dx * dx).sum(), (w * dx * dy).sum()], [(w * dx * dy).sum(), (w * dy * dy).sum()]]
    )
    return m, c


def run(n, dt, scheme, repeats):
    grid = pde.CartesianGrid([BOX, BOX], [n, n])
    dv = grid.cell_volume_data[0] * grid.cell_volume_data[1]
    rho0 = gaussian_on(grid, M0, S0)
    eq = pde.PDE(
        {"c": "laplace(c) + (x + 0.5*y)*d_dx(c) + (0.5*x + 2*y)*d_dy(c) + 3*c"},
        bc={"derivative": 0},
    )
    if scheme == "euler":
        solver = pde.solvers.EulerSolver(eq)
        step = dt
    elif scheme == "rk45":
        # --dt is the error tolerance of the adaptive Runge–Kutta 5(4) stepper.
        solver = pde.solvers.RungeKuttaSolver(eq, adaptive=True, tolerance=dt)
        step = 1e-3
    else:
        raise SystemExit(f"unknown --scheme {scheme}: euler or rk45")
    example = pde.ScalarField(grid, rho0.copy())
    start = time.perf_counter()
    stepper = solver.make_stepper(example, dt=step)  # numba compilation happens here
    compile_s = time.perf_counter() - start

    def solve():
        state = pde.ScalarField(grid, rho0.copy())
        start = time.perf_counter()
        stepper(state, 0.0, T)
        return state, time.perf_counter() - start

    out, cold = solve()
    steps = int(solver.info.get("steps", 0))  # the info accumulates over calls
    warm = []
    for _ in range(repeats):
        out, t = solve()
        warm.append(t)
    rho = out.data
    m_t, s_t = exact(T)
    g = gaussian_on(grid, m_t, s_t)
    m, c = moments(grid, rho)
    return {
        "solver": "py-pde",
        "version": pde.__version__,
        "scheme": {"euler": "explicit Euler, fixed dt", "rk45": "Runge-Kutta 5(4), adaptive"}[
            scheme
        ],
        "steps": steps,
        "grid": n,
        "dt": dt,
        "time_s": min(warm) if warm else cold,
        "time_s_first_call": cold,
        "compile_s": compile_s,
        "mass": float(rho.sum() * dv),
        "l1_to_exact": float(np.abs(rho - g).sum() * dv),
        "mean_error": float(np.abs(m - m_t).max()),
        "covariance_error": float(np.abs(c - s_t).max()),
        "exact_mean": m_t.tolist(),
        "exact_covariance": s_t.tolist(),
        "threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--grid", default="64,128", help="cells per axis, comma-separated")
    ap.add_argument(
        "--dt", default="1e-3", help="time steps (tolerances for rk45), comma-separated"
    )
    ap.add_argument("--scheme", default="euler", help="py-pde explicit scheme: euler or rk45")
    ap.add_argument("--repeats", type=int, default=3, help="warm timed runs (best reported)")
    args = ap.parse_args()
    for n in [int(v) for v in args.grid.split(",")]:
        for dt in [float(v) for v in args.dt.split(",")]:
            print(json.dumps(run(n, dt, args.scheme, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
