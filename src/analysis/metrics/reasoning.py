"""Reasoning-checked pass@k (the CoT-pass@k of Wen et al. 2025, arXiv 2506.14245).

A right final answer can come from wrong reasoning, and at large k such lucky samples are what
pass@k counts. Reasoning-checked pass@k counts a sample only if its answer is right *and* its
reasoning is valid; the counts table it builds (``c`` = right and valid) feeds every pass@k function
unchanged, so curves and crossovers come out beside the answer-only ones.

Where the validity comes from:

* Toy world: exact. ``analysis.toyworld.tasks.valid_solution`` checks the worked solution (the clean
  careful trace, or the clean shortcut trace on a problem without carries); the page builds the
  ``valid`` column with it.
* Math: an LLM judge (an OpenAI-compatible endpoint) reads each *correct* sample and returns a verdict.
  Judging every sample is expensive and mostly pointless: a problem a model solves half of the time is
  not solved by luck. :func:`judge_subset` picks the problems where luck matters, those a model
  solves in at most 2% of its samples (the paper's §3.1 checked these by hand), and
  :func:`judge_queue` lists their correct samples. Verdicts are stored in the :data:`VERDICTS` schema
  and merged back with :func:`apply_verdicts`; an unjudged correct sample on a judged problem counts
  as unverified, i.e. not valid (never silently valid). ``analysis.judge`` asks the judge and stores
  each verdict with the judge's identity and prompt hash (``analysis.judge.JUDGE_VERDICTS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

VERDICTS = pl.Schema(
    {
        "model": pl.String,
        "benchmark": pl.String,
        "problem_id": pl.String,
        "sample_index": pl.Int32,
        "judge": pl.String,  # judge model name
        "judge_version": pl.String,  # prompt/rubric version: verdicts of different versions never mix
        "reasoning_valid": pl.Boolean,
        "rationale": pl.String,
    }
)
"""One judged sample: the judge's verdict on the reasoning of a sample graded correct."""

DEFAULT_LUCK_SHARE = 0.02


def checked_counts(checked: pl.DataFrame, *, by: Sequence[str] = ()) -> pl.DataFrame:
    """Answer-only and reasoning-checked counts from a per-sample table with ``correct`` and ``valid``.

    Returns a counts table (``*by, model, benchmark, check, problem_id, n, c``) with two rows per problem:
    ``check = "answer"`` (c = correct samples) and ``check = "answer+reasoning"`` (c = correct samples
    whose reasoning is valid; a null ``valid`` counts as not valid).
    """
    need = [*by, "model", "benchmark", "problem_id", "correct", "valid"]
    missing = [col for col in need if col not in checked.columns]
    if missing:
        msg = f"checked samples table is missing column(s) {missing}"
        raise ValueError(msg)
    keys = [*by, "model", "benchmark", "problem_id"]
    agg = checked.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("correct").sum().cast(pl.Int64).alias("answer"),
        (pl.col("correct") & pl.col("valid").fill_null(False)).sum().cast(pl.Int64).alias("answer+reasoning"),
    )
    return (
        agg.unpivot(on=["answer", "answer+reasoning"], index=[*keys, "n"], variable_name="check", value_name="c")
        .select(*by, "model", "benchmark", "check", "problem_id", "n", "c")
        .sort([*by, "model", "benchmark", "check", "problem_id"])
    )


def judge_subset(counts: pl.DataFrame, *, max_share: float = DEFAULT_LUCK_SHARE) -> pl.DataFrame:
    """The (model, problem) rows solved in at least one but at most ``max_share`` of the samples."""
    if not 0.0 < max_share <= 1.0:
        msg = f"max_share must lie in (0, 1], got {max_share!r}"
        raise ValueError(msg)
    return counts.filter((pl.col("c") > 0) & (pl.col("c") <= max_share * pl.col("n")))


def judge_queue(grades: pl.DataFrame | pl.LazyFrame, subset: pl.DataFrame) -> pl.DataFrame:
    """The correct samples of the ``subset`` problems: what the judge has to read."""
    keys = ["model", "benchmark", "problem_id"]
    lf = grades.lazy() if isinstance(grades, pl.DataFrame) else grades
    return (
        lf.filter(pl.col("correct"))
        .join(subset.select(keys).lazy(), on=keys, how="semi")
        .select(*keys, "sample_index")
        .sort([*keys, "sample_index"])
        .collect()
    )


def apply_verdicts(grades: pl.DataFrame, verdicts: pl.DataFrame, subset: pl.DataFrame) -> pl.DataFrame:
    """``grades`` with a ``valid`` column: the judge's verdict on judged problems, True elsewhere.

    Outside the subset reasoning is not checked (taken as valid, so reasoning-checked pass@k only
    differs where luck can matter); inside it, a correct sample needs a positive verdict.
    """
    keys = ["model", "benchmark", "problem_id"]
    versions = verdicts["judge_version"].unique().to_list() if verdicts.height else []
    if len(versions) > 1:
        msg = f"verdicts mix judge versions {versions}; keep one"
        raise ValueError(msg)
    marked = subset.select(keys).with_columns(pl.lit(True).alias("judged"))
    out = grades.join(marked, on=keys, how="left").join(
        verdicts.select(*keys, "sample_index", "reasoning_valid"), on=[*keys, "sample_index"], how="left"
    )
    return out.with_columns(
        pl.when(pl.col("judged").fill_null(False))
        .then(pl.col("reasoning_valid").fill_null(False))
        .otherwise(True)
        .alias("valid")
    ).drop("judged", "reasoning_valid")
