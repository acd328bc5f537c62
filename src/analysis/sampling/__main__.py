"""Command line: ``python -m analysis.sampling [--config FILE] [--FIELD VALUE ...] --out DIR``.

Every field of ``SamplingConfig`` is a flag (``--chunk-size 32``, ``--seeds 0 1 2 3``,
``--stop "</s>" "Answer:"``, ``--chat-template``); ``--config`` reads a YAML or JSON file of
fields that flags then override. ``--problems FILE.parquet`` samples a problems table instead
of loading the benchmark. Prints the finished run folder on stdout.

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
    parser = argparse.ArgumentParser(prog="python -m analysis.sampling", description=__doc__.split("\n\n")[0])
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


def main(argv: list[str] | None = None) -> int:
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
