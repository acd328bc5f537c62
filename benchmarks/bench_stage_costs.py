"""Stage overhead of `make study`: a notebook kernel per job, against running the stage directly.

The same grading job of the reduced toy study run as the workflow now runs it
(``python -m analysis.stages grade``) and as it ran before (its notebook through papermill,
``analysis.notebook_runner``), in the same run; wall seconds of both and their ratio. A study has
one grading and one sampling job per model × benchmark × temperature × seed (12 of each in the toy
study), and the models and perplexity stages, all of which ran as notebooks before.

(A static KV cache for the hf backend on the CPU was tried and measured here too: 3x faster in an
isolated decode of 40 tokens per row, but not faster on the toy world's real sampling jobs, where
most samples end early — 623–719 vs 673–762 samples/s over three interleaved runs — so it was
dropped.)

Uses the reduced toy study (``configs/toy-mini.yaml``), trained into a temporary folder first
(under a minute). The load average is printed: other processes on the machine slow every figure.

    .venv/bin/python benchmarks/bench_stage_costs.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _study_config(tmp: Path) -> Path:
    data = yaml.safe_load((REPO / "configs" / "toy-mini.yaml").read_text())
    data["output_root"] = str(tmp / "runs")
    data["toyworld"] = str(REPO / data["toyworld"])
    data["benchmarks"] = [{**b, "source": str(REPO / b["source"])} for b in data["benchmarks"]]
    path = tmp / "toy-mini.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from analysis import stages
    from analysis.study import Study

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = _study_config(tmp)
        study = Study.load(config)
        stages.train_models(study, progress=False)
        job = next(iter(study.jobs))
        stages.sample(study, job, progress=False)
        cli = [sys.executable, "-m", "analysis.stages", "grade", str(config), job, "--quiet"]
        notebook = [
            sys.executable, "-m", "analysis.notebook_runner", "--cwd", str(REPO), "notebooks/grade.ipynb",
            str(tmp / "grade.ipynb"), "-p", "config", str(config), "-p", "job", job,
        ]  # fmt: skip
        _timed(cli)  # warm the grading cache and the file system alike for both
        direct, kernel = [], []
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            direct.append(_timed(cli))
            kernel.append(_timed(notebook))
        d, k = sorted(direct)[len(direct) // 2], sorted(kernel)[len(kernel) // 2]
        print(f"\none grading job ({job}), median wall seconds of {args.repeats}:")
        print(f"  notebook through papermill (before): {k:6.1f} s")
        print(f"  python -m analysis.stages (now):     {d:6.1f} s   ratio {d / k:.2f}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
