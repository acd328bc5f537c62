"""Command line: ``python -m analysis.sampling [--config FILE] [--FIELD VALUE ...] --out DIR``.

Every field of ``SamplingConfig`` is a flag (``--chunk-size 32``, ``--seeds 0 1 2 3``,
``--stop "</s>" "Answer:"``, ``--chat-template``); ``--config`` reads a YAML or JSON file of
fields that flags then override. ``--problems FILE.parquet`` samples a problems table instead
of loading the benchmark. Prints the finished run folder on stdout.

Top-ups (``analysis.sampling.top_up``; plans: ``analysis.topup_plan``), each with ``--help``:

    python -m analysis.sampling plan-topup RUN_DIR --grades G.parquet [G2.parquet ...] --k 256 --out plan.csv
    python -m analysis.sampling topup RUN_DIR --extra plan.csv [--at-least 256] [--out-root DIR]

``plan-topup`` writes the extra samples per problem that decide "unsolved at k" from the grades of
RUN_DIR's lineage; ``topup`` samples them as a run of its own and prints its folder (rerun the same
command to finish an interrupted top-up). ``--at-least K`` gives every problem of the run at least
K samples: estimate pass@k up to K from the top-up's samples alone, since planned extras pooled with
the pilot bias pass@k upwards.

vLLM needs the ``if __name__ == "__main__"`` guard below (its engine runs in a spawned process).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from analysis.sampling.config import SamplingConfig
from analysis.sampling.runner import DEFAULT_OUT_ROOT, run_sampling


def _flag_kwargs(annotation: Any) -> dict[str, Any]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _flag_kwargs(args[0])
    if origin is typing.Literal:
        return {"choices": list(args)}
    if origin is tuple:
        return {"nargs": "*", "type": args[0]}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float):
        return {"type": annotation}
    return {"type": str}


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (one flag per config field)."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.sampling",
        description=__doc__.split("\n\n")[0],
        epilog="Top-ups: python -m analysis.sampling {topup,plan-topup} --help",
    )
    parser.add_argument("--config", type=Path, help="YAML or JSON file of config fields")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_ROOT, help="folder that holds run folders")
    parser.add_argument("--problems", type=Path, help="parquet problems table to sample instead of the benchmark")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar and no summary line")
    fields = parser.add_argument_group("sampling config")
    for name, info in SamplingConfig.model_fields.items():
        fields.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            help=info.description,
            **_flag_kwargs(info.annotation),
        )
    return parser


def config_from_args(args: argparse.Namespace) -> SamplingConfig:
    """The config a parsed command line describes."""
    values: dict[str, Any] = {}
    if args.config is not None:
        loaded = yaml.safe_load(args.config.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            msg = f"{args.config} does not hold a mapping of config fields"
            raise SystemExit(msg)
        values.update(loaded)
    for name in SamplingConfig.model_fields:
        value = getattr(args, name)
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    return SamplingConfig.model_validate(values)


def topup_parser() -> argparse.ArgumentParser:
    """The ``topup`` command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.sampling topup",
        description="Sample more of chosen problems of a finished run, as a run of its own (resumable).",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the finished run (or top-up) to top up")
    parser.add_argument(
        "--extra", type=Path, metavar="PLAN", help=".csv or .parquet with columns problem_id and extra (plan-topup)"
    )
    parser.add_argument(
        "--at-least", type=int, default=0, metavar="K", help="every problem of the run gets at least K samples"
    )
    parser.add_argument("--out-root", type=Path, help="folder for the top-up's folder (default: next to RUN_DIR)")
    parser.add_argument("--problems", type=Path, help="the parquet problems table RUN_DIR was sampled from, if any")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar and no summary line")
    return parser


def plan_parser() -> argparse.ArgumentParser:
    """The ``plan-topup`` command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.sampling plan-topup",
        description='Extra samples per problem that decide "unsolved at k", from the grades of a run\'s lineage.',
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the finished run (or newest top-up) to plan")
    parser.add_argument("--grades", type=Path, nargs="+", required=True, help="grades parquet file(s) of the lineage")
    parser.add_argument("--k", type=int, required=True, help="the k of pass@k")
    parser.add_argument("--epsilon", type=float, default=0.05, help="rule out pass@k > epsilon (default 0.05)")
    parser.add_argument("--confidence", type=float, default=0.95, help="at this confidence (default 0.95)")
    parser.add_argument("--grader", help="the grader whose verdicts count, where the grades hold several")
    parser.add_argument("--out", type=Path, required=True, help="the plan file to write (.csv or .parquet)")
    return parser


def _error(e: Exception) -> int:
    sys.stderr.write(f"error: {e}\n")
    return 2


def topup_main(argv: list[str]) -> int:
    """``python -m analysis.sampling topup ...``: prints the finished top-up's folder."""
    from analysis.benchmarks import BenchmarkError
    from analysis.sampling.storage import read_run_config
    from analysis.sampling.top_up import topup
    from analysis.topup_plan import read_plan

    args = topup_parser().parse_args(argv)
    try:
        if args.extra is None and args.at_least == 0:
            msg = "nothing to top up: give --extra PLAN, --at-least K, or both"
            raise ValueError(msg)
        parent = read_run_config(args.run_dir)["run_hash"]
        extra = read_plan(args.extra, parent) if args.extra is not None else {}
        problems = pl.read_parquet(args.problems) if args.problems is not None else None
        child = topup(
            args.run_dir,
            extra,
            args.out_root,
            at_least=args.at_least,
            problems=problems,
            progress=not args.no_progress,
        )
    except BenchmarkError as e:
        hint = "" if args.problems else " (if RUN_DIR was sampled from a problems table, pass it with --problems)"
        return _error(ValueError(f"{e}{hint}"))
    except (ValueError, FileNotFoundError) as e:
        return _error(e)
    sys.stdout.write(f"{child}\n")
    return 0


def plan_main(argv: list[str]) -> int:
    """``python -m analysis.sampling plan-topup ...``: writes the plan, prints its path."""
    from analysis.topup_plan import describe, plan_topup, write_plan

    args = plan_parser().parse_args(argv)
    try:
        plan = plan_topup(
            args.run_dir, args.grades, args.k, epsilon=args.epsilon, confidence=args.confidence, grader=args.grader
        )
        path = write_plan(plan, args.out)
    except (ValueError, FileNotFoundError) as e:
        return _error(e)
    sys.stderr.write(f"{describe(plan, args.k)}\n")
    sys.stdout.write(f"{path}\n")
    return 0


COMMANDS = {"topup": topup_main, "plan-topup": plan_main}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        problems = pl.read_parquet(args.problems) if args.problems is not None else None
        run_dir = run_sampling(config, args.out, problems=problems, progress=not args.no_progress)
    except ValueError as e:  # bad input: a message, not a traceback
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write(f"{run_dir}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
