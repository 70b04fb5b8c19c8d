#!/usr/bin/env python3
"""otto's diffusion samplers against diffusers' schedulers on the same ε-network, start points and
noise levels, and the time of DPM-Solver++(2M) on both. Trains nothing: it reads an otto ddpm run.

Usage:
  bench/peers/.venv/bin/python bench/peers/diffusers_samplers.py --run runs/ddpm-peers \\
      --otto target/release/otto [--n 2000] [--steps 20] [--time-n 10000] [--repeats 3] [--threads 2]

The model. An otto `ddpm` run is an ε-prediction MLP with input row [x, t] (t = 0 noise, t = 1
data) on the continuous VP linear-β schedule, α_t = exp(−¼s²(β1 − β0) − ½sβ0), s = 1 − t,
β0 = 0.1, β1 = 20 (otto's vp-linear). It is loaded into PyTorch with mlp_check.load_otto and wrapped
as a diffusers-style model `eps = model(x, k)` with the timestep map

    diffusers timestep k ∈ [0, 999] (integer or fractional)  ->  otto time t = 1 − (k + 1)/1000,

so k = 0 is s = 10⁻³ (score_sde's ε, otto's end of sampling) and k = 999 is s = 1 (pure noise).
The schedulers are built with `trained_betas` β_k = 1 − ᾱ_k/ᾱ_{k−1}, ᾱ_k = α(t_k)² (ᾱ_{−1} = 1), so
that diffusers' discrete ᾱ_k is otto's continuous α² at the network's time (up to diffusers'
float32 cumprod). otto is then handed, with `otto sample --levels`, the exact levels (t, α, σ) that
each diffusers scheduler steps through — read back from the scheduler after set_timesteps, with α
and σ formed as that scheduler forms them — and, with `--x0`, the same start points.

The samplers (deterministic; diffusers' own defaults unless said):
  * ddim: DDIMScheduler(clip_sample=False, set_alpha_to_one=True, timestep_spacing="leading"),
    step(eta=0). Levels: the timesteps 1000/N·(N−1), …, 0, then ᾱ = 1 (σ = 0);
    α = √ᾱ_k, σ = √(1 − ᾱ_k) in float32 as DDIMScheduler.step computes them. Start x = z.
  * dpmpp-2m: DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
    final_sigmas_type="zero", lower_order_final=True, timestep_spacing="linspace"). Levels: its
    float32 sigmas σ_k = √((1 − ᾱ_k)/ᾱ_k) at the timesteps plus 0, α = 1/√(σ² + 1), σ_vp = σα
    (its _sigma_to_alpha_sigma_t). Start x = z.
  * edm-heun: HeunDiscreteScheduler(use_karras_sigmas=True): Karras et al.'s ρ = 7 grid between
    the schedule's σ_min = σ(k = 0) and σ_max = σ(k = 999) in the variance-exploding σ = σ_vp/α,
    fractional timesteps k(σ) by log-σ interpolation, Heun with 2N − 1 evaluations (no correction
    on the step to σ = 0) — the EDM sampler (Karras et al. 2022, Alg. 1). EDMEulerScheduler is
    only first order and EDM-preconditioned, so HeunDiscreteScheduler is the closer match. It works
    on x_VE = x/α: start x_VE = σ_max z, scale_model_input divides by √(σ² + 1). otto gets the
    levels t(k), α = 1/√(σ² + 1), σ_vp = σα and the start α₀σ_max z (its x is the VP x).

Agreement is max |otto − diffusers| over max |diffusers| (the output scale), on the final points.
diffusers runs in float32 (its DPM-Solver step upcasts to float32 anyway); otto's network runs in
float32 and its sampler arithmetic in float64, so about 1e-6 is the floor.

Timing: --time-n points, DPM-Solver++(2M), --steps steps, torch.set_num_threads(--threads) and
RAYON_NUM_THREADS for otto; diffusers' loop (set_timesteps, then per step the network call and
scheduler.step) under torch.inference_mode(), after a 64-point warm-up; otto twice: `time_s` from
`otto sample --json` (a fresh process each time, no warm-up; sampling only: the run is loaded and
the files read before its clock starts) and, in this process, `otto_ot.generative.Run.sample` on
the same start points and levels (the wall time of the call, array conversions included; its
output must equal the CLI's bit for bit). Alternating repeats, median. Each turn — the otto
process, otto in process, diffusers — starts after a 0.5 s pause (PyTorch's OpenMP workers
spin-wait after a parallel region; an otto run started at once shared the two cores with them and
took up to twice as long), and in process each library's timed call is the second of two calls of
the same size (after the pause the idle cores ran the first ~40 ms of work up to 2× slower on
this VM: bench/peers/otto_after_idle.py).
Prints a markdown table; --json-out writes every figure.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from mlp_check import load_otto  # noqa: E402

TRAIN_STEPS = 1000


def otto_time(k):
    """otto's time t of diffusers' timestep k (float64): t = 1 − (k + 1)/1000."""
    return 1.0 - (np.asarray(k, dtype=np.float64) + 1.0) / TRAIN_STEPS


def vp_linear_alpha(t, beta0=0.1, beta1=20.0):
    s = 1.0 - np.asarray(t, dtype=np.float64)
    return np.exp(-0.25 * s * s * (beta1 - beta0) - 0.5 * s * beta0)


def trained_betas(cfg):
    """β_k with ∏_{j ≤ k}(1 − β_j) = α(t_k)² for k = 0..999 (float64)."""
    if (cfg.get("schedule") or "vp-linear") != "vp-linear":
        raise SystemExit(
            f"only vp-linear ddpm runs are supported, not schedule {cfg.get('schedule')!r}"
        )
    alpha_bar = vp_linear_alpha(otto_time(np.arange(TRAIN_STEPS))) ** 2
    previous = np.concatenate([[1.0], alpha_bar[:-1]])
    return 1.0 - alpha_bar / previous


class OttoEpsilon(torch.nn.Module):
    """otto's ε-MLP as a diffusers model: eps = model(x, k), k diffusers' timestep."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, k):
        t = otto_time(float(k))
        row = torch.cat(
            [x.float(), torch.full((x.shape[0], 1), float(t), dtype=torch.float32)], dim=1
        )
        return self.net(row).to(x.dtype)


