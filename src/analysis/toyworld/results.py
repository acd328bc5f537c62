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
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from analysis.store import atomic_write_json, stable_hash
from analysis.toyworld.config import (
    ToyWorldConfig,
    base_key,
    code_version,
    default_config_path,
    load_config,
    read_config_dict,
)

REPO = Path(__file__).resolve().parents[3]  # the source checkout
# The source checkout's committed results (absolute, so notebooks run from any folder find them).
RESULTS_DIR = REPO / "data" / "toyworld"


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


def _world(config: dict[str, Any] | None) -> ToyWorldConfig | None:
    """A table's recorded config as a first toy world (its experiment sections, e.g. ``phase``, set
    aside); None when it records none (toy world 2's tables share this module's ``Results``)."""
    if not config or "corpus" not in config:
        return None
    try:
        return ToyWorldConfig.model_validate({k: v for k, v in config.items() if k in ToyWorldConfig.model_fields})
    except ValidationError:
        return None


def _worlds(config: dict[str, Any] | None) -> tuple[ToyWorldConfig, ToyWorldConfig] | None:
    """(the table's world, the study's world: the default config's), or None without a first world."""
    table = _world(config)
    return None if table is None else (table, load_config(default_config_path()))


def _difference(table: ToyWorldConfig, study: ToyWorldConfig) -> str:
    """How ``table``'s base differs from ``study``'s (empty when it is the same checkpoint)."""
    if base_key(table) == base_key(study):
        return ""
    same = [name for name in ("task", "corpus", "model") if getattr(table, name) == getattr(study, name)]
    differ = [
        f"for {value} steps" if field == "steps" else f"with {field} {value}"
        for field, value in table.pretrain.model_dump().items()
        if value != getattr(study.pretrain, field)
    ]
    what = f"pretrained {' and '.join(differ)}" if differ else "pretrained alike"
    alike = f"; the same {_joined(same)}" if same else ""
    return f"{what} (the study's base: {study.pretrain.steps} steps, `configs/toyworld/default.yaml`){alike}"


def base_difference(config: dict[str, Any] | None) -> str:
    """How a table's base differs from the study's, e.g. "pretrained for 3000 steps (the study's
    base: 1500 steps, ...); the same task, corpus and model"; empty when it is the study's base or
    ``config`` records no first toy world."""
    worlds = _worlds(config)
    return _difference(*worlds) if worlds else ""


def base_sentence(config: dict[str, Any] | None) -> str:
    """Which base a committed table's runs start from, beside the study's base: the same one, or
    how its pretraining differs. Empty when ``config`` records no first toy world."""
    worlds = _worlds(config)
    if worlds is None:
        return ""
    differ = _difference(*worlds)
    if not differ:
        return f"Its runs start from the study's base ({worlds[0].pretrain.steps} pretraining steps)."
    return f"**Its runs start from a different base than the study's models:** {differ}."


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def base_drift(meta: dict[str, Any]) -> str:
    """A stale reason when the table's own config file (``--config`` of its command) now gives a
    different base than the one the table was made from; empty otherwise."""
    recorded, found = _world(meta.get("config")), re.search(r"--config (\S+)", str(meta.get("command") or ""))
    if recorded is None or found is None:
        return ""
    path = Path(found.group(1))
    path = path if path.is_absolute() else REPO / path
    if not path.is_file():
        return ""
    now = _world(read_config_dict(path))
    if now is None or base_key(now) == base_key(recorded):
        return ""
    return f"`{found.group(1)}` now gives a different base ({now.pretrain.steps} pretraining steps)"


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
        drift = base_drift(m)
        if drift:
            reasons.append(drift)
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
        took = f"; that call took {seconds / 60:.1f} min, counting only what it did not find cached" if seconds else ""
        trained = m.get("checkpoint_training_seconds")
        if trained:
            took += f"; training its checkpoints took {trained / 60:.0f} process-minutes in all"
        line = (
            f"`{self.path.name}`: made by `{m.get('command')}` on {m.get('created', '?')[:10]} "
            f"(config hash {str(m.get('config_hash'))[:12]}, commit {str(m.get('git_commit'))[:12]}{took})."
        )
        base = base_sentence(self.meta.get("config"))
        if base:
            line += f" {base}"
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
