"""The models page: what each model is, and its training curves (read from the training logs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.study import Study


@dataclass
class ModelsPage:
    table: pl.DataFrame
    training: pl.DataFrame
    training_chart: alt.TopLevelMixin | str


def models_page(study: Study) -> ModelsPage:
    """The study's models as the models stage resolved them, and their training curves."""
    manifest = study.models()
    rows = [
        {
            "model": m.name,
            "role": m.role,
            "base": m.base,
            "path": manifest[m.name]["path"],
            "revision": manifest[m.name]["revision"],
            "template": m.template,
            "what it is": m.recipe or "",
        }
        for m in study.config.models
    ]
    training = _training_logs(manifest)
    chart: alt.TopLevelMixin | str = "No training logs: the models come from elsewhere."
    if not training.is_empty():
        chart = charts.training_chart(training, study.roles)
    return ModelsPage(pl.DataFrame(rows), training, chart)


def _training_logs(manifest: dict[str, dict[str, Any]]) -> pl.DataFrame:
    """RL training curves (step, reward) of toy-world checkpoints, from their ``train_log.json``."""
    import json
    from pathlib import Path

    frames = []
    for name, entry in manifest.items():
        log = Path(entry["path"]) / "train_log.json"
        if not log.is_file():
            continue
        records = json.loads(log.read_text(encoding="utf-8"))
        if isinstance(records, dict):
            records = records.get("log", [])
        rows = [
            {"model": name, "step": r["step"], "metric": k, "value": float(v)}
            for r in records
            if isinstance(r, dict) and "step" in r
            for k, v in r.items()
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if rows:
            frames.append(pl.DataFrame(rows))
    return pl.concat(frames) if frames else pl.DataFrame()
