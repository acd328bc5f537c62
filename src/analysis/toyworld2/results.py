"""Toy world 2's committed result tables (``data/toyworld2/``) with their provenance records.

The record is the first toy world's (:func:`analysis.toyworld.results.provenance`: config and
hash, commit, time, command, findings rules), with this family's training and evaluation code
versions; a table made by other code or classified by other findings rules is shown as stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from analysis.toyworld.config import _normalised_source
from analysis.toyworld.results import Results
from analysis.toyworld.results import git_commit as first_world_commit
from analysis.toyworld.results import provenance as first_world_provenance
from analysis.toyworld2.config import code_version

RESULTS_DIR = Path(__file__).resolve().parents[3] / "data" / "toyworld2"
EVAL_MODULES = ("evaluate.py", "experiments.py", "targets.py")


def eval_code_version() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in EVAL_MODULES:
        h.update(name.encode())
        h.update(_normalised_source(here / name).encode())
    return h.hexdigest()[:12]


def git_commit() -> str:
    """HEAD of this checkout, marked when this package's code differs from it."""
    return first_world_commit(Path(__file__).resolve().parent, "toyworld2")


def provenance(config: dict[str, Any], command: str, **extra: Any) -> dict[str, Any]:
    """The first world's record with this family's code versions and commit."""
    return first_world_provenance(config, command, **extra) | {
        "training_code_version": code_version(),
        "evaluation_code_version": eval_code_version(),
        "git_commit": git_commit(),
    }


class Results2(Results):
    """A committed toy-world-2 table; stale when this family's code or the findings rules changed."""

    def current_versions(self) -> tuple[str, str]:
        return code_version(), eval_code_version()


def load_results(
    name: str, folder: str | os.PathLike[str] = RESULTS_DIR, meta_name: str = "results"
) -> Results2 | None:
    """``<folder>/<name>.csv`` with the record ``<folder>/<meta_name>.json``, or None if either is absent."""
    path = Path(folder) / f"{name}.csv"
    meta_path = Path(folder) / f"{meta_name}.json"
    if not path.is_file() or not meta_path.is_file():
        return None
    return Results2(pl.read_csv(path), json.loads(meta_path.read_text(encoding="utf-8")), path)


def write_meta_path(meta: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the provenance record ``meta`` to ``path`` (atomically)."""
    from analysis.store import atomic_write_json

    atomic_write_json(meta, path)
    return Path(path)
