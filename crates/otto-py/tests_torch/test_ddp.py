"""The DDP example runs with 2 processes (torchrun, gloo on CPU): ranks stay in sync, loss falls."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ddp_otcfm.py"


def test_ddp_example_with_two_processes(tmp_path):
    out = tmp_path / "ddp.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29531",
            str(EXAMPLE),
            "--steps",
            "300",
            "--log-every",
            "100",
            "--json",
            str(out),
        ],
        check=True,
        timeout=300,
    )
    report = json.loads(out.read_text())
    assert report["world"] == 2 and report["backend"] == "gloo"
    assert report["spread"] == 0.0
    losses = [loss for _, loss in report["losses"]]
    assert losses[-1] < 0.7 * losses[0]
