"""Trained runs from Python against the CLI on the same run (same library, same seeds) and against a
conservation law (a density integrates to one). The runs are trained here by the otto binary
(``OTTO_BIN``, default ``target/release/otto``, which ``.ci/run``'s ``cargo test`` builds before these tests)."""

import os
import subprocess
from pathlib import Path

import numpy as np
import otto_ot
import pytest
from otto_ot.generative import Run

ROOT = Path(__file__).resolve().parents[3]
OTTO = Path(os.environ.get("OTTO_BIN", ROOT / "target" / "release" / "otto"))


def otto(*args):
    if not OTTO.exists():
        pytest.skip(
            f"the otto binary is not built ({OTTO}); run `cargo build --release -p otto-cli`"
        )
    subprocess.run([str(OTTO), *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ot-cfm"
    otto(
        "train",
        "--method",
        "ot-cfm",
        "--source",
        "gaussian",
        "--target",
        "moons",
        "--steps",
        "400",
        "--batch",
        "128",
        "--out",
        out,
    )
    return out


def test_samples_are_the_clis(flow_run, tmp_path):
    run = Run(flow_run)
    assert run.method == "ot-cfm" and run.dim == 2 and "ot-cfm" in run.config_toml
    x = run.sample(500, steps=20, solver="heun", seed=7)
    otto(
        "sample",
        "--run",
        flow_run,
        "--n",
        500,
        "--steps",
        20,
        "--solver",
        "heun",
        "--seed",
        7,
        "--out",
        tmp_path / "cli.npy",
    )
    np.testing.assert_array_equal(x, np.load(tmp_path / "cli.npy"))
    # From given start points: the same map applied to the rows, whatever their order.
    x0 = np.random.default_rng(0).normal(size=(50, 2))
    y = run.sample(x0=x0, steps=20)
    np.testing.assert_allclose(run.sample(x0=x0[::-1], steps=20), y[::-1], rtol=1e-12)


def test_likelihood_is_the_clis_and_a_density(flow_run, tmp_path):
    run = Run(flow_run)
    x = run.sample(200, seed=3)
    np.save(tmp_path / "x.npy", x)
    otto("likelihood", "--run", flow_run, "--x", tmp_path / "x.npy", "--out", tmp_path / "logp.npy")
    logp = run.log_likelihood(x)
    np.testing.assert_allclose(logp, np.load(tmp_path / "logp.npy"), rtol=1e-12)
    # Truth: a density integrates to one. Riemann sum over a grid covering the model's mass.
    lo, hi, k = -8.0, 8.0, 100
    g = np.linspace(lo, hi, k)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    mass = np.exp(run.log_likelihood(grid, steps=50)).sum() * ((hi - lo) / (k - 1)) ** 2
    assert mass == pytest.approx(1.0, abs=0.02)
    assert run.nll(x) == pytest.approx(-logp.mean())
    hutchinson = run.log_likelihood(x, divergence="hutchinson", probes=4, seed=1)
    assert abs(hutchinson.mean() - logp.mean()) < 0.1


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ddpm"
    otto("train", "--method", "ddpm", "--target", "moons", "--steps", "100", "--out", out)
    return out


@pytest.mark.parametrize("solver", ["dpmpp-2m", "edm-heun", "ddim"])
def test_diffusion_samplers_are_the_clis(ddpm_run, solver, tmp_path):
    # Truth: `otto sample --solver` on the same run, seed and levels (the same library code path
    # from a different front end), bit for bit; then with the levels given as an array and start
    # points given, and DDIM's η = 1 (stochastic: the same seed, the same draws).
    out = ddpm_run
    run = Run(out)
    x = run.sample(400, steps=12, solver=solver, seed=4)
    cli = tmp_path / "cli.npy"
    otto(
        "sample",
        "--run",
        out,
        "--n",
        400,
        "--steps",
        12,
        "--solver",
        solver,
        "--seed",
        4,
        "--out",
        cli,
    )
    np.testing.assert_array_equal(x, np.load(cli))
    levels = np.array([[0.0, 0.05, 0.9987], [0.5, 0.6, 0.8], [0.9, 0.95, 0.3], [1.0, 1.0, 0.0]])
    x0 = np.random.default_rng(1).normal(size=(30, 2))
    np.save(tmp_path / "levels.npy", levels)
    np.save(tmp_path / "x0.npy", x0)
    y = run.sample(x0=x0, levels=levels, solver=solver, eta=1.0)
    flags = ["--eta", 1.0] if solver == "ddim" else []
    otto(
        "sample",
        "--run",
        out,
        "--x0",
        tmp_path / "x0.npy",
        "--levels",
        tmp_path / "levels.npy",
        "--solver",
        solver,
        "--seed",
        1,
        "--out",
        cli,
        *flags,
    )
    np.testing.assert_array_equal(y, np.load(cli))


def test_diffusion_samplers_need_a_diffusion_run_and_valid_levels(flow_run):
    run = Run(flow_run)
    with pytest.raises(ValueError, match="affine Gaussian path"):
        run.sample(10, solver="dpmpp-2m")
    with pytest.raises(ValueError, match="levels apply to the diffusion samplers"):
        run.sample(10, solver="euler", levels=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="ddim, dpmpp-1"):
        run.sample(10, solver="dpm2")


def test_drifting_runs_are_one_step_generators(tmp_path):
    out = tmp_path / "drift"
    otto(
        "train",
        "--method",
        "drifting",
        "--target",
        "moons",
        "--steps",
        "20",
        "--gen-batch",
        "256",
        "--data-batch",
        "256",
        "--out",
        out,
    )
    run = Run(out)
    assert run.method == "drifting"
    x = run.sample(300, seed=2)
    assert x.shape == (300, 2) and np.isfinite(x).all()
    np.testing.assert_array_equal(x, run.sample(300, seed=2))
    with pytest.raises(ValueError, match="no likelihood"):
        run.log_likelihood(x)
    with pytest.raises(ValueError, match="x0"):
        run.sample(x0=x)


def test_bad_runs_and_inputs_are_value_errors(flow_run, tmp_path):
    with pytest.raises(ValueError, match="config.toml|No such file"):
        Run(tmp_path)
    run = Run(flow_run)
    with pytest.raises(ValueError, match="3 columns"):
        run.log_likelihood(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="solver|method"):
        run.sample(10, solver="leapfrog")
    assert otto_ot.w2(run.sample(200, seed=1), run.sample(200, seed=1)) == pytest.approx(
        0.0, abs=1e-12
    )
