"""Per-sample inputs of the boundary page: each graded sample with its answer, trajectory, strategy and
(toy world) whether its worked solution is valid.

The solutions table has one row per sample: ``model, benchmark, temperature, problem_id,
sample_index, correct, answer, trajectory, strategy, valid``.

* ``answer``: the grader's extracted answer, normalised (``metrics.support.normalise_text``);
* ``trajectory``: the response text (toy world: exact; math: normalised text);
* ``strategy``: the toy world's response format letter (``R`` careful, ``L`` shortcut, ``S``
  sloppy, ``?``); null for other benchmarks;
* ``valid``: toy world only, the exact check of ``analysis.toyworld.tasks.valid_solution``,
  computed per problem once (the clean careful and shortcut traces) and compared by join; null
  elsewhere (math reasoning needs a judge: ``metrics.reasoning``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from analysis.metrics.support import normalise_text
from analysis.toyworld.tasks import BENCHMARK as TOY_BENCHMARK
from analysis.toyworld.tasks import LETTER_FORMAT, clean_trace, count_carries

_TOY_ID = re.compile(r"^(?:[^/]+/)?(\d+)\+(\d+)$")
KEYS = ["model", "benchmark", "temperature", "problem_id", "sample_index"]


def parse_toy_id(problem_id: str) -> tuple[int, int, int]:
    """(a, b, n_digits) of a toy-world problem id such as ``toyworld/457+385``."""
    m = _TOY_ID.match(problem_id)
    if m is None:
        msg = f"not a toy-world problem id: {problem_id!r} (expected 'toyworld/<a>+<b>')"
        raise ValueError(msg)
    return int(m.group(1)), int(m.group(2)), len(m.group(1))


def toy_problems(problem_ids: list[str]) -> pl.DataFrame:
    """Per toy problem: operands, digits, carries and the two clean traces a valid solution can be."""
    rows = []
    for pid in sorted(set(problem_ids)):
        a, b, nd = parse_toy_id(pid)
        carries = int(count_carries(np.array([a]), np.array([b]), nd)[0])
        rows.append(
            {
                "problem_id": pid,
                "a": a,
                "b": b,
                "n_digits": nd,
                "carries": carries,
                "clean_R": clean_trace("R", a, b, nd),
                "clean_L": clean_trace("L", a, b, nd) if carries == 0 else None,
            }
        )
    schema = {"problem_id": pl.String, "a": pl.Int64, "b": pl.Int64, "n_digits": pl.Int64, "carries": pl.Int64}
    return pl.DataFrame(rows, schema={**schema, "clean_R": pl.String, "clean_L": pl.String})


def add_solution_columns(graded: pl.DataFrame) -> pl.DataFrame:
    """Add ``answer, trajectory, strategy, valid`` to a table of graded samples with their ``text``."""
    toy = graded.filter(pl.col("benchmark") == TOY_BENCHMARK)
    rest = graded.filter(pl.col("benchmark") != TOY_BENCHMARK)
    parts = []
    if rest.height:
        parts.append(
            rest.with_columns(
                pl.col("extracted").map_elements(normalise_text, return_dtype=pl.String).alias("answer"),
                pl.col("text").map_elements(normalise_text, return_dtype=pl.String).alias("trajectory"),
                pl.lit(None, dtype=pl.String).alias("strategy"),
                pl.lit(None, dtype=pl.Boolean).alias("valid"),
            )
        )
    if toy.height:
        letters = list(LETTER_FORMAT)
        first = pl.col("text").fill_null("").str.slice(0, 1)
        probs = toy_problems(toy["problem_id"].unique().to_list()).select("problem_id", "clean_R", "clean_L")
        text = pl.col("text").fill_null("")
        parts.append(
            toy.join(probs, on="problem_id", how="left")
            .with_columns(
                pl.col("extracted").fill_null("").alias("answer"),
                text.alias("trajectory"),
                pl.when(first.is_in(letters)).then(first).otherwise(pl.lit("?")).alias("strategy"),
                ((text == pl.col("clean_R")) | (text == pl.col("clean_L")).fill_null(False)).alias("valid"),
            )
            .drop("clean_R", "clean_L")
        )
    return pl.concat(parts, how="diagonal_relaxed") if parts else graded


def solutions_table(study: Any) -> pl.DataFrame:
    """Every graded sample of ``study`` with its text and the solution columns (see the module docstring)."""
    grades = study.grades().select(*KEYS, "correct", "extracted")
    samples = study.samples(["model", "benchmark", "problem_id", "sample_index", "text"])
    graded = grades.join(samples, on=KEYS, how="left").collect()
    return add_solution_columns(graded)
