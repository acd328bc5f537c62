"""benchmarks/gpu_smoke.py runs end to end in its scaled-down CPU form (the CUDA form needs a GPU)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_smoke_runs_on_cpu():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_smoke.py"), "--device", "cpu"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for section in ("[1] copy bandwidth", "[2] decoding", "[3] perplexity scoring", "[4] toy world"):
        assert section in text, text
    assert text.rstrip().endswith("checks passed"), text
    # one line per batch size, each with its ratio to the naive loop and its share of the roofline
    batches = re.findall(
        r"hf backend batch +(\d+): +([\d.]+) tok/s = +([\d.]+)x naive, +([\d.]+)% of the roofline", text
    )
    assert [int(b) for b, *_ in batches] == [1, 8]
    assert all(float(rate) > 0 and 0 < float(share) <= 105 for _, rate, _, share in batches)
    # batched scoring gives the same NLL as one response per forward (float32 on the CPU)
    diff = float(re.search(r"max \|nll\| difference batched vs batch 1: ([\d.e+-]+)", text)[1])
    assert diff < 1e-4
    for stage in ("pretrain", "grpo", "distill", "eval"):
        assert re.search(rf"{stage} +cpu: +[\d.]+", text), text
