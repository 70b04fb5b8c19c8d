"""Time torchcfm (PyTorch CPU) on otto's flow-matching benchmarks; JSON lines on stdout.

Measures, with torch.set_num_threads(THREADS):
  * train_step: one full torchcfm training step as its README trains 8gaussians -> moons:
    sample both minibatches (torchcfm.utils), pair and draw the path
    (ConditionalFlowMatcher = I-CFM, ExactOptimalTransportConditionalFlowMatcher = OT-CFM, sigma 0.1),
    MLP forward, MSE loss, backward, AdamW step. torchcfm's MLP: (d+1) -> w -> w -> w -> d, SELU.
  * net_step: the network part alone on fixed inputs (forward, loss, backward, AdamW step) —
    what otto's fused engine replaces.
  * sample: 10 000 points, 100 Euler steps from t = 0 to 1, with torchdyn's NeuralODE and with
    torchdiffeq's odeint, under torch.no_grad().
Usage: bench/peers/.venv/bin/python bench/peers/torchcfm_bench.py [--threads 2] [--steps 200]
"""

import argparse
import json
import statistics
import time


def timed(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=200, help="timed steps per training measurement")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch
    import torchcfm
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP
    from torchcfm.utils import sample_8gaussians, sample_moons, torch_wrapper

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    meta = {
        "torch": torch.__version__,
        "torchcfm": getattr(torchcfm, "__version__", "1.0.7"),
        "threads": args.threads,
    }

    def emit(**kw):
        print(json.dumps({**meta, **kw}), flush=True)

    for width, batch in [(64, 512), (256, 1024)]:
        for name, fm in [
            ("i-cfm", ConditionalFlowMatcher(sigma=0.1)),
            ("ot-cfm", ExactOptimalTransportConditionalFlowMatcher(sigma=0.1)),
        ]:
            model = MLP(dim=2, w=width, time_varying=True)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)

            def step(opt=opt, fm=fm, model=model, batch=batch):
                opt.zero_grad()
                x0 = sample_8gaussians(batch)
                x1 = sample_moons(batch)
                t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
                vt = model(torch.cat([xt, t[:, None]], dim=-1))
                loss = torch.mean((vt - ut) ** 2)
                loss.backward()
                opt.step()

            steps = args.steps if (width == 64 and name == "i-cfm") else max(20, args.steps // 4)
            med, best = timed(step, steps, 10)
            emit(
                bench="train_step",
                method=name,
                width=width,
                batch=batch,
                median_ms=med * 1e3,
                best_ms=best * 1e3,
                steps=steps,
            )

        model = MLP(dim=2, w=width, time_varying=True)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
        inp = torch.randn(batch, 3)
        target = torch.randn(batch, 2)

        def net_step(opt=opt, model=model, inp=inp, target=target):
            opt.zero_grad()
            loss = torch.mean((model(inp) - target) ** 2)
            loss.backward()
            opt.step()

        med, best = timed(net_step, args.steps, 10)
        emit(
            bench="net_step",
            width=width,
            batch=batch,
            median_ms=med * 1e3,
            best_ms=best * 1e3,
            steps=args.steps,
        )

    model = MLP(dim=2, w=64, time_varying=True)
    x0 = sample_8gaussians(10_000)
    from torchdyn.core import NeuralODE

    node = NeuralODE(torch_wrapper(model), solver="euler", sensitivity="adjoint")
    t_span = torch.linspace(0, 1, 101)

    def emit_sample(library, sample):
        """Times `sample` (10 000 points, 100 Euler steps) and prints its line."""
        med, best = timed(sample, 5, 1)
        emit(
            bench="sample",
            library=library,
            n=10_000,
            steps=100,
            median_ms=med * 1e3,
            best_ms=best * 1e3,
        )

    def sample_torchdyn():
        with torch.no_grad():
            node.trajectory(x0, t_span=t_span)

    emit_sample("torchdyn", sample_torchdyn)

    from torchdiffeq import odeint

    def field(t, x):
        return model(torch.cat([x, t.expand(x.shape[0], 1)], dim=-1))

    def sample_torchdiffeq():
        with torch.no_grad():
            odeint(field, x0, torch.tensor([0.0, 1.0]), method="euler", options={"step_size": 0.01})

    emit_sample("torchdiffeq", sample_torchdiffeq)


if __name__ == "__main__":
    main()
