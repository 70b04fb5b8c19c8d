#!/usr/bin/env python3
"""otto's fused MLP engine against PyTorch on the same weights, and PyTorch's training-step time.

Two subcommands:

  check DIR   loads every NAME.safetensors (an otto model) and NAME.io.safetensors (inputs and otto's
              outputs, written by `cargo run --release -p otto --example mlp_export -- DIR`) from DIR,
              rebuilds the network in PyTorch, recomputes forward, weighted MSE loss, its gradient and
              the input JVP in float32 (and float64 as the exact reference), and prints max abs / rel
              differences. Exit status 1 if any float32 difference exceeds the tolerance.
  time        times PyTorch training steps (forward + MSE backward + AdamW, `torch.set_num_threads`)
              for 3->64->64->64->2 at batch 512 and 3->256->256->256->2 at batch 1024, SELU and SiLU;
              with --otto-bin target/release/examples/mlp_step_timing it times otto on the same shapes
              in the same run, alternating, and prints a markdown table.

How otto's files map to PyTorch (see also crates/otto/src/network/safetensors_io.rs):
  * A network is nn.Sequential(Linear, act, Linear, act, ..., Linear): linear layer l is module 2l, so the
    keys are '0.weight' [width, in], '0.bias' [width], '2.weight', '2.bias', ..., '{2 depth}.weight'
    [out, width]. act is nn.SELU() / nn.SiLU() / nn.GELU() (exact erf, PyTorch's default) / nn.ReLU().
  * residual=true keeps the same keys; ResidualSequential (below) adds the skip h = h + act(lin(h))
    around each hidden width->width layer (all linear layers but the first and the last).
  * The input row is [x, t] (time_embedding=concat) or [x, sin(t w), cos(t w)] with the angular
    frequencies w stored as 'time_embedding.frequencies' (sinusoidal / fourier).
  * The config is in the file's metadata under 'otto.*' keys.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

ACTIVATIONS = {"selu": nn.SELU, "silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}


class ResidualSequential(nn.Sequential):
    """nn.Sequential(Linear, act, ..., Linear) whose hidden width->width layers are residual."""

    def forward(self, h):
        mods = list(self)
        h = mods[1](mods[0](h))  # first layer: in -> width, no skip
        for i in range(2, len(mods) - 1, 2):
            h = h + mods[i + 1](mods[i](h))  # h <- h + act(W h + b)
        return mods[-1](h)  # output layer, no activation


def read_config(path):
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    cfg = {k[len("otto.") :]: v for k, v in meta.items() if k.startswith("otto.")}
    if cfg.get("network") != "mlp":
        raise SystemExit(
            f"{path}: not an otto MLP file (metadata otto.network = {cfg.get('network')!r})"
        )
    return cfg


def build(cfg, dtype=torch.float32):
    d, out, width, depth = (int(cfg[k]) for k in ("input_dim", "output_dim", "width", "depth"))
    emb = cfg["time_embedding"]
    in_cols = d + (1 if emb == "concat" else int(cfg["time_embedding.dim"]))
    layers = []
    for layer in range(depth + 1):
        fan_in = in_cols if layer == 0 else width
        fan_out = out if layer == depth else width
        layers.append(nn.Linear(fan_in, fan_out))
        if layer < depth:
            layers.append(ACTIVATIONS[cfg["activation"]]())
    cls = ResidualSequential if cfg["residual"] == "true" else nn.Sequential
    return cls(*layers).to(dtype)


def load_otto(path, dtype=torch.float32):
    """The ~5 lines a user needs: config from metadata, Sequential, load_state_dict."""
    cfg = read_config(path)
    state = load_file(str(path))
    omega = state.pop("time_embedding.frequencies", None)
    net = build(cfg, dtype)
    net.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    return cfg, net, omega


def network_input(x, t, omega):
    if omega is None:
        return torch.cat([x, t[:, None]], dim=1)
    # The angle t*w is formed in float32 (as otto does), then promoted.
    angle = (t.float()[:, None] * omega[None, :]).to(x.dtype)
    return torch.cat([x, torch.sin(angle), torch.cos(angle)], dim=1)


def compute(model_path, io, dtype):
    cfg, net, omega = load_otto(model_path, dtype)
    t = io["t"]
    x = io["x"].to(dtype)
    target, weight, v = io["target"].to(dtype), io["weight"].to(dtype), io["v"].to(dtype)
    with torch.no_grad():
        out = net(network_input(x, t, omega))
    f = net(network_input(x, t, omega))
    loss = torch.mean(weight[:, None] * (f - target) ** 2)
    net.zero_grad()
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in net.named_parameters()}
    _, jvp = torch.func.jvp(lambda xx: net(network_input(xx, t, omega)), (x,), (v,))
    return cfg, {
        "out": out,
        "loss": loss.detach().reshape(1),
        "jvp": jvp.detach(),
        **{f"grad.{k}": g for k, g in grads.items()},
    }


def diff(a, b):
    """Max abs difference, and that over max |b| (a scale-aware relative difference)."""
    a, b = a.double(), b.double()
    abs_diff = (a - b).abs().max().item()
    return abs_diff, abs_diff / max(b.abs().max().item(), 1e-30)


def check(args):
    directory = pathlib.Path(args.dir)
    cases = sorted(
        p for p in directory.glob("*.safetensors") if not p.name.endswith(".io.safetensors")
    )
    if not cases:
        raise SystemExit(
            f"no models in {directory}; run: cargo run --release -p otto --example mlp_export -- {directory}"
        )
    torch.set_num_threads(args.threads)
    failed = False
    print(
        "| case | quantity | otto vs torch f32: max abs | rel | otto vs f64: rel | torch f32 vs f64: rel |"
    )
    print("|---|---|---|---|---|---|")
    for model in cases:
        io = load_file(str(model.with_name(model.stem + ".io.safetensors")))
        cfg, torch32 = compute(model, io, torch.float32)
        _, torch64 = compute(model, io, torch.float64)
        grad_keys = sorted(k for k in torch32 if k.startswith("grad."))
        groups = {"forward": ["out"], "loss": ["loss"], "gradient": grad_keys, "jvp": ["jvp"]}
        name = f"{model.stem} ({cfg['activation']}, w={cfg['width']}, depth={cfg['depth']}, {cfg['time_embedding']}{', residual' if cfg['residual'] == 'true' else ''})"
        for group, keys in groups.items():
            worst = [0.0, 0.0, 0.0, 0.0]
            for k in keys:
                abs_d, rel_d = diff(io[k], torch32[k])
                _, rel_otto64 = diff(io[k], torch64[k])
                _, rel_torch64 = diff(torch32[k], torch64[k])
                worst = [
                    max(w, d)
                    for w, d in zip(worst, (abs_d, rel_d, rel_otto64, rel_torch64), strict=True)
                ]
            ok = worst[1] <= args.tol
            failed |= not ok
            print(
                f"| {name} | {group} | {worst[0]:.2e} | {worst[1]:.2e}{'' if ok else ' FAIL'} | {worst[2]:.2e} | {worst[3]:.2e} |"
            )
    if failed:
        print(f"some differences exceed --tol {args.tol:g}", file=sys.stderr)
    return 1 if failed else 0


def torch_step_ms(width, batch, activation, threads, fused, depth=3, seed=0):
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    layers = []
    for layer in range(depth + 1):
        layers.append(nn.Linear(3 if layer == 0 else width, 2 if layer == depth else width))
        if layer < depth:
            layers.append(ACTIVATIONS[activation]())
    net = nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, fused=fused or None)
    x, t, y = torch.randn(batch, 2), torch.rand(batch), torch.randn(batch, 2)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(torch.cat([x, t[:, None]], dim=1)) - y) ** 2)
        loss.backward()
        opt.step()

    return step_times_ms(step)


def step_times_ms(fn, warm_s=0.3, measure_s=1.0):
    """Median and minimum of per-call milliseconds over about a second after a warm-up, the same
    statistics otto's mlp_step_timing example reports."""
    start = time.perf_counter()
    while time.perf_counter() - start < warm_s:
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < measure_s or len(times) < 20:
        s = time.perf_counter()
        fn()
        times.append((time.perf_counter() - s) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0]


