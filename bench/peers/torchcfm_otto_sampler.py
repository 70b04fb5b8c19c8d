"""A torchcfm OT-CFM training step with POT's plan sampler, with otto's, and with POT's kernels
routed to otto — same model shape, data and batch, one process (PyTorch CPU).

    bench/peers/.venv/bin/python bench/peers/torchcfm_otto_sampler.py [--threads 2] [--steps 200]

The step is torchcfm's README loop (8gaussians → moons, ExactOptimalTransportConditionalFlowMatcher,
σ = 0.1, MLP 3×64 SELU with time input, AdamW 1e-3, batch 512): sample both minibatches, pair them,
draw t and x_t, forward, MSE, backward, step. Variants:
  pot          torchcfm as released (ot.emd on the host)
  otto         FM.ot_sampler = otto_ot.torchcfm.OTPlanSampler("exact")   (one line)
  otto-perm    the same with replace=False: the optimal permutation (no duplicated/dropped points)
  pot-patched  otto_ot.pot.patch(): torchcfm unchanged, POT's emd_c served by otto
  i-cfm        ConditionalFlowMatcher (no coupling): the floor a coupling adds to
The variants run interleaved, one step each in turn (the order rotating every round), so that all
of them see the same machine: on a shared machine the load drifts over a minute, and variants run
one after the other would each be timed in a different state of it.
Prints one JSON line per variant (median and best ms per step) and a markdown table.
"""

import argparse
import json
import statistics
import time


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--warmup", type=int, default=10, help="untimed rounds first")
    args = p.parse_args()

    import otto_ot
    import otto_ot.pot
    import torch
    from otto_ot.torchcfm import OTPlanSampler
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP
    from torchcfm.utils import sample_8gaussians, sample_moons

    torch.set_num_threads(args.threads)
    otto_ot.set_num_threads(args.threads)
    torch.manual_seed(0)

    class Permutation(OTPlanSampler):
        def sample_plan(self, x0, x1, replace=True):
            return super().sample_plan(x0, x1, replace=False)

    def matcher(variant):
        if variant == "i-cfm":
            return ConditionalFlowMatcher(sigma=0.1)
        fm = ExactOptimalTransportConditionalFlowMatcher(sigma=0.1)
        if variant == "otto":
            fm.ot_sampler = OTPlanSampler("exact")
        elif variant == "otto-perm":
            fm.ot_sampler = Permutation("exact")
        return fm

    variants = ("pot", "otto", "otto-perm", "pot-patched", "i-cfm")
    steps = {}
    for variant in variants:
        fm = matcher(variant)
        model = MLP(dim=2, w=64, time_varying=True)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)

        def step(fm=fm, model=model, opt=opt):
            opt.zero_grad()
            x0 = sample_8gaussians(args.batch)
            x1 = sample_moons(args.batch)
            t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
            vt = model(torch.cat([xt, t[:, None]], dim=-1))
            loss = torch.mean((vt - ut) ** 2)
            loss.backward()
            opt.step()

        steps[variant] = step

    def timed_step(variant):
        if variant == "pot-patched":
            otto_ot.pot.patch()
        start = time.perf_counter()
        steps[variant]()
        elapsed = time.perf_counter() - start
        if variant == "pot-patched":
            otto_ot.pot.unpatch()
        return elapsed

    times = {v: [] for v in variants}
    for round_ in range(args.warmup + args.steps):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            elapsed = timed_step(variant)
            if round_ >= args.warmup:
                times[variant].append(elapsed)

    rows = []
    for variant in variants:
        med, best = statistics.median(times[variant]), min(times[variant])
        row = dict(
            variant=variant,
            batch=args.batch,
            threads=args.threads,
            median_ms=med * 1e3,
            best_ms=best * 1e3,
            steps=args.steps,
            interleaved=True,
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["median_ms"]
    print(
        f"\ntorch {torch.__version__}, otto_ot {otto_ot.__version__}, threads {args.threads}, "
        f"batch {args.batch}, {args.steps} steps"
    )
    print("| variant | median ms/step | best ms/step | speed-up vs POT |")
    print("|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['median_ms']:.2f} | {r['best_ms']:.2f} | {base / r['median_ms']:.2f}× |"
        )


if __name__ == "__main__":
    main()
