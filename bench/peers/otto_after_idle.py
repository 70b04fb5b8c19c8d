"""otto's DPM-Solver++(2M) (otto_ot.generative, 10 000 points, 20 steps, 2 threads) timed in a PyTorch
process right after PyTorch work, after a pause of PAUSE seconds and one untimed otto call:

    bench/peers/.venv/bin/python bench/peers/otto_after_idle.py PAUSE [RUN]     # RUN: runs/eng/ddpm-silu

Shows the cost of idle cores on this VM (BENCHMARKS.md, "otto after an idle pause").
"""

import sys
import time

import numpy as np
import otto_ot
import torch
from otto_ot.generative import Run

torch.set_num_threads(2)
otto_ot.set_num_threads(2)
r = Run(sys.argv[2] if len(sys.argv) > 2 else "runs/eng/ddpm-silu")
x0 = np.random.default_rng(0).normal(size=(10000, 2))
net = torch.nn.Sequential(
    torch.nn.Linear(3, 64),
    torch.nn.SiLU(),
    torch.nn.Linear(64, 64),
    torch.nn.SiLU(),
    torch.nn.Linear(64, 64),
    torch.nn.SiLU(),
    torch.nn.Linear(64, 2),
)
z = torch.randn(10000, 3)


def torch_work():
    with torch.inference_mode():
        for _ in range(20):
            net(z)


def otto_call():
    s = time.perf_counter()
    r.sample(x0=x0, steps=20, solver="dpmpp-2m")
    return (time.perf_counter() - s) * 1e3


pause = float(sys.argv[1])
ts = []
for _ in range(12):
    torch_work()
    time.sleep(pause)
    otto_call()
    ts.append(otto_call())
print(f"pause {pause}: otto after torch:", [round(t, 1) for t in ts])
