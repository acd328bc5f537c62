"""Seed-to-seed spread: per-seed pass@k, and an interval over training seeds *and* problems.

A recipe trained with several seeds (``rl-easy-seed0/1/2``) is one treatment measured several
times. The problems-only bootstrap of one seed's difference to the base says how much the result
would move with other problems; it says nothing about another training run. :func:`recipe_difference`
resamples both: each bootstrap draw picks the recipe's seeds with replacement *and* the problems
with replacement, and averages (seed − base) per-problem pass@k over both. With one seed it equals
the problems-only paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis.metrics.bootstrap import bootstrap_weights, check_ci, check_resamples, percentile_interval
from analysis.metrics.passk import per_problem_pass_at_k
from analysis.metrics.validate import check_counts


def recipe_difference(
    counts: pl.DataFrame,
    base: str,
    members: Sequence[str],
    ks: Sequence[int],
    *,
    ci: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    resample_seeds: bool = True,
) -> pl.DataFrame:
    """Mean over ``members`` of pass@k(member) − pass@k(base), with an interval that resamples the
    members (training seeds) and the problems together.

    ``counts`` holds one benchmark and temperature. Only problems that every member and the base
    have are used. With ``resample_seeds=False`` the members are held fixed and only problems are
    resampled (the problems-only interval of the same mean). Columns: ``k``, ``diff``, ``lo``, ``hi``,
    ``seeds``, ``n_problems``.
    """
    ci = check_ci(ci)
    n_resamples = check_resamples(n_resamples)
    counts = check_counts(counts, ("model",))
    members = list(dict.fromkeys(members))
    if not members:
        msg = "recipe_difference needs at least one member model"
        raise ValueError(msg)
    wide = counts.filter(pl.col("model") == base).select(
        "problem_id", pl.col("n").alias("n_base"), pl.col("c").alias("c_base")
    )
    for i, m in enumerate(members):
        part = counts.filter(pl.col("model") == m).select(
            "problem_id", pl.col("n").alias(f"n{i}"), pl.col("c").alias(f"c{i}")
        )
        if part.is_empty():
            msg = f"recipe_difference: model {m!r} has no counts"
            raise ValueError(msg)
        wide = wide.join(part, on="problem_id", how="inner")
    wide = wide.sort("problem_id")  # the order paired_difference uses, so one seed reproduces it exactly
    if wide.is_empty():
        msg = f"recipe_difference: {base!r} and {members} share no problem"
        raise ValueError(msg)
    k_arr = np.asarray(sorted({int(k) for k in ks}), dtype=np.int64)
    k_max = int(k_arr.max())
    n_min = int(min(wide[c].min() for c in wide.columns if c.startswith("n")))
    if k_arr.min() < 1 or k_max > n_min:
        msg = f"k must lie in 1..{n_min} (the smallest n), got {k_arr.tolist()}"
        raise ValueError(msg)
    cols = k_arr - 1
    base_pk = per_problem_pass_at_k(wide["n_base"].to_numpy(), wide["c_base"].to_numpy(), k_max)[:, cols]
    diffs = np.stack(
        [
            per_problem_pass_at_k(wide[f"n{i}"].to_numpy(), wide[f"c{i}"].to_numpy(), k_max)[:, cols] - base_pk
            for i in range(len(members))
        ]
    )  # seeds x problems x ks
    point = diffs.mean(axis=(0, 1))
    rng = np.random.default_rng(seed)
    problem_w = bootstrap_weights(wide.height, n_resamples, rng)  # resamples x problems
    seed_draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
    seed_w = np.stack([np.bincount(d, minlength=len(members)) for d in seed_draws]).astype(np.float64)
    if not resample_seeds:
        seed_w = np.ones_like(seed_w)
    # mean over drawn seeds of the weighted mean over drawn problems
    per_seed = np.einsum("rp,spk->rsk", problem_w, diffs) / problem_w.sum(axis=1)[:, None, None]
    resampled = np.einsum("rs,rsk->rk", seed_w, per_seed) / len(members)
    lo, hi = percentile_interval(resampled, ci)
    return pl.DataFrame(
        {
            "k": k_arr,
            "diff": point,
            "lo": lo,
            "hi": hi,
            "seeds": [len(members)] * k_arr.size,
            "n_problems": [wide.height] * k_arr.size,
        }
    )
