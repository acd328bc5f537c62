"""pass@k curves: the mean over problems of per-problem pass@k, per group, with bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from analysis.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    accumulate_means,
    bootstrap_weights,
    check_ci,
    check_resamples,
    class_weights,
    distinct_rows,
    percentile_interval,
)
from analysis.metrics.passk import pass_at_k_columns
from analysis.metrics.validate import DEFAULT_BY, as_by, as_int_array, check_counts, iter_groups


def resolve_ks(ks: Sequence[int] | np.ndarray | None, group: pl.DataFrame, label: str) -> np.ndarray:
    """The sorted unique ks to evaluate for one group: 1..min(n) when ``ks`` is None.

    ``ValueError`` when a k is below 1 or above the smallest n of the group (naming that problem).
    """
    n = group.get_column("n")
    k_cap = int(n.min())  # type: ignore[arg-type]
    if ks is None:
        return np.arange(1, k_cap + 1, dtype=np.int64)
    arr = np.unique(as_int_array(ks, "ks").ravel())
    if arr.size == 0:
        msg = "ks is empty"
        raise ValueError(msg)
    if arr[0] < 1:
        msg = f"ks must be at least 1, got k = {int(arr[0])}"
        raise ValueError(msg)
    if arr[-1] > k_cap:
        row = group.filter(pl.col("n") == k_cap).row(0, named=True)
        msg = f"k = {int(arr[-1])} exceeds the samples available{label}: problem {row['problem_id']!r} has n = {k_cap}"
        raise ValueError(msg)
    return arr


def group_label(key: dict[str, Any]) -> str:
    return (" for " + ", ".join(f"{k}={v!r}" for k, v in key.items())) if key else ""


def pass_at_k_curve(
    counts: pl.DataFrame | pl.LazyFrame,
    ks: Sequence[int] | np.ndarray | None = None,
    *,
    by: str | Sequence[str] = DEFAULT_BY,
    ci: float | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> pl.DataFrame:
    """Mean pass@k over the problems of each group, for every k from 1 to the group's smallest n (or ``ks``).

    ``counts`` has one row per group x problem with columns ``problem_id``, ``n``, ``c`` and the group
    columns ``by`` (default ``model``, ``benchmark``); problems may have different n. Per-problem
    pass@1..K come from the cumulative-product recurrence (O(K) per problem), computed once per distinct
    (n, c) and weighted by how many problems share it, in chunks to bound memory.

    Returns a tidy frame ``(*by, k, pass_at_k)`` sorted by group and k (the ``curves`` table when ``by``
    is the default). With ``ci`` (e.g. 0.95) it adds ``lo`` and ``hi``: a percentile bootstrap interval
    over problems from ``n_resamples`` resamples drawn with ``numpy.random.default_rng(seed)``; each group
    is resampled with a fresh generator from ``seed`` (so two models over the same problem ids draw the
    same resamples). Without ``ci`` no bootstrap runs.
    """
    by = as_by(by)
    ci = check_ci(ci)
    n_resamples = check_resamples(n_resamples)
    counts = check_counts(counts, by)
    frames = []
    for key, group in iter_groups(counts, by):
        k_arr = resolve_ks(ks, group, group_label(key))
        n = group.get_column("n").to_numpy().astype(np.int64)
        c = group.get_column("c").to_numpy().astype(np.int64)
        (n_u, c_u), inverse, multiplicity = distinct_rows(n, c)
        weights = None
        if ci is not None:
            weights = class_weights(bootstrap_weights(len(n), n_resamples, seed), inverse, multiplicity.size)
        mean, resampled = accumulate_means(
            lambda rows, n_u=n_u, c_u=c_u, k_arr=k_arr: pass_at_k_columns(n_u[rows], c_u[rows], k_arr),
            multiplicity,
            k_arr.size,
            weights,
        )
        cols: dict[str, Any] = {col: [key[col]] * k_arr.size for col in by}
        cols["k"] = k_arr
        cols["pass_at_k"] = mean
        if resampled is not None and ci is not None:
            cols["lo"], cols["hi"] = percentile_interval(resampled, ci)
        frames.append(pl.DataFrame(cols, schema_overrides={col: counts.schema[col] for col in by}))
    out = pl.concat(frames)
    return out.with_columns(pl.col("k").cast(pl.Int64), pl.col("pass_at_k").cast(pl.Float64))
