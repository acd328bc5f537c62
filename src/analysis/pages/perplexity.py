"""The perplexity page: are the trained models' responses already likely under the base?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.study import Study


@dataclass
class PerplexityPage:
    scores: pl.DataFrame
    table: pl.DataFrame
    heatmaps: list[alt.TopLevelMixin]
    chart: alt.TopLevelMixin
    contrast: pl.DataFrame
    notes: Any
    entropy: pl.DataFrame
    readings: list[str] = field(default_factory=list)


def perplexity_reading(scores: pl.DataFrame, benchmark: str, base: str, model: str) -> str:
    """Where the median of PPL_base(Y_model) falls among the base's perplexities of its own responses
    (the paper: RL's responses sit in the low part of that distribution)."""
    under_base = scores.filter((pl.col("benchmark") == benchmark) & (pl.col("scorer") == base))
    own = under_base.filter(pl.col("generator") == base)["ppl"]
    theirs = under_base.filter(pl.col("generator") == model)["ppl"]
    median, own_median = float(theirs.median()), float(own.median())
    at = float((own <= median).mean())
    half = "lower" if at <= 0.5 else "upper"
    return (
        f"{model} ({benchmark}): under {base}, its responses' median perplexity is {median:.3f}, the base's own "
        f"{own_median:.3f} (ratio {median / own_median:.3f}); {at:.0%} of the base's own responses have a "
        f"perplexity at or below that median, so it lies in the {half} half of the base's own."
    )


def perplexity_page(study: Study) -> PerplexityPage:
    """Distributions of PPL_base(Y_m) for every model m of a family, and PPL_m(Y_m)."""
    from IPython.display import Markdown

    scores = study.scores()
    bases = {m: (study.config.model(m).base or m) for m in study.roles}
    shown = scores.filter(
        (pl.col("scorer") == pl.col("generator"))
        | (pl.col("scorer") == pl.col("generator").replace_strict(bases, default=None))
    )
    table = (
        scores.group_by(["benchmark", "scorer", "generator"])
        .agg(
            pl.len().alias("responses"),
            pl.col("ppl").median().round(4).alias("median"),
            pl.col("ppl").quantile(0.25).round(4).alias("q25"),
            pl.col("ppl").quantile(0.75).round(4).alias("q75"),
            pl.col("n_tokens").mean().round(1).alias("mean tokens"),
        )
        .sort(["benchmark", "scorer", "generator"])
    )
    ppl = study.config.analysis.perplexity
    notes = Markdown(
        f"Scored: the first {ppl.problems} problems of each benchmark, the first {ppl.responses_per_problem} "
        "responses of each model per problem; every model of a family scores every member's responses (the table "
        "holds the full matrix, the chart the paper's pairs). Response tokens only, conditioned on the exact "
        "prompt string; the end-of-sequence token is not counted; log-softmax in float32."
    )
    entropy = pl.read_parquet(study.entropy_path) if study.entropy_path.is_file() else pl.DataFrame()
    heatmaps, contrast = [], []
    for base in [m.name for m in study.config.models if m.role == "base"]:
        members = [m for m in study.roles if bases[m] == base]  # the base and the models trained from it
        part = table.filter(pl.col("scorer").is_in(members) & pl.col("generator").is_in(members))
        if part.is_empty():
            continue
        heatmaps.append(charts.perplexity_heatmap(part, members, base=base))
        own = part.filter((pl.col("scorer") == base) & (pl.col("generator") == base)).select(
            "benchmark", pl.col("median").alias("PPL_base(Y_base)")
        )
        rows = part.filter((pl.col("scorer") == base) & (pl.col("generator") != base)).select(
            "benchmark", "generator", pl.col("median").alias("PPL_base(Y_model)")
        )
        contrast.append(
            rows.join(own, on="benchmark", how="left")
            .with_columns(
                pl.lit(base).alias("base"),
                (pl.col("PPL_base(Y_model)") / pl.col("PPL_base(Y_base)")).round(4).alias("ratio"),
            )
            .select(
                "benchmark",
                "base",
                pl.col("generator").alias("model"),
                "PPL_base(Y_model)",
                "PPL_base(Y_base)",
                "ratio",
            )
        )
    contrast_table = pl.concat(contrast) if contrast else pl.DataFrame()
    readings = [
        perplexity_reading(scores, r["benchmark"], r["base"], r["model"])
        for r in contrast_table.iter_rows(named=True)
        if r["PPL_base(Y_base)"] is not None  # the base's own responses were scored on this benchmark
    ]
    chart = charts.perplexity_chart(shown, study.roles)
    return PerplexityPage(scores, table, heatmaps, chart, contrast_table, notes, entropy, readings)