def read_run(run):
    import tomllib

    cfg = tomllib.loads((pathlib.Path(run) / "config.toml").read_text())
    if cfg.get("method") != "ddpm" or (cfg.get("predict") or "noise") != "noise":
        raise SystemExit(
            f"{run}: an ε-predicting ddpm run is needed (method = {cfg.get('method')!r}, "
            f"predict = {cfg.get('predict')!r})"
        )
    model_cfg, net, omega = load_otto(pathlib.Path(run) / "model.safetensors")
    if omega is not None:
        raise SystemExit(f"{run}: time_embedding = concat is needed (the wrapper feeds [x, t])")
    net.eval()
    return cfg, OttoEpsilon(net)


def build(name, betas):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, HeunDiscreteScheduler

    common = dict(num_train_timesteps=TRAIN_STEPS, trained_betas=betas, prediction_type="epsilon")
    if name == "ddim":
        return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True)
    if name == "dpmpp-2m":
        return DPMSolverMultistepScheduler(
            **common,
            algorithm_type="dpmsolver++",
            solver_order=2,
            final_sigmas_type="zero",
            lower_order_final=True,
        )
    if name == "edm-heun":
        return HeunDiscreteScheduler(**common, use_karras_sigmas=True)
    raise ValueError(name)


def levels_of(name, sched):
    """The (K+1) × 3 rows (t, α, σ) scheduler `sched` steps through, after set_timesteps."""
    rows = []
    if name == "ddim":
        for k in sched.timesteps.tolist():
            a = sched.alphas_cumprod[k]
            rows.append((otto_time(k), float(a**0.5), float((1 - a) ** 0.5)))
        rows.append((1.0, 1.0, 0.0))  # set_alpha_to_one: the last step goes to ᾱ = 1
    elif name == "dpmpp-2m":
        alpha, sigma = sched._sigma_to_alpha_sigma_t(sched.sigmas)
        ks = sched.timesteps.tolist() + [None]
        for k, a, s in zip(ks, alpha.tolist(), sigma.tolist(), strict=True):
            rows.append((1.0 if k is None else otto_time(k), a, s))
    elif name == "edm-heun":
        # De-interleave [t0, t1, t1, …] and [σ0, σ1, σ1, …, 0]; α, σ_vp in float64 from the
        # float32 σ_VE (the scheduler itself never forms them: it scales by 1/√(σ² + 1)).
        ks = sched.timesteps.tolist()[0::2]
        sigmas = sched.sigmas.tolist()[0::2] + [sched.sigmas[-1].item()]
        assert len(sigmas) == len(ks) + 1 and sigmas[-1] == 0.0
        for k, s in zip(ks + [None], sigmas, strict=True):
            a = 1.0 / np.sqrt(np.float64(s) ** 2 + 1.0)
            rows.append((1.0 if k is None else otto_time(k), a, s * a))
    return np.array(rows, dtype=np.float64)


