"""Which solved problems a guesser would plausibly solve as often: the guessing floor of
``analysis.metrics.floor`` applied to a counts table.

Large-k pass@k rewards lucky guesses. A problem the base solves in 2 of 256 samples, and that an
RL model never solves, counts as one the base "can solve" and RL lost; but a guesser who knows the
sum's size would hit it about as often. Where a benchmark has a known guessing rate per problem
(the toy world; math needs an answer-only sampling run, which no study has made yet), a solved
problem is *guess-level* for a model when its correct count is no larger than such a guesser's
would plausibly be (``metrics.floor.explained_by_guessing``, one-sided binomial test at 5%).

The findings stage counts guess-level problems among the problems only one model of a pair
solves, so the answer can say, beside the coverage it reports, how many of those problems the
count alone cannot tell apart from guessing. It does not say the model guessed: the toy world's
reasoning check (the boundary page) reads the worked solutions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from analysis import metrics as M
from analysis.boundary_data import parse_toy_id
from analysis.metrics.floor import explained_by_guessing, toy_guess_rate
from analysis.toyworld.tasks import BENCHMARK as TOY_BENCHMARK

GROUP = ("benchmark", "temperature")
GUESSER = "a guesser who knows the sum's size"
# The findings table's columns: per pair, problems solved only by one model at guess level (null
# where the benchmark has no guessing rate).
BASE_ONLY = "base only, guess-level"
OTHER_ONLY = "other only, guess-level"


def guess_rates(benchmark: str, problem_ids: Sequence[str]) -> np.ndarray | None:
    """Each problem's chance that one guess is right, or None where the benchmark has no known rate
    (not the toy world, or problem ids that are not the toy world's ``<a>+<b>``)."""
    if benchmark != TOY_BENCHMARK:
        return None
    try:
        parsed = [parse_toy_id(p) for p in problem_ids]
    except ValueError:
        return None
    if not parsed:
        return np.zeros(0)
    a, b, digits = (np.array(x) for x in zip(*parsed, strict=True))
    rates = np.empty(len(parsed))
    for nd in np.unique(digits):
        rows = digits == nd
        rates[rows] = toy_guess_rate(a[rows], b[rows], int(nd))
    return rates


def guess_level(benchmark: str, problem_ids: Sequence[str], n: np.ndarray, c: np.ndarray) -> np.ndarray | None:
    """Per problem: solved, but with no more correct samples than guessing plausibly gives (None
    where the benchmark has no known guessing rate)."""
    rates = guess_rates(benchmark, problem_ids)
    return None if rates is None else explained_by_guessing(n, c, rates)


def _count(frame: pl.DataFrame, model: str, ids: tuple[str, ...], benchmark: str) -> int | None:
    rows = frame.filter((pl.col("model") == model) & pl.col("problem_id").is_in(list(ids)))
    flags = guess_level(benchmark, rows["problem_id"].to_list(), rows["n"].to_numpy(), rows["c"].to_numpy())
    return None if flags is None else int(flags.sum())


def only_one_counts(frame: pl.DataFrame, base: str, other: str) -> dict[str, int | None]:
    """For one benchmark and temperature (``frame``): how many problems only the base solves
    (``base only``) and only the other model solves (``other only``), and how many of each are
    guess-level for the model that solves them (:data:`BASE_ONLY`, :data:`OTHER_ONLY`; null where
    the benchmark has no guessing rate)."""
    split = M.coverage_split(frame, base, other, by=GROUP)
    benchmark = str(frame["benchmark"][0])
    return {
        "base only": len(split.only_a),
        "other only": len(split.only_b),
        BASE_ONLY: _count(frame, base, split.only_a, benchmark),
        OTHER_ONLY: _count(frame, other, split.only_b, benchmark),
    }


def only_one_guess_level(counts: pl.DataFrame, pairs: Iterable[tuple[str, str]]) -> pl.DataFrame:
    """Per (benchmark, temperature, base, other): how many of the problems only the base solves are
    guess-level for the base (:data:`BASE_ONLY`), and how many of those only the other model solves
    are guess-level for it (:data:`OTHER_ONLY`); null where the benchmark has no guessing rate."""
    pairs = list(pairs)
    rows = []
    for key_values, frame in counts.group_by(list(GROUP), maintain_order=True):
        benchmark, temperature = key_values
        present = set(frame["model"].unique().to_list())
        for base, other in pairs:
            if base not in present or other not in present:
                continue
            found = only_one_counts(frame, base, other)
            rows.append(
                {
                    "benchmark": benchmark,
                    "temperature": temperature,
                    "base": base,
                    "other": other,
                    BASE_ONLY: found[BASE_ONLY],
                    OTHER_ONLY: found[OTHER_ONLY],
                }
            )
    schema = {
        "benchmark": pl.String,
        "temperature": pl.Float64,
        "base": pl.String,
        "other": pl.String,
        BASE_ONLY: pl.Int64,
        OTHER_ONLY: pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
