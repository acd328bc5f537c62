"""The toy world's committed experiments: the phase diagram and the five-seed check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.answer import grader_sentence
from analysis.findings import phase_boundary
from analysis.study import Study


@dataclass
class ToyWorldPage:
    phase_summary: pl.DataFrame | None
    phase_charts: list[alt.TopLevelMixin]
    phase_note: Any
    seeds: pl.DataFrame | None
    seed_counts: pl.DataFrame | None
    seeds_note: Any
    boundary: Any


def _outcome(summary: pl.DataFrame) -> pl.DataFrame:
    """A cell label: how many seeds showed the paper's pattern (P) or expansion (E), e.g. ``P2/2``,
    ``P1 E1/2``; ``–/2`` when no seed showed either."""

    def label(pattern: int, expansion: int, seeds: int) -> str:
        parts = [f"{letter}{count}" for letter, count in (("P", pattern), ("E", expansion)) if count > 0]
        return f"{' '.join(parts) or '–'}/{seeds}"

    rows = summary.select("paper_pattern_seeds", "expansion_seeds", "seeds").iter_rows()
    return summary.with_columns(pl.Series("outcome", [label(*row) for row in rows], dtype=pl.String))


PHASE_COMMAND = "python -m analysis.toyworld phase --config configs/toyworld/phase.yaml"
SEEDS_COMMAND = (
    "python -m analysis.toyworld evaluate --config configs/toyworld/seeds.yaml --table data/toyworld/seeds.csv"
)


def toyworld_page(study: Study | None, results_dir: str | None = None) -> ToyWorldPage:
    """The toy world's committed experiments: the phase diagram and the five-seed check."""
    from analysis.toyworld.results import RESULTS_DIR, load_results

    folder = results_dir or RESULTS_DIR
    phase = load_results("phase_summary", folder, meta_name="phase_diagram")
    from IPython.display import Markdown

    phase_charts: list[alt.TopLevelMixin] = []
    summary = None
    note = f"No phase diagram in {folder}: run `{PHASE_COMMAND}`."
    boundary = "No phase diagram, so no boundary to state."
    if phase is not None:
        summary = _outcome(phase.table)
        note = phase.note()
        lines = "; ".join(str(b) for b in phase_boundary(phase.table))
        boundary = f"{grader_sentence(['exact'])} **Where the outcome turns,** by share of hard RL prompts: {lines}."
        phase_charts = [
            charts.phase_chart(summary, "pass1_gain", title="pass@1 gain of RL over the base", value_title="Δ pass@1"),
            charts.phase_chart(
                summary,
                "passmax_gain",
                title="pass@k_max gain of RL over the base (negative: the base's boundary is wider)",
                value_title="Δ pass@k_max",
            ),
        ]
    seeds = load_results("seeds", folder)
    table = counts = None
    seeds_note = f"No seed-robustness table in {folder}: run `{SEEDS_COMMAND}`."
    if seeds is not None:
        seeds_note = seeds.note()
        keep = [
            c
            for c in (
                "model", "temperature", "pass@1", "base_pass@1", "pass@256", "base_pass@256", "only_model",
                "only_base", "crossover_k", "valid_cot", "ppl_base_median", "base_ppl_base_median",
                "outcome", "paper_pattern", "expansion",
            )
            if c in seeds.table.columns
        ]  # fmt: skip
        table = seeds.table.select(keep)
        final = table.filter(~pl.col("model").str.contains("@"))
        counts = (
            final.with_columns(pl.col("model").str.replace(r"-seed\d+$", "").alias("run"))
            .group_by(["run", "temperature"], maintain_order=True)
            .agg(
                pl.len().alias("seeds"),
                pl.col("paper_pattern").sum().alias("paper_pattern"),
                pl.col("expansion").sum().alias("expansion"),
                pl.col("only_model").max().alias("max_only_rl"),
            )
        )
    return ToyWorldPage(summary, phase_charts, Markdown(note), table, counts, Markdown(seeds_note), Markdown(boundary))
