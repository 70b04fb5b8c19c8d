"""OT-CFM with torchcfm and otto's plan sampler under PyTorch's DistributedDataParallel.

Each rank draws its own minibatch (8gaussians → moons), pairs it by the exact OT plan with
``otto_ot.torchcfm.OTPlanSampler`` (a per-rank minibatch coupling, as in single-process OT-CFM), and
DDP all-reduces the gradients; otto adds no protocol of its own.

    torchrun --nproc_per_node 2 crates/otto-py/examples/ddp_otcfm.py --steps 500      # CPU, gloo

On several GPU nodes the same script runs with the NCCL backend (chosen when CUDA is available):

    torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        crates/otto-py/examples/ddp_otcfm.py --steps 20000

(the cost matrix is built on each rank's GPU by torch.cdist, the plan is solved on that rank's CPU
with ``--otto-threads`` threads, the pairs index the GPU tensors.)

``--json FILE`` (rank 0) writes the logged losses and the largest parameter difference between
ranks at the end (0 when DDP kept the replicas in sync).
"""

import argparse
import json
import os

import numpy as np
import otto_ot
import torch
import torch.distributed as dist
from otto_ot.torchcfm import OTPlanSampler
from torch.nn.parallel import DistributedDataParallel
from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher
from torchcfm.models.models import MLP
from torchcfm.utils import sample_8gaussians, sample_moons


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=256, help="per rank")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sigma", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--otto-threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    torch.set_num_threads(1)
    otto_ot.set_num_threads(args.otto_threads)

    torch.manual_seed(
        args.seed
    )  # the same initial weights on every rank (DDP also broadcasts them)
    model = MLP(dim=2, w=64, time_varying=True).to(device)
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if backend == "nccl" else None)
    opt = torch.optim.AdamW(ddp.parameters(), lr=args.lr)
    fm = ExactOptimalTransportConditionalFlowMatcher(sigma=args.sigma)
    fm.ot_sampler = OTPlanSampler("exact")
    torch.manual_seed(args.seed + 1 + rank)  # each rank its own data stream
    np.random.seed(args.seed + 1 + rank)

    losses = []
    for step in range(1, args.steps + 1):
        x0 = sample_8gaussians(args.batch).to(device)
        x1 = sample_moons(args.batch).to(device)
        t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
        vt = ddp(torch.cat([xt, t[:, None]], dim=-1))
        loss = torch.mean((vt - ut) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.log_every == 0 or step == 1:
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            mean = mean.item() / world
            losses.append((step, mean))
            if rank == 0:
                print(f"step {step:6d}  loss {mean:.4f}", flush=True)

    # DDP keeps the replicas identical: the largest spread of any parameter across ranks.
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    spread = (high - low).abs().max().item()
    if rank == 0:
        print(f"ranks {world}, backend {backend}, parameter spread across ranks {spread:.3g}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(
                    {"world": world, "backend": backend, "losses": losses, "spread": spread}, f
                )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