def diffusers_sample(name, sched, model, z, steps):
    """diffusers' sampling loop from x = init_noise_sigma · z; returns (points, NFE)."""
    sched.set_timesteps(steps)
    x = z * sched.init_noise_sigma
    nfe = 0
    with torch.inference_mode():
        for k in sched.timesteps:
            eps = model(sched.scale_model_input(x, k), k)
            nfe += 1
            x = (
                sched.step(eps, k, x, eta=0.0).prev_sample
                if name == "ddim"
                else sched.step(eps, k, x).prev_sample
            )
    return x, nfe


def otto_start(name, sched, z):
    """otto's start points for diffusers' x = init_noise_sigma · z (VP x = α₀ x_VE for Heun)."""
    z = z.double().numpy()
    if name == "edm-heun":
        sigma_max = np.float64(sched.init_noise_sigma)
        return z * sigma_max / np.sqrt(sigma_max**2 + 1.0)
    return z * np.float64(sched.init_noise_sigma)


def run_otto(args, run, solver, x0, levels, out, workdir):
    x0_path, levels_path = workdir / f"{solver}-x0.npy", workdir / f"{solver}-levels.npy"
    np.save(x0_path, x0)
    np.save(levels_path, levels)
    env = {**os.environ, "RAYON_NUM_THREADS": str(args.threads)}
    cmd = [
        args.otto,
        "sample",
        "--run",
        str(run),
        "--solver",
        solver,
        "--levels",
        str(levels_path),
        "--x0",
        str(x0_path),
        "--out",
        str(out),
        "--json",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"otto failed: {' '.join(cmd)}\n{done.stderr}")
    return json.loads(done.stdout), np.load(out)


def compare(args, run, model, betas, workdir):
    rows = []
    for name in ("ddim", "dpmpp-2m", "edm-heun"):
        sched = build(name, betas)
        sched.set_timesteps(args.steps)
        levels = levels_of(name, sched)
        z = torch.randn(args.n, 2, generator=torch.Generator().manual_seed(args.seed))
        x0 = otto_start(name, sched, z)
        theirs, nfe = diffusers_sample(name, sched, model, z, args.steps)
        theirs = theirs.double().numpy()
        report, ours = run_otto(args, run, name, x0, levels, workdir / f"{name}-otto.npy", workdir)
        scale = np.abs(theirs).max()
        rows.append(
            {
                "sampler": name,
                "n": args.n,
                "steps": len(levels) - 1,
                "nfe_diffusers": nfe,
                "nfe_otto": report["nfe"],
                "max_abs": float(np.abs(ours - theirs).max()),
                "rel": float(np.abs(ours - theirs).max() / scale),
                "scale": float(scale),
                "first_level": levels[0].tolist(),
                "last_sigma_before_zero": float(levels[-2][2]),
            }
        )
    return rows


# Before each library's turn: long enough for PyTorch's OpenMP workers to stop spinning after a
# parallel region (an otto process started at once shared the two cores with them). The cores then
# sit idle, which on this VM slows the next ~40 ms of work up to 2× (bench/peers/otto_after_idle.py):
# so every turn, diffusers' too, starts after the same pause and times the second of two calls.
PAUSE_S = 0.5


