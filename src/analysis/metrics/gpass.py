"""G-Pass@k_τ and mG-Pass@k (Liu et al. 2024, arXiv 2412.13147): pass@k that asks for stability.

pass@k asks for at least one correct answer among k samples; G-Pass@k_τ asks for at least
m = ⌈τ·k⌉ of them (with m ≥ 1), estimated without bias from n samples of which c are correct by the
hypergeometric tail (a uniformly drawn k-subset of the n samples holds j correct ones with
probability C(c, j) C(n − c, k − j) / C(n, k)):

    G-Pass@k_τ = Σ_{j = m}^{min(c, k)} C(c, j) C(n − c, k − j) / C(n, k) = hypergeom.sf(m − 1, n, c, k).

τ → 0 gives pass@k (m = 1), τ = 1 gives the chance that all k samples are correct. mG-Pass@k
averages G-Pass@k over the thresholds of the upper half,

    mG-Pass@k = 2 ∫_{0.5}^{1} G-Pass@k_τ dτ ≈ (2 / k) Σ_{i = ⌈k/2⌉ + 1}^{k} G-Pass@k_{i/k},

which is how OpenCompass (``compute_mg_pass_at_k``) and lighteval (``GPassAtK``) report it; both
compute m as ``max(ceil(k·τ), 1)`` with τ = i/k, which is m = i here (exact integers, no float τ).
Problems are averaged with equal weight; problems may have different n (the estimator is unbiased
per problem for any n ≥ k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.stats import hypergeom

from analysis.metrics.validate import DEFAULT_BY, as_by, as_int_array, check_counts, iter_groups


def threshold_count(k: int, tau: float) -> int:
    """m = max(⌈τ·k⌉, 1), with τ·k rounded to 12 decimals first so that τ = i/k gives exactly i."""
    if not 0.0 <= tau <= 1.0:
        msg = f"tau must lie in [0, 1], got {tau!r}"
        raise ValueError(msg)
    return max(math.ceil(round(tau * k, 12)), 1)


def g_pass_at_k_counts(n: np.ndarray, c: np.ndarray, k: int, m: int) -> np.ndarray:
    """Per-problem P(at least m correct in a uniform k-subset of n samples with c correct)."""
    n_arr = as_int_array(n, "n")
    c_arr = as_int_array(c, "c")
    if np.any(n_arr < k):
        msg = f"k = {k} exceeds the smallest n = {int(n_arr.min())}"
        raise ValueError(msg)
    if np.any(c_arr > n_arr) or np.any(c_arr < 0):
        msg = "c must lie in [0, n]"
        raise ValueError(msg)
    return np.asarray(hypergeom.sf(m - 1, n_arr, c_arr, k), dtype=np.float64)


def g_pass_at_k(n: np.ndarray, c: np.ndarray, k: int, tau: float) -> np.ndarray:
    """Per-problem G-Pass@k_τ."""
    return g_pass_at_k_counts(n, c, k, threshold_count(k, tau))


def mg_pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """Per-problem mG-Pass@k = (2/k) Σ_{i=⌈k/2⌉+1}^{k} G-Pass@k_{i/k} (0 when k = 1: the sum is empty)."""
    total = np.zeros(np.shape(as_int_array(n, "n")), dtype=np.float64)
    for i in range(math.ceil(k / 2) + 1, k + 1):
        total += g_pass_at_k_counts(n, c, k, i)
    return 2.0 * total / k


def g_pass_table(
    counts: pl.DataFrame | pl.LazyFrame,
    ks: Sequence[int],
    taus: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
    *,
    by: str | Sequence[str] = DEFAULT_BY,
) -> pl.DataFrame:
    """Mean G-Pass@k_τ per group, k and τ, plus mG-Pass@k (rows with ``metric`` = "mG-Pass").

    Columns: ``*by, k, metric ("G-Pass" | "mG-Pass"), tau (null for mG-Pass), value``. ks above a
    group's smallest n are left out for that group.
    """
    by = as_by(by)
    counts = check_counts(counts, by)
    rows = []
    for key, group in iter_groups(counts, by):
        n = group["n"].to_numpy().astype(np.int64)
        c = group["c"].to_numpy().astype(np.int64)
        for k in sorted({int(k) for k in ks}):
            if k < 1 or k > int(n.min()):
                continue
            for tau in taus:
                value = float(np.mean(g_pass_at_k(n, c, k, float(tau))))
                rows.append({**key, "k": k, "metric": "G-Pass", "tau": float(tau), "value": value})
            rows.append(
                {**key, "k": k, "metric": "mG-Pass", "tau": None, "value": float(np.mean(mg_pass_at_k(n, c, k)))}
            )
    schema = {**{col: counts.schema[col] for col in by}, "k": pl.Int64, "metric": pl.String}
    schema |= {"tau": pl.Float64, "value": pl.Float64}
    return pl.DataFrame(rows, schema=schema)