def otto_step_ms(binary, width, batch, activation, threads):
    env = {
        "PEAK": "0",
        "BREAKDOWN": "0",
        "RAYON_NUM_THREADS": str(threads),
        "PATH": "/usr/bin:/bin",
    }
    text = subprocess.run(
        [binary, str(width), str(batch), activation],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"([\d.]+) ms/step median, ([\d.]+) min", text)
    return float(found.group(1)), float(found.group(2))


def time_cmd(args):
    shapes = [(64, 512), (256, 1024)]
    rows = []
    for repeat in range(args.repeats):
        for width, batch in shapes:
            for activation in ("selu", "silu"):
                row = {
                    "width": width,
                    "batch": batch,
                    "activation": activation,
                    "threads": args.threads,
                    "repeat": repeat,
                    "torch": torch.__version__,
                }
                row["torch_median_ms"], row["torch_min_ms"] = torch_step_ms(
                    width, batch, activation, args.threads, fused=False
                )
                row["torch_fused_median_ms"], row["torch_fused_min_ms"] = torch_step_ms(
                    width, batch, activation, args.threads, fused=True
                )
                if args.otto_bin:
                    row["otto_median_ms"], row["otto_min_ms"] = otto_step_ms(
                        args.otto_bin, width, batch, activation, args.threads
                    )
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    print(
        f"Best over {args.repeats} alternating repeats of each statistic; per-step median (min) in ms, {args.threads} threads.\n"
    )
    print(
        f"| shape | activation | PyTorch {torch.__version__}, AdamW | PyTorch, AdamW(fused=True) | otto | speed-up (medians) | speed-up (mins) |"
    )
    print("|---|---|---|---|---|---|---|")
    for width, batch in shapes:
        for activation in ("selu", "silu"):
            rs = [r for r in rows if r["width"] == width and r["activation"] == activation]
            best = {k: min(r.get(k, float("nan")) for r in rs) for k in rs[0] if k.endswith("_ms")}
            torch_median = min(best["torch_median_ms"], best["torch_fused_median_ms"])
            torch_min = min(best["torch_min_ms"], best["torch_fused_min_ms"])
            otto_median, otto_min = (
                best.get("otto_median_ms", float("nan")),
                best.get("otto_min_ms", float("nan")),
            )
            print(
                f"| 3->{width}x3->2, batch {batch} | {activation} "
                f"| {best['torch_median_ms']:.3f} ({best['torch_min_ms']:.3f}) "
                f"| {best['torch_fused_median_ms']:.3f} ({best['torch_fused_min_ms']:.3f}) "
                f"| {otto_median:.3f} ({otto_min:.3f}) | {torch_median / otto_median:.2f}x | {torch_min / otto_min:.2f}x |"
            )
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "check", help="compare otto's exported results with PyTorch on the same weights"
    )
    c.add_argument("dir", help="directory written by the mlp_export example")
    c.add_argument(
        "--tol",
        type=float,
        default=1e-4,
        help="max allowed float32 relative difference (default 1e-4)",
    )
    c.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    t = sub.add_parser("time", help="time PyTorch (and optionally otto) training steps")
    t.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    t.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternating repeats per shape; the best is reported (default 3)",
    )
    t.add_argument(
        "--otto-bin",
        help="path to otto's mlp_step_timing example binary, to time otto in the same run",
    )
    args = parser.parse_args()
    return check(args) if args.command == "check" else time_cmd(args)


if __name__ == "__main__":
    sys.exit(main())
