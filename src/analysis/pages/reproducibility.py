"""The reproducibility page: config, environment, wall times."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.environment import environment_table
from analysis.study import Study


@dataclass
class Reproducibility:
    config_text: Any
    environment: pl.DataFrame
    wall_times: pl.DataFrame
    wall_times_chart: alt.TopLevelMixin | str


def wall_times(study: Study) -> pl.DataFrame:
    """Per workflow job: wall seconds and peak memory, from Snakemake's benchmark files."""
    return wall_times_in(study.dir / "benchmarks")


def wall_times_in(folder: Path) -> pl.DataFrame:
    """Per job of the Snakemake benchmark files in ``folder``: stage, job, seconds, peak memory."""
    rows = []
    for path in sorted(folder.glob("*.tsv")) if folder.is_dir() else []:
        stage, _, job = path.stem.partition(".")
        bench = pl.read_csv(path, separator="\t")
        if bench.is_empty():
            continue
        r = bench.row(-1, named=True)
        rows.append({"stage": stage, "job": job or stage, "seconds": float(r["s"]), "max_rss_mb": r.get("max_rss")})
    return (
        pl.DataFrame(rows)
        if rows
        else pl.DataFrame(schema={"stage": pl.String, "job": pl.String, "seconds": pl.Float64})
    )


def reproducibility_page(study: Study) -> Reproducibility:
    from IPython.display import Markdown

    text = study.config_path.read_text(encoding="utf-8")
    config_text = Markdown(
        f"Config file `{study.config_path}`, hash `{study.config.hash}` (SHA-256 of the validated config, "
        f"first 16 hex digits). Rerun with `make study CONFIG={study.config_path}`.\n\n```yaml\n{text}\n```"
    )
    times = wall_times(study)
    chart: alt.TopLevelMixin | str = "No timing files yet (they are written by the workflow)."
    if not times.is_empty():
        chart = charts.wall_time_chart(times)
    return Reproducibility(config_text, environment_table(), times, chart)
