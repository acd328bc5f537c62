"""Committed toy-world experiment results: the phase diagram and the seed-robustness table.

They take an hour of CPU to produce (``python -m analysis.toyworld phase|evaluate ... --table``),
so their small tables are committed under ``data/toyworld/`` next to a JSON record of the
config, its hash, the code versions and the commit that produced them. The book shows them
without rerunning; :func:`load_results` says whether the code that made them is still the code
of this checkout (a stale table is shown with that warning, never silently).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analysis.store import atomic_write_json, stable_hash
from analysis.toyworld.config import code_version

# The source checkout's committed results (absolute, so notebooks run from any folder find them).
RESULTS_DIR = Path(__file__).resolve().parents[3] / "data" / "toyworld"


def git_commit(here: Path | None = None, label: str = "toyworld") -> str:
    """HEAD of the checkout holding the package folder ``here`` (default: this one), marked when
    that folder's code is modified (``+uncommitted-<label>-changes``)."""
    here = here or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", str(here)], cwd=here, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + (f"+uncommitted-{label}-changes" if dirty.stdout.strip() else "")


def provenance(config: dict[str, Any], command: str, **extra: Any) -> dict[str, Any]:
    """What produced a results table: config and hash, code versions, commit, time, command."""
    from analysis.findings import rules_version
    from analysis.toyworld.report import eval_code_version

    return {
        "findings_rules_version": rules_version(),
        "config": config,
        "config_hash": stable_hash(config),
        "training_code_version": code_version(),
        "evaluation_code_version": eval_code_version(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
    } | extra


def write_meta(meta: dict[str, Any], table_path: str | os.PathLike[str]) -> Path:
    """Write ``meta`` next to a results table (``<table>.json``)."""
    path = Path(table_path).with_suffix(".json")
    atomic_write_json(meta, path)
    return path


@dataclass
class Results:
    """A committed results table with its provenance."""

    table: pl.DataFrame
    meta: dict[str, Any]
    path: Path

    @property
    def current(self) -> bool:
        """True when this checkout's training and evaluation code made the table, and its outcomes
        were classified by this checkout's findings rules."""
        return not self.stale_reasons()

    def current_versions(self) -> tuple[str, str]:
        """This checkout's (training, evaluation) code versions, which the table must match."""
        from analysis.toyworld.report import eval_code_version

        return code_version(), eval_code_version()

    def stale_reasons(self) -> list[str]:
        """Why the table is stale (empty when current)."""
        from analysis.findings import rules_version

        m, reasons = self.meta, []
        training, evaluation = self.current_versions()
        if m.get("training_code_version") != training:
            reasons.append(f"training code {m.get('training_code_version')} → {training}")
        if m.get("evaluation_code_version") != evaluation:
            reasons.append(f"evaluation code {m.get('evaluation_code_version')} → {evaluation}")
        if m.get("findings_rules_version") != rules_version():
            was = m.get("findings_rules_version")
            reasons.append(
                "outcomes classified by an earlier rule (point estimates and a 0.05 pass@1 margin, not the "
                "findings module's paired intervals)"
                if was is None
                else f"findings rules {was} → {rules_version()}"
            )
        return reasons

    def note(self) -> str:
        """One line for the reader: what produced the table, and whether it is stale."""
        m = self.meta
        seconds = m.get("seconds", {}).get("total")
        took = f"; that call took {seconds / 60:.1f} min, reusing cached checkpoints and evaluations" if seconds else ""
        trained = m.get("checkpoint_training_seconds")
        if trained:
            took += f"; training its checkpoints took {trained / 60:.0f} process-minutes in all"
        line = (
            f"`{self.path.name}`: made by `{m.get('command')}` on {m.get('created', '?')[:10]} "
            f"(config hash {str(m.get('config_hash'))[:12]}, commit {str(m.get('git_commit'))[:12]}{took})."
        )
        reasons = self.stale_reasons()
        if reasons:
            line += f" **Stale:** {'; '.join(reasons)}. Rerun the command to refresh it."
        return line


def load_results(
    name: str, folder: str | os.PathLike[str] = RESULTS_DIR, meta_name: str | None = None
) -> Results | None:
    """The committed table ``<folder>/<name>.csv`` and its ``.json`` record (or that of
    ``meta_name``, for a table derived from another), or None if either is absent."""
    path = Path(folder) / f"{name}.csv"
    meta_path = Path(folder) / f"{meta_name or name}.json"
    if not path.is_file() or not meta_path.is_file():
        return None
    return Results(pl.read_csv(path), json.loads(meta_path.read_text(encoding="utf-8")), path)
