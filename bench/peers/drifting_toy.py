"""PyTorch (CPU) reference of the 2-D toy experiment of "Generative Modeling via Drifting"
(Deng et al. 2026; the authors' toy notebook), written from docs MATH.md section 5, to time
otto against. JSON lines on stdout.

Recipe: generator MLP 32 -> 256 -> 256 -> 256 -> 2 with SiLU (nn.Sequential, default init),
Adam lr 1e-3, 2000 steps; each step eps ~ N(0, I) (2048 x 32), x = f(eps), 2048 fresh data
points y+. Field (paper Alg. 2, negatives = the generated points, detached), under no_grad:
  logits = [-cdist(x, y+), -cdist(x, x) - 1e6 I] / tau,  tau = 0.05 (unsquared distance)
  A = sqrt(softmax_row(logits) * softmax_col(logits))   (row: all N+ + N- columns; col: the N rows)
  W+ = A+ * rowsum(A-),  W- = A- * rowsum(A+),  V = W+ y+ - W- x
Loss = mean((x - (x.detach() + V))^2) (its value is mean(V^2)); backward; Adam step.

Subcommands:
  step  --task checkerboard --steps 50 --warmup 10
        ms per full training step (data sampling, generator forward, field, loss, backward,
        Adam step), median and mean after warmup; and ms of the field alone at the same size.
  field --n 2048 --m 2048
        ms per field evaluation (n generated points = the negatives, m positives), median of
        --repeats after --warmup, and peak memory: the process's ru_maxrss (getrusage) after the
        evaluations minus its value just before them (inputs already built). Run one size per
        process (maxrss is a high-water mark). A failure (e.g. out of memory) is reported as
        {"ok": false, "error": ...}.
  train --task checkerboard|swissroll --seed S --steps 2000 [--out DIR]
        full run; final EMA(0.96) of the loss (the EMA starts at the first step's loss), and
        W2 between 4096 generated samples and 4096 held-out data points (POT ot.emd2, squared
        Euclidean cost, sqrt), plus the same W2 between two independent 4096-point data samples
        (the sampling noise floor). With --out, saves DIR/drifting_{task}_seed{S}_samples.npy,
        shape (4, 2048, 2): the generated batch x of steps 1, 500, 1000, 2000 (before that step's
        Adam update; steps beyond --steps are skipped), and DIR/drifting_{task}_seed{S}_final.npy
        (the 4096 samples W2 was computed on).

Usage: bench/peers/.venv/bin/python bench/peers/drifting_toy.py [--threads 2] SUBCOMMAND ...
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time

TAU = 0.05
NOISE_DIM = 32
WIDTH = 256
BATCH = 2048


def sample_checkerboard(torch, n, gen):
    b = torch.randint(0, 2, (n,), generator=gen)
    i = 2 * torch.randint(0, 2, (n,), generator=gen) + b
    j = 2 * torch.randint(0, 2, (n,), generator=gen) + b
    u = torch.rand(n, generator=gen)
    v = torch.rand(n, generator=gen)
    x = (torch.stack([i + u, j + v], dim=1) - 2.0) / 2.0
    return x + 0.05 * torch.randn(n, 2, generator=gen)


def sample_swissroll(torch, n, gen):
    t = math.pi / 2 + 4 * math.pi * torch.rand(n, generator=gen)
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    x = x / x.norm(dim=1).max()
    return x + 0.03 * torch.randn(n, 2, generator=gen)


SAMPLERS = {"checkerboard": sample_checkerboard, "swissroll": sample_swissroll}


def make_generator(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(NOISE_DIM, WIDTH),
        nn.SiLU(),
        nn.Linear(WIDTH, WIDTH),
        nn.SiLU(),
        nn.Linear(WIDTH, WIDTH),
        nn.SiLU(),
        nn.Linear(WIDTH, 2),
    )


def drift_field(torch, x, y_pos, tau=TAU):
    """V at the rows of x: positives y_pos, negatives x itself (self-pairs masked with 1e6)."""
    with torch.no_grad():
        n, m = x.shape[0], y_pos.shape[0]
        d_pos = torch.cdist(x, y_pos)
        d_neg = torch.cdist(x, x) + 1e6 * torch.eye(n, dtype=x.dtype)
        logits = torch.cat([-d_pos, -d_neg], dim=1) / tau
        a = torch.sqrt(torch.softmax(logits, dim=1) * torch.softmax(logits, dim=0))
        a_pos, a_neg = a[:, :m], a[:, m:]
        w_pos = a_pos * a_neg.sum(dim=1, keepdim=True)
        w_neg = a_neg * a_pos.sum(dim=1, keepdim=True)
        return w_pos @ y_pos - w_neg @ x


class Trainer:
    def __init__(self, torch, task, seed, batch=BATCH):
        self.torch = torch
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.sampler = SAMPLERS[task]
        self.batch = batch
        self.model = make_generator(torch)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def step(self):
        torch = self.torch
        eps = torch.randn(self.batch, NOISE_DIM, generator=self.gen)
        y_pos = self.sampler(torch, self.batch, self.gen)
        x = self.model(eps)
        v = drift_field(torch, x.detach(), y_pos)
        loss = torch.mean((x - (x.detach() + v)) ** 2)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return x.detach(), loss.item()


def maxrss_mb():
    # Linux: ru_maxrss is in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_step(torch, args, emit):
    tr = Trainer(torch, args.task, args.seed)
    for _ in range(args.warmup):
        tr.step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        tr.step()
        times.append((time.perf_counter() - t0) * 1e3)
    gen = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        x = tr.model(torch.randn(BATCH, NOISE_DIM, generator=gen))
    y = SAMPLERS[args.task](torch, BATCH, gen)
    ftimes = []
    for k in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        drift_field(torch, x, y)
        if k >= args.warmup:
            ftimes.append((time.perf_counter() - t0) * 1e3)
    emit(
        cmd="step",
        task=args.task,
        batch=BATCH,
        steps=args.steps,
        warmup=args.warmup,
        step_ms_median=statistics.median(times),
        step_ms_mean=statistics.fmean(times),
        step_ms_min=min(times),
        field_ms_median=statistics.median(ftimes),
        field_ms_mean=statistics.fmean(ftimes),
        step_includes="data sampling, generator forward, field, loss, backward, Adam step",
    )


def cmd_field(torch, args, emit):
    gen = torch.Generator().manual_seed(args.seed)
    # Generated-looking points: a checkerboard sample plus small noise, so the kernel is not trivial.
    x = SAMPLERS[args.task](torch, args.n, gen) + 0.05 * torch.randn(args.n, 2, generator=gen)
    y = SAMPLERS[args.task](torch, args.m, gen)
    base = maxrss_mb()
    times = []
    try:
        for k in range(args.warmup + args.repeats):
            t0 = time.perf_counter()
            v = drift_field(torch, x, y)
            dt = (time.perf_counter() - t0) * 1e3
            if k >= args.warmup:
                times.append(dt)
            del v
    except (RuntimeError, MemoryError) as e:
        emit(
            cmd="field",
            n=args.n,
            m=args.m,
            ok=False,
            error=f"{type(e).__name__}: {e}"[:500],
            completed_evals=len(times),
            peak_rss_delta_mb=maxrss_mb() - base,
            memory_method="getrusage ru_maxrss delta",
        )
        return
    emit(
        cmd="field",
        n=args.n,
        m=args.m,
        ok=True,
        repeats=args.repeats,
        warmup=args.warmup,
        field_ms_median=statistics.median(times),
        field_ms_min=min(times),
        field_ms_all=[round(t, 3) for t in times],
        peak_rss_delta_mb=maxrss_mb() - base,
        peak_rss_abs_mb=maxrss_mb(),
        memory_method="getrusage ru_maxrss delta (after evals minus before; inputs built)",
        logits_matrix_mb=args.n * (args.n + args.m) * 4 / 2**20,
    )


def w2(ot, np, a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    M = ot.dist(a, b, metric="sqeuclidean")
    wa = np.full(a.shape[0], 1.0 / a.shape[0])
    wb = np.full(b.shape[0], 1.0 / b.shape[0])
    return math.sqrt(max(ot.emd2(wa, wb, M, numItermax=10_000_000), 0.0))


def cmd_train(torch, args, emit):
    import numpy as np
    import ot

    tr = Trainer(torch, args.task, args.seed)
    save_at = [s for s in (1, 500, 1000, 2000) if s <= args.steps]
    saved = []
    ema = None
    t0 = time.perf_counter()
    for s in range(1, args.steps + 1):
        x, loss = tr.step()
        ema = loss if ema is None else 0.96 * ema + 0.04 * loss
        if s in save_at:
            saved.append(x.numpy().copy())
        if args.log_every and s % args.log_every == 0:
            print(
                json.dumps({"cmd": "train-log", "step": s, "loss": loss, "ema": ema}),
                file=sys.stderr,
                flush=True,
            )
    train_s = time.perf_counter() - t0

    ev = torch.Generator().manual_seed(10_000 + args.seed)
    with torch.no_grad():
        gen_samples = tr.model(torch.randn(args.eval_n, NOISE_DIM, generator=ev)).numpy()
    held = SAMPLERS[args.task](torch, args.eval_n, ev).numpy()
    held2 = SAMPLERS[args.task](torch, args.eval_n, ev).numpy()
    t1 = time.perf_counter()
    w2_gen = w2(ot, np, gen_samples, held)
    w2_s = time.perf_counter() - t1
    w2_floor = w2(ot, np, held2, held)

    files = []
    if args.out:
        import os

        os.makedirs(args.out, exist_ok=True)
        p1 = os.path.join(args.out, f"drifting_{args.task}_seed{args.seed}_samples.npy")
        np.save(p1, np.stack(saved))
        p2 = os.path.join(args.out, f"drifting_{args.task}_seed{args.seed}_final.npy")
        np.save(p2, gen_samples)
        files = [p1, p2]
    emit(
        cmd="train",
        task=args.task,
        seed=args.seed,
        steps=args.steps,
        batch=BATCH,
        final_loss_ema=ema,
        last_loss=loss,
        train_s=train_s,
        ms_per_step=train_s * 1e3 / args.steps,
        w2=w2_gen,
        w2_data_floor=w2_floor,
        eval_n=args.eval_n,
        w2_emd_s=w2_s,
        saved_steps=save_at,
        files=files,
    )


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="cmd", required=True)

    ps = sub.add_parser("step", help="time full training steps and the field alone")
    ps.add_argument("--task", choices=sorted(SAMPLERS), default="checkerboard")
    ps.add_argument("--steps", type=int, default=50)
    ps.add_argument("--warmup", type=int, default=10)
    ps.add_argument("--seed", type=int, default=0)

    pf = sub.add_parser("field", help="time one field evaluation at n x m and its peak memory")
    pf.add_argument("--n", type=int, default=2048, help="generated points (= negatives)")
    pf.add_argument("--m", type=int, default=2048, help="positives")
    pf.add_argument("--task", choices=sorted(SAMPLERS), default="checkerboard")
    pf.add_argument("--repeats", type=int, default=3)
    pf.add_argument("--warmup", type=int, default=1)
    pf.add_argument("--seed", type=int, default=0)

    pt = sub.add_parser("train", help="full training run, final EMA loss and W2")
    pt.add_argument("--task", choices=sorted(SAMPLERS), required=True)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--steps", type=int, default=2000)
    pt.add_argument("--eval-n", type=int, default=4096)
    pt.add_argument("--out", default=None)
    pt.add_argument("--log-every", type=int, default=0, help="progress lines on stderr")

    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    meta = {"torch": torch.__version__, "threads": args.threads}

    def emit(**kw):
        print(json.dumps({**meta, **kw}), flush=True)

    {"step": cmd_step, "field": cmd_field, "train": cmd_train}[args.cmd](torch, args, emit)


if __name__ == "__main__":
    main()
