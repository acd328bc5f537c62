"""Command line: ``python -m analysis.toyworld {train,evaluate,phase} --config CONFIG``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.toyworld", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("train", "train (or reuse) every model of a config; print the checkpoint folders"),
        ("evaluate", "train, then evaluate every model against the base (experiments)"),
        ("phase", "train and evaluate the phase diagram; write its results table"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", default=None, help="toy-world YAML config (default: configs/toyworld/default.yaml)")
        p.add_argument(
            "--out", default=None, help="checkpoint root (default: data/runs/toyworld, shared with make study)"
        )
        p.add_argument("--workers", type=int, default=None, help="parallel processes (default: the config's)")
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
        if name == "evaluate":
            p.add_argument("--snapshots", action="store_true", help="evaluate the RL snapshots too")
            p.add_argument("--table", default=None, help="write the results table here (.csv or .parquet)")
        if name == "phase":
            p.add_argument("--results", default="data/toyworld", help="folder for the phase-diagram table")
    args = parser.parse_args(argv)

    from analysis.toyworld.train import DEFAULT_ROOT

    root = Path(args.out) if args.out else DEFAULT_ROOT
    t0 = time.perf_counter()
    if args.command == "train":
        from analysis.toyworld.train import train_all

        folders = train_all(args.config, root, workers=args.workers, progress=not args.no_progress)
        sys.stdout.write(json.dumps({k: str(v) for k, v in folders.items()}, indent=2) + "\n")
    elif args.command == "evaluate":
        import polars as pl

        from analysis.toyworld.report import evaluate_config

        table = evaluate_config(
            args.config, root, workers=args.workers, progress=not args.no_progress, snapshots=args.snapshots
        )
        cols = [
            c
            for c in (
                "model",
                "temperature",
                "pass@1",
                "pass@256",
                "base_pass@1",
                "base_pass@256",
                "solved",
                "only_model",
                "only_base",
                "crossover_k",
                "share_L",
                "share_S",
                "share_R",
                "valid_cot",
                "ppl_base_median",
                "base_ppl_base_median",
                "outcome",
                "paper_pattern",
                "expansion",
            )
            if c in table.columns
        ]
        with pl.Config(tbl_rows=200, tbl_cols=40, tbl_width_chars=250, float_precision=3):
            sys.stdout.write(f"{table.select(cols)}\n")
        if args.table:
            out = Path(args.table)
            out.parent.mkdir(parents=True, exist_ok=True)
            table.write_parquet(out) if out.suffix == ".parquet" else table.write_csv(out)
            from analysis.toyworld.config import default_config_path, read_config_dict
            from analysis.toyworld.results import provenance, write_meta

            config_path = args.config or default_config_path()
            command = f"python -m analysis.toyworld evaluate --config {config_path}"
            command += " --snapshots" * args.snapshots + f" --table {args.table}"
            write_meta(
                provenance(read_config_dict(config_path), command, seconds={"total": time.perf_counter() - t0}),
                out,
            )
    else:
        from analysis.toyworld.phase import run_phase_diagram

        written = run_phase_diagram(
            args.config, root, Path(args.results), workers=args.workers, progress=not args.no_progress
        )
        sys.stdout.write(json.dumps({k: str(v) for k, v in written.items()}, indent=2) + "\n")
    sys.stderr.write(f"done in {time.perf_counter() - t0:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
