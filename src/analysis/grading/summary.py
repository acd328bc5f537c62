"""Summaries of grades tables: accuracy and status counts, and how much the grader matters."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analysis import schemas

SAMPLE_KEY = ["run_hash", "model", "benchmark", "problem_id", "sample_index"]
STATUSES = ("ok", "no_answer", "timeout", "error")


def _with_finish_reason(grades: pl.DataFrame, samples: pl.DataFrame | pl.LazyFrame | None) -> pl.DataFrame:
    if "finish_reason" in grades.columns:
        return grades
    if samples is None:
        msg = "grades have no finish_reason column: pass the samples table they were graded from"
        raise ValueError(msg)
    schemas.check(samples, "samples")
    reasons = samples.lazy().select([*SAMPLE_KEY, "finish_reason"]).collect()
    out = grades.join(reasons, on=SAMPLE_KEY, how="left")
    unmatched = out["finish_reason"].null_count()
    if unmatched:
        msg = f"{unmatched} grades have no matching sample (keys {SAMPLE_KEY})"
        raise ValueError(msg)
    return out


def summarize_grades(grades: pl.DataFrame, samples: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Per (model, benchmark, grader): accuracy, the count of each status, and truncation.

    Columns: ``n`` samples, ``n_correct``, ``accuracy``; ``n_ok``, ``n_no_answer``,
    ``n_timeout``, ``n_error``; ``n_truncated`` (``finish_reason == "length"``: graded as they are,
    counted here separately), ``n_truncated_correct``, and ``accuracy_complete`` (accuracy over
    the samples that were not truncated; null when every sample was). ``finish_reason`` comes from
    ``grades`` (``grade_samples`` adds it) or, failing that, from ``samples``.
    """
    schemas.check(grades, "grades")
    g = _with_finish_reason(grades, samples)
    truncated = pl.col("finish_reason") == "length"
    return (
        g.group_by("model", "benchmark", "grader", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            pl.col("correct").sum().alias("n_correct"),
            pl.col("correct").mean().alias("accuracy"),
            *[(pl.col("status") == s).sum().alias(f"n_{s}") for s in STATUSES],
            truncated.sum().alias("n_truncated"),
            (truncated & pl.col("correct")).sum().alias("n_truncated_correct"),
            pl.col("correct").filter(~truncated).mean().alias("accuracy_complete"),
        )
        .sort("model", "benchmark", "grader")
    )


@dataclass(frozen=True)
class Disagreement:
    """How often two graders disagree: ``summary`` per benchmark, ``examples`` to read."""

    summary: pl.DataFrame
    examples: pl.DataFrame


def mode_disagreement(
    grades: pl.DataFrame,
    samples: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    modes: tuple[str, str] = ("strict", "paper"),
    n_examples: int = 5,
) -> Disagreement:
    """Compare the verdicts of two graders (``strict`` and ``paper`` by default) on the same samples.

    ``grades`` holds both graders' rows (e.g. two ``grade_samples`` results concatenated). Only
    samples graded by both are compared. ``summary`` has one row per benchmark: ``n`` samples,
    ``n_disagree``, ``rate``, ``first_only`` (correct under the first mode only), ``second_only``,
    ``accuracy_first``, ``accuracy_second`` (the column names carry the mode names, e.g.
    ``strict_only``, ``accuracy_paper``). ``examples`` has up to ``n_examples`` disagreeing samples
    per benchmark with both verdicts and extracted answers, and the response text when ``samples``
    is given.
    """
    schemas.check(grades, "grades")
    a, b = modes
    if a == b:
        msg = f"modes must differ, got {modes}"
        raise ValueError(msg)
    fields = ["correct", "extracted", "status"]

    def side(mode: str) -> pl.DataFrame:
        part = grades.filter(pl.col("grader") == mode).select([*SAMPLE_KEY, *fields])
        if part.select(SAMPLE_KEY).is_duplicated().any():
            msg = f"grades hold more than one {mode!r} verdict for some samples"
            raise ValueError(msg)
        return part.rename({f: f"{f}_{mode}" for f in fields})

    both = side(a).join(side(b), on=SAMPLE_KEY, how="inner")
    differ = pl.col(f"correct_{a}") != pl.col(f"correct_{b}")
    summary = (
        both.group_by("benchmark", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            differ.sum().alias("n_disagree"),
            differ.mean().alias("rate"),
            (pl.col(f"correct_{a}") & ~pl.col(f"correct_{b}")).sum().alias(f"{a}_only"),
            (pl.col(f"correct_{b}") & ~pl.col(f"correct_{a}")).sum().alias(f"{b}_only"),
            pl.col(f"correct_{a}").mean().alias(f"accuracy_{a}"),
            pl.col(f"correct_{b}").mean().alias(f"accuracy_{b}"),
        )
        .sort("benchmark")
    )
    examples = (
        both.filter(differ)
        .sort(SAMPLE_KEY)
        .group_by("benchmark", maintain_order=True)
        .head(n_examples)
        .sort("benchmark")
    )
    if samples is not None:
        schemas.check(samples, "samples")
        text = samples.lazy().select([*SAMPLE_KEY, "text"]).collect()
        examples = examples.join(text, on=SAMPLE_KEY, how="left")
    return Disagreement(summary, examples)
