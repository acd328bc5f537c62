"""A real-model chapter in the default book: public per-problem MATH500 counts of Qwen2.5-7B and
SimpleRL-Zoo (n = 128, graded by the paper's official evaluator, committed with their provenance
in ``data/public/``), put through the same findings, curves, coverage and histogram code as the
study's own models. Read-only: the page reads the committed table and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.answer import answer_text
from analysis.config import ModelEntry
from analysis.findings import compare_pair, findings_table
from analysis.pages.common import GROUP, powers_of_two

PUBLIC = Path(__file__).resolve().parents[3] / "data" / "public" / "math500-qwen2.5-7b-vs-simplerl"
MODELS = {"Qwen/Qwen2.5-7B": "qwen2.5-7b", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo": "simplerl-zoo-7b"}
RECIPES = {
    "qwen2.5-7b": ModelEntry(
        name="qwen2.5-7b", role="base", path="Qwen/Qwen2.5-7B", template="qwen-boxed", recipe="the base model"
    ),
    "simplerl-zoo-7b": ModelEntry(
        name="simplerl-zoo-7b",
        role="rl",
        base="qwen2.5-7b",
        path="hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo",
        template="qwen-boxed",
        recipe="SimpleRL-Zoo: GRPO from the base, correctness reward only, on about 8K GSM8K and MATH problems",
    ),
}
GRADER = "official-recorded"
FINDINGS_SHOWN = (
    "outcome", "reason", "pass@1 base", "pass@1 other", "Δ pass@1 lo", "Δ pass@1 hi", "pass@n base", "pass@n other",
    "Δ pass@n lo", "Δ pass@n hi", "crossover",
)  # fmt: skip


def public_counts(folder: Path = PUBLIC) -> pl.DataFrame:
    """The committed counts as a counts table (``model`` by the study's names, T = 0.6)."""
    raw = pl.read_csv(folder / "counts.csv")
    unknown = set(raw["model"].unique().to_list()) - set(MODELS)
    if unknown:
        msg = f"{folder / 'counts.csv'}: unknown models {sorted(unknown)}"
        raise ValueError(msg)
    return raw.select(
        pl.col("model").replace_strict(MODELS),
        pl.lit("math500").alias("benchmark"),
        pl.lit(0.6).alias("temperature"),
        "problem_id",
        pl.col("n").cast(pl.Int64),
        pl.col("c").cast(pl.Int64),
    )


@dataclass
class PublicPage:
    provenance: Any
    answer: Any
    findings: pl.DataFrame
    curves_chart: alt.TopLevelMixin
    histogram_chart: alt.TopLevelMixin
    table: pl.DataFrame
    split: pl.DataFrame


def public_math500_page(folder: Path = PUBLIC, *, n_resamples: int = 1000) -> PublicPage:
    """The public MATH500 counts through the study's findings, pass@k and histogram code."""
    from IPython.display import Markdown

    meta = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    counts = public_counts(folder)
    roles = {name: m.role for name, m in RECIPES.items()}
    f = compare_pair(counts, "qwen2.5-7b", "simplerl-zoo-7b", n_resamples=n_resamples)
    found = findings_table([f], grader=GRADER).with_columns(pl.lit(True).alias("primary"))
    text = answer_text(found, list(RECIPES.values()))
    setup = meta.get("setup", {})
    provenance = Markdown(
        f"**Source:** {meta['source']['repository']} (commit `{meta['source']['commit'][:12]}`), an independent "
        f"reproduction of the paper. **Grader:** {meta['grader']}. **Sampling:** {setup.get('prompt', '?')}, "
        f"T = {setup.get('temperature')}, top-p {setup.get('top_p')}, up to {setup.get('max_tokens')} new tokens, "
        f"seeds {setup.get('seeds')} × {setup.get('n_per_seed')} = n {setup.get('n_total')}. **Licence:** "
        f"{meta['licence']} The counts are committed in `data/public/` with this record (`provenance.json`)."
    )
    curves = M.pass_at_k_curve(counts, by=("model", *GROUP), ci=0.95, n_resamples=n_resamples)
    hist = M.accuracy_histogram(counts, by=("model", *GROUP))
    table = (
        curves.filter(pl.col("k").is_in(powers_of_two(128)))
        .with_columns((pl.col("pass_at_k") * 100).round(1).alias("pass@k (%)"))
        .pivot(on="k", index=["model"], values="pass@k (%)")
    )
    split = pl.DataFrame([{"both": f.both, "base only": f.only_base, "RL only": f.only_other, "neither": f.neither}])
    return PublicPage(
        provenance=provenance,
        answer=Markdown(text),
        findings=found.select(FINDINGS_SHOWN),
        curves_chart=charts.passk_chart(curves, roles, title="pass@k on MATH500 (public counts, n = 128)"),
        histogram_chart=charts.histogram_chart(hist, roles),
        table=table,
        split=split,
    )
