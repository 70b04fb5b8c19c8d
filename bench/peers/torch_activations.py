"""How long PyTorch's CPU activations take on this machine, and which kernel set it dispatched.

    bench/peers/.venv/bin/python bench/peers/torch_activations.py
    ATEN_CPU_CAPABILITY=avx2 bench/peers/.venv/bin/python bench/peers/torch_activations.py

Times torch.selu, elu, expm1, silu and gelu on a 10 000 × 64 float32 tensor (one hidden layer of
the 3×64 networks the peer comparisons use, at their 10 000 points), 2 threads, median of 30.
"""

import statistics
import time

import torch


def main():
    torch.set_num_threads(2)
    x = torch.randn(10_000, 64)
    calls = {
        "selu": torch.selu,
        "elu": torch.nn.functional.elu,
        "expm1": torch.expm1,
        "silu": torch.nn.functional.silu,
        "gelu": torch.nn.functional.gelu,
    }
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    with torch.inference_mode():
        for name, f in calls.items():
            for _ in range(5):
                f(x)
            times = []
            for _ in range(30):
                start = time.perf_counter()
                f(x)
                times.append(time.perf_counter() - start)
            print(f"{name:6s} {statistics.median(times) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
