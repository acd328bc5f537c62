"""A guessing floor: how much of pass@k a model would get with no reasoning at all.

On a discrete answer space pass@k at large k rewards guessing: a guesser that hits with probability
g per sample has pass@k = 1 − (1 − g)^k, which tends to 1. The floor of a problem is that curve for
the problem's guessing rate g; a model's pass@k *above the floor* is the part that needs more than
guessing, and a problem's success is *explained by guessing* when its correct count is no larger than
a guesser's would plausibly be (a one-sided binomial test: P(Binomial(n, g) ≥ c) ≥ α, with c > 0).

Where g comes from:

* Toy world (exact): the answer is the sum of two d-digit operands written with d + 1 digits.
  ``"uniform"``: the guesser picks any possible sum, g = 1 / (2·10^d − 1). ``"magnitude"``: the
  guesser knows the sum's size, the part of a + b a glance gives: it rounds both operands down to
  their leading digit and guesses uniformly in the window that leaves, a + b − (a₁ + b₁)·10^{d−1} ∈
  [0, 2·(10^{d−1} − 1)], so g = 1 / (2·10^{d−1} − 1) (≈ 1/199 for d = 3, whose pass@256 floor is
  0.72: large-k pass@k on the toy world means little without this correction).
* Math: g is measured, by sampling each problem with an *answer-only* prompt ("give only the final
  answer, no working"); :func:`floor_from_answer_only` turns those counts into g per problem (a
  future sampling run; the function only needs its counts table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
from scipy.stats import binom

from analysis.metrics.passk import survival_matrix
from analysis.metrics.validate import as_int_array, check_counts

Prior = Literal["uniform", "magnitude"]


def toy_guess_rate(a: np.ndarray, b: np.ndarray, n_digits: int, prior: Prior = "magnitude") -> np.ndarray:
    """Per-problem chance that one guess of the sum of ``a`` and ``b`` is right (see the module docstring)."""
    a_arr, b_arr = as_int_array(a, "a"), as_int_array(b, "b")
    if n_digits < 1:
        msg = f"n_digits must be at least 1, got {n_digits}"
        raise ValueError(msg)
    if prior == "uniform":
        size = 2 * 10**n_digits - 1
    elif prior == "magnitude":
        size = 2 * 10 ** (n_digits - 1) - 1
    else:
        msg = f"prior must be 'uniform' or 'magnitude', got {prior!r}"
        raise ValueError(msg)
    return np.full(np.broadcast(a_arr, b_arr).shape, 1.0 / size)


def magnitude_window(a: int, b: int, n_digits: int) -> range:
    """The sums the ``magnitude`` guesser considers for ``a + b`` (the true sum is always inside)."""
    unit = 10 ** (n_digits - 1)
    low = (a // unit + b // unit) * unit
    return range(low, low + 2 * (unit - 1) + 1)


def floor_from_answer_only(counts: pl.DataFrame | pl.LazyFrame, *, prior_strength: float = 1.0) -> pl.DataFrame:
    """Guessing rate per (model, benchmark, problem) from answer-only sampling counts.

    ``counts`` is a counts table of an answer-only prompt run. g is the posterior mean under a
    Beta(prior_strength/2, prior_strength/2) prior (Jeffreys for 1.0), so a problem with c = 0 of n
    still has a small positive floor instead of exactly zero. Returns the counts with a ``guess_rate``
    column.
    """
    counts = check_counts(counts, ("model", "benchmark"), what="answer-only counts")
    half = prior_strength / 2.0
    return counts.with_columns(((pl.col("c") + half) / (pl.col("n") + 2.0 * half)).alias("guess_rate"))


def floor_pass_at_k(guess_rate: np.ndarray, ks: Sequence[int] | np.ndarray) -> np.ndarray:
    """pass@k of a pure guesser, 1 − (1 − g)^k, for each problem (rows) and k (columns)."""
    g = np.asarray(guess_rate, dtype=np.float64).reshape(-1, 1)
    k = np.asarray(ks, dtype=np.float64).reshape(1, -1)
    g = np.clip(g, 0.0, 1.0)
    out = -np.expm1(k * np.log1p(-np.minimum(g, 0.5)))  # log1p form keeps precision for tiny g
    return np.where(g > 0.5, 1.0 - (1.0 - g) ** k, out)


def explained_by_guessing(n: np.ndarray, c: np.ndarray, guess_rate: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Per problem: solved (c > 0) but with no more correct samples than guessing plausibly gives.

    True where P(Binomial(n, g) ≥ c) ≥ ``alpha``: the success cannot be told apart from guessing.
    """
    n_arr, c_arr = as_int_array(n, "n"), as_int_array(c, "c")
    p_value = binom.sf(c_arr - 1, n_arr, np.asarray(guess_rate, dtype=np.float64))
    return (c_arr > 0) & (p_value >= alpha)


def above_floor(n: np.ndarray, c: np.ndarray, guess_rate: np.ndarray, ks: Sequence[int] | np.ndarray) -> pl.DataFrame:
    """Mean pass@k, the guessing floor and their difference at each k (problems weighted equally).

    ``pass_above_floor`` = mean over problems of max(pass@k − floor@k, 0) / (1 − floor@k): the share
    of the headroom above guessing that the model's samples cover (1 = always right, 0 = no better
    than guessing).
    """
    n_arr, c_arr = as_int_array(n, "n").ravel(), as_int_array(c, "c").ravel()
    k_arr = np.asarray(ks, dtype=np.int64)
    p = 1.0 - survival_matrix(n_arr, c_arr, int(k_arr.max()))[:, k_arr - 1]
    f = floor_pass_at_k(guess_rate, k_arr)
    f = np.broadcast_to(f, p.shape)
    head = np.where(f < 1.0, np.clip(p - f, 0.0, None) / np.where(f < 1.0, 1.0 - f, 1.0), 0.0)
    return pl.DataFrame(
        {
            "k": k_arr,
            "pass_at_k": p.mean(axis=0),
            "floor": f.mean(axis=0),
            "pass_above_floor": head.mean(axis=0),
        }
    )
