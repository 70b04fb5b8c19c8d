"""Summarizes bench/quality results against the SF2M paper's Table 2 (MATH.md §2 and §8).

Reads the JSON lines that bench/quality/run.sh prints (one per run and evaluation size), groups the
n = 10 000 evaluations by task, method and σ, and prints a Markdown table: W2 and NPE per seed,
mean ± sd (sample sd, n − 1), the published mean ± sd, and whether the mean lies inside the published
mean ± 2 sd. Lines that bench/quality/sf2m_gaussian.py prints (SF2M's Table 3) go into a second
table: KL of the endpoint and mean KL over the path per method and dimension, mean ± sd over seeds,
beside the published values (the paper gives no spread for them) and the finite-sample floor.

Usage: python bench/quality/summarize.py RESULTS.jsonl [MORE.jsonl ...]   (standard library only)
"""

import json
import statistics
import sys
from collections import defaultdict

# Published (mean, sd) over 5 seeds, SF2M paper Table 2: W2 and NPE, per task column.
TASKS = {
    ("gaussian", "torchdyn-8gaussians"): "N → 8gaussians",
    ("dsb-8gaussians", "dsb-moons"): "8gaussians → moons",
    ("gaussian", "sk-moons"): "N → moons",
    ("gaussian", "scurve"): "N → scurve",
}
W2 = {
    "ot-cfm": [(0.303, 0.043), (0.601, 0.027), (0.130, 0.016), (0.144, 0.028)],
    "i-cfm": [(0.373, 0.103), (1.557, 0.407), (0.178, 0.014), (0.242, 0.141)],
    "sf2m": [(0.275, 0.058), (0.726, 0.137), (0.124, 0.023), (0.128, 0.005)],
    "rf": [(0.421, 0.071), (1.525, 0.330), (0.283, 0.045), (0.345, 0.079)],
    "sb-cfm": [(2.314, 2.112), None, (0.434, 0.594), (0.341, 0.468)],
}
NPE = {
    "sf2m": [(0.016, 0.012), (0.045, 0.031), (0.053, 0.038), (0.034, 0.024)],
    "ot-cfm": [(0.031, 0.027), (0.015, 0.010), (0.083, 0.009), (0.027, 0.012)],
    "rf": [(0.044, 0.031), (0.203, 0.090), (0.130, 0.078), (0.099, 0.066)],
    "i-cfm": [None, (2.680, 0.292), None, None],
}

# Published KL(p̃_1 ‖ q_1) and mean over t of KL(p̃_t ‖ q_t), SF2M paper Table 3, per dimension.
GAUSSIAN = {
    "sf2m": {5: (0.007, 0.006), 20: (0.029, 0.028), 50: (0.124, 0.258)},
    "sb-cfm": {5: (0.001, 0.008), 20: (0.034, 0.086), 50: (0.170, 0.447)},
}


def published(table, method, column):
    row = table.get(method)
    return None if row is None else row[column]


def cell(values, reference):
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    text = f"{mean:.3f} ± {sd:.3f}"
    if reference is None:
        return text, "—", "—"
    m, s = reference
    inside = "yes" if abs(mean - m) <= 2 * s else "no"
    return text, f"{m:.3f} ± {s:.3f}", inside


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def gaussian_table(rows):
    groups = defaultdict(list)
    for r in rows:
        groups[(r["method"], r["d"])].append(r)
    print("| method | d | seeds | KL end | mean KL | published end / mean | floor end / mean |")
    print("|---|---|---|---|---|---|---|")
    for method, d in sorted(groups):
        runs = sorted(groups[(method, d)], key=lambda r: r["seed"])
        reference = GAUSSIAN.get(method, {}).get(d)
        ref = "—" if reference is None else f"{reference[0]:.3f} / {reference[1]:.3f}"
        floor_end = statistics.fmean(r["floor_kl_end"] for r in runs)
        floor_mean = statistics.fmean(r["floor_kl_mean"] for r in runs)
        seeds = ", ".join(str(r["seed"]) for r in runs)
        print(
            f"| {method} | {d} | {seeds} | {mean_sd([r['kl_end'] for r in runs])} "
            f"| {mean_sd([r['kl_mean'] for r in runs])} | {ref} "
            f"| {floor_end:.3f} / {floor_mean:.3f} |"
        )


def main():
    groups = defaultdict(list)
    gaussian = []
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if "kl_end" in r:
                    gaussian.append(r)
                    continue
                if r.get("n", 10_000) != 10_000:
                    continue
                key = (
                    r["source"],
                    r["target"],
                    r["method"],
                    str(r.get("sigma", "default")),
                )
                groups[key].append(r)
    if gaussian:
        gaussian_table(gaussian)
    if not groups:
        return
    print(
        "| task | method | σ | seeds | W2 per seed | W2 mean ± sd | published | in band "
        "| NPE mean ± sd | published NPE | in band |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    order = list(TASKS)
    for key in sorted(groups, key=lambda k: (order.index(k[:2]) if k[:2] in order else 9, k[2:])):
        rows = sorted(groups[key], key=lambda r: r["seed"])
        source, target, method, sigma = key
        column = order.index((source, target)) if (source, target) in order else None
        task = TASKS.get((source, target), f"{source} → {target}")
        w2 = [r["w2"] for r in rows]
        npe = [r["npe"] for r in rows]
        ref_w2 = None if column is None else published(W2, method, column)
        ref_npe = None if column is None else published(NPE, method, column)
        w2_text, w2_ref, w2_in = cell(w2, ref_w2)
        npe_text, npe_ref, npe_in = cell(npe, ref_npe)
        seeds = ", ".join(str(r["seed"]) for r in rows)
        per_seed = " / ".join(f"{v:.3f}" for v in w2)
        print(
            f"| {task} | {method} | {sigma} | {seeds} | {per_seed} | {w2_text} | {w2_ref} | {w2_in} "
            f"| {npe_text} | {npe_ref} | {npe_in} |"
        )


if __name__ == "__main__":
    main()
