"""``python -m analysis.toyworld2 --config configs/toyworld2/default.yaml``: train, evaluate, compare,
and write the committed tables under ``data/toyworld2/``."""

from __future__ import annotations

import argparse
import sys

import torch

from analysis.toyworld2.experiments import run_experiments
from analysis.toyworld2.results import RESULTS_DIR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analysis.toyworld2", description=__doc__)
    parser.add_argument("--config", default="configs/toyworld2/default.yaml")
    parser.add_argument("--root", default="data/runs/toyworld2", help="checkpoint and evaluation cache")
    parser.add_argument("--results", default=str(RESULTS_DIR), help="where the tables are written")
    parser.add_argument("--conditions", nargs="*", default=None, help="only these RL recipes (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name, path in run_experiments(args.config, args.root, args.results, args.conditions).items():
        sys.stdout.write(f"{name}: {path}\n")


if __name__ == "__main__":
    main()
