"""The grading page: verdict statuses, and how much the grader moves the result."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from analysis.finish import finish_shares
from analysis.study import Study


@dataclass
class GradingPage:
    summary: pl.DataFrame
    disagreement: pl.DataFrame
    examples: pl.DataFrame
    endings: pl.DataFrame
    notes: list[str] = field(default_factory=list)


def grading_page(study: Study) -> GradingPage:
    """Verdict statuses, truncation, (code) the sandbox's outcome counts per model, and (math) how
    often the strict and paper graders disagree."""
    from analysis.grading import mode_disagreement, summarize_grades

    summaries, disagreements, examples = [], [], []
    modes = dict.fromkeys(m for b in study.config.benchmarks for m in study.grading_modes(b.name))
    for mode in modes:
        try:
            grades = study.grades(mode).collect()
        except FileNotFoundError:
            continue
        summary = summarize_grades(grades).with_columns(pl.lit(mode).alias("grader"))
        if "outcome" in grades.columns:  # code: the sandbox's outcome counts per model
            from analysis.code.samples import outcome_counts

            summary = summary.join(outcome_counts(grades), on=["model", "benchmark", "grader"], how="left")
        summaries.append(summary)
    try:
        both = pl.concat([study.grades("strict").collect(), study.grades("paper").collect()], how="diagonal_relaxed")
    except FileNotFoundError:
        both = None
    if both is not None:
        d = mode_disagreement(both.drop("temperature", "seed"), study.samples().drop("temperature"))
        disagreements.append(d.summary)
        examples.append(d.examples)
    endings = pl.DataFrame()
    if study.jobs:  # the study's own sampling runs say how each generation ended
        endings = finish_shares(study.samples(["model", "benchmark", "finish_reason", "ended_by", "stop_string"]))
    return GradingPage(
        endings=endings,
        summary=pl.concat(summaries, how="diagonal_relaxed") if summaries else pl.DataFrame(),
        disagreement=pl.concat(disagreements, how="diagonal_relaxed") if disagreements else pl.DataFrame(),
        examples=pl.concat(examples, how="diagonal_relaxed") if examples else pl.DataFrame(),
    )