def timing(args, run, model, betas, workdir):
    import otto_ot
    from otto_ot.generative import Run

    name = "dpmpp-2m"
    sched = build(name, betas)
    sched.set_timesteps(args.steps)
    levels = levels_of(name, sched)
    z = torch.randn(args.time_n, 2, generator=torch.Generator().manual_seed(args.seed + 1))
    x0 = otto_start(name, sched, z)
    otto_ot.set_num_threads(args.threads)
    in_process = Run(run)
    in_process.sample(x0=x0[:64], levels=levels, solver=name)  # warm-up, as for diffusers
    diffusers_sample(name, sched, model, z[:64], args.steps)  # warm-up
    ours, ours_py, theirs = [], [], []
    for _ in range(args.repeats):
        time.sleep(
            PAUSE_S
        )  # PyTorch's OpenMP workers spin-wait after a parallel region: let them stop
        report, cli = run_otto(args, run, name, x0, levels, workdir / "timing-otto.npy", workdir)
        ours.append(report["time_s"])
        time.sleep(PAUSE_S)
        # Each library's timed call comes right after an untimed one of the same size: a core that
        # sat idle through the pause runs the first call after it up to 1.5× slower.
        in_process.sample(x0=x0, levels=levels, solver=name)
        start = time.perf_counter()
        py = in_process.sample(x0=x0, levels=levels, solver=name)
        ours_py.append(time.perf_counter() - start)
        if not np.array_equal(py, cli):
            raise SystemExit("otto_ot.generative and `otto sample` disagree on the same input")
        time.sleep(PAUSE_S)
        diffusers_sample(name, sched, model, z, args.steps)
        start = time.perf_counter()
        diffusers_sample(name, sched, model, z, args.steps)
        theirs.append(time.perf_counter() - start)
    median = statistics.median
    return {
        "sampler": name,
        "n": args.time_n,
        "load_average": os.getloadavg(),
        "steps": args.steps,
        "threads": args.threads,
        "otto_s": ours,
        "otto_py_s": ours_py,
        "diffusers_s": theirs,
        "otto_median_s": median(ours),
        "otto_py_median_s": median(ours_py),
        "diffusers_median_s": median(theirs),
        "speedup": median(theirs) / median(ours),
        "speedup_py": median(theirs) / median(ours_py),
    }


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--run", required=True, help="an otto ddpm run directory (vp-linear, concat time)"
    )
    p.add_argument(
        "--otto", default=os.environ.get("OTTO_BIN", "target/release/otto"), help="the otto binary"
    )
    p.add_argument(
        "--n", type=int, default=2000, help="points of the agreement check (default 2000)"
    )
    p.add_argument("--steps", type=int, default=20, help="sampler steps (default 20)")
    p.add_argument(
        "--time-n", type=int, default=10_000, help="points of the timing (default 10000)"
    )
    p.add_argument("--repeats", type=int, default=3, help="alternating timing repeats (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch and rayon threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--json-out", help="write all figures to this JSON file")
    args = p.parse_args()

    import diffusers

    torch.set_num_threads(args.threads)
    cfg, model = read_run(args.run)
    betas = trained_betas(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        rows = compare(args, args.run, model, betas, workdir)
        timed = None if args.no_timing else timing(args, args.run, model, betas, workdir)
    print(
        f"diffusers {diffusers.__version__}, torch {torch.__version__}; run {args.run} "
        f"({cfg['steps']} training steps); {args.n} points, seed {args.seed}\n"
    )
    print("| sampler | steps | NFE otto / diffusers | max abs diff | relative to max abs output |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['sampler']} | {r['steps']} | {r['nfe_otto']} / {r['nfe_diffusers']} "
            f"| {r['max_abs']:.2e} | {r['rel']:.2e} |"
        )
    if timed:
        ms = lambda key: [round(v * 1e3, 1) for v in timed[key]]  # noqa: E731
        print(
            f"\nDPM-Solver++(2M), {timed['n']} points, {timed['steps']} steps, {timed['threads']} threads, "
            f"median of {args.repeats}: otto (CLI, fresh process) {timed['otto_median_s'] * 1e3:.1f} ms, "
            f"otto (otto_ot.generative, in process) {timed['otto_py_median_s'] * 1e3:.1f} ms, "
            f"diffusers {timed['diffusers_median_s'] * 1e3:.1f} ms; ratio {timed['speedup']:.1f}x (CLI), "
            f"{timed['speedup_py']:.1f}x (in process) "
            f"(otto CLI {ms('otto_s')}, in process {ms('otto_py_s')}, diffusers {ms('diffusers_s')} ms); "
            f"load average after {', '.join(f'{v:.2f}' for v in timed['load_average'])}"
        )
    if args.json_out:
        pathlib.Path(args.json_out).write_text(
            json.dumps(
                {
                    "agreement": rows,
                    "timing": timed,
                    "diffusers": diffusers.__version__,
                    "torch": torch.__version__,
                },
                indent=1,
            )
        )
    return 0 if all(r["rel"] < 1e-4 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
