"""The exact OT-CFM coupling of one torchcfm minibatch, two ways, in one process: torchcfm's cost
(``torch.cdist(x0, x1) ** 2`` in float32, copied to NumPy) solved by ``otto_ot._core.exact_pairs``,
against ``otto_ot._core.exact_pairs_sqeuclidean`` on the points (the cost built by otto in float64),
which ``otto_ot.torchcfm.OTPlanSampler("exact").sample_plan`` uses; both then index the minibatch.

    bench/peers/.venv/bin/python bench/peers/torchcfm_coupling_cost.py [--batches 400] [--batch 512]

Prints the median and best ms of each (the first 20 minibatches untimed) and in how many minibatches
the two optimal permutations differ (float32 round-off in torch.cdist's ‖x‖² + ‖y‖² − 2⟨x, y⟩).
"""

import argparse
import statistics
import time

import numpy as np
import otto_ot
import torch
from otto_ot import _core
from torchcfm.utils import sample_8gaussians, sample_moons


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--batches", type=int, default=400)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    otto_ot.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch
    cdist_ms, points_ms, differ = [], [], 0
    for b in range(args.batches):
        x0, x1 = sample_8gaussians(n), sample_moons(n)
        start = time.perf_counter()
        M = (torch.cdist(x0, x1) ** 2).detach().cpu().numpy()
        _, j1 = _core.exact_pairs(M, n, False, 7)
        pairs1 = x0, x1[torch.as_tensor(j1)]
        middle = time.perf_counter()
        p0 = x0.detach().to("cpu", torch.float64).numpy()
        p1 = x1.detach().to("cpu", torch.float64).numpy()
        _, j2 = _core.exact_pairs_sqeuclidean(p0, p1, n, False, 7)
        pairs2 = x0, x1[torch.as_tensor(j2)]
        end = time.perf_counter()
        if b >= 20:
            cdist_ms.append((middle - start) * 1e3)
            points_ms.append((end - middle) * 1e3)
        differ += not np.array_equal(j1, j2)
        del pairs1, pairs2
    med = statistics.median
    print(
        f"batch {n}, {args.batches} minibatches, {args.threads} threads: torch.cdist + exact_pairs "
        f"median {med(cdist_ms):.3f} ms (best {min(cdist_ms):.3f}); exact_pairs_sqeuclidean median "
        f"{med(points_ms):.3f} ms (best {min(points_ms):.3f}); permutations differ in {differ}"
    )


if __name__ == "__main__":
    main()
