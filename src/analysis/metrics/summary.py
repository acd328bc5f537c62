"""Single-number summaries: ΔSE (the sampling-efficiency gap) and cover@τ."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    bootstrap_weights,
    check_ci,
    check_resamples,
    percentile_interval,
)
from analysis.metrics.paired import paired_groups
from analysis.metrics.passk import pass_at_k
from analysis.metrics.validate import DEFAULT_BY, PAIR_BY, as_by, check_counts, check_single_group


@dataclass(frozen=True)
class DeltaSE:
    """ΔSE = pass@k(base) - pass@1(other) over the problems both share (lower is better; paper §4.5).

    ``lo``/``hi``: paired percentile bootstrap interval over problems (None without ``ci``).
    """

    base: str
    other: str
    k: int
    base_pass_at_k: float
    other_pass_at_1: float
    delta: float
    ci: float | None
    lo: float | None
    hi: float | None
    n_problems: int


def delta_se(
    counts: pl.DataFrame | pl.LazyFrame,
    base: str,
    other: str,
    *,
    k: int | None = None,
    by: str | Sequence[str] = PAIR_BY,
    ci: float | None = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> DeltaSE:
    """ΔSE of model ``other`` against the ceiling pass@k of model ``base``, on one benchmark.

    ``k`` defaults to k_max, the smallest n of ``base`` over the shared problems (the paper uses
    k = 256 with n = 256). Per problem the difference is pass@k_base - c_other / n_other; the mean is ΔSE
    and the paired bootstrap over problems gives its interval.
    """
    by = as_by(by)
    ci = check_ci(ci)
    n_resamples = check_resamples(n_resamples)
    counts = check_counts(counts, ("model", *by))
    check_single_group(counts, by, "delta_se")
    (group,) = list(paired_groups(counts, base, other, by))
    k_max = int(group.n_a.min())
    if k is None:
        k = k_max
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k must be a positive integer, got {k!r}"
        raise ValueError(msg)
    if k > k_max:
        i = int(np.argmin(group.n_a))
        msg = f"k = {k} exceeds the samples of base model {base!r} on problem {group.problem_ids[i]!r} (n = {k_max})"
        raise ValueError(msg)
    ceiling = np.asarray(pass_at_k(group.n_a, group.c_a, int(k)), dtype=np.float64)
    pass1 = group.c_b / group.n_b
    diff = ceiling - pass1
    lo = hi = None
    if ci is not None:
        weights = bootstrap_weights(diff.size, n_resamples, seed)
        resampled = (weights.astype(np.float64) @ diff[:, None]) / diff.size
        low, high = percentile_interval(resampled, ci)
        lo, hi = float(low[0]), float(high[0])
    return DeltaSE(
        base=base,
        other=other,
        k=int(k),
        base_pass_at_k=float(ceiling.mean()),
        other_pass_at_1=float(pass1.mean()),
        delta=float(diff.mean()),
        ci=ci,
        lo=lo,
        hi=hi,
        n_problems=int(diff.size),
    )


def cover_at_tau(
    counts: pl.DataFrame | pl.LazyFrame, taus: Sequence[float], *, by: str | Sequence[str] = DEFAULT_BY
) -> pl.DataFrame:
    """cover@τ: the fraction of a group's problems whose accuracy c/n is at least τ (Dragoi et al. 2025).

    One row per group and τ: the group columns, ``tau``, ``cover``. Unlike pass@k at large k, cover@τ
    does not reward a problem solved by one lucky guess among many samples once τ is above 1/n; at
    τ = 1/n (any τ in (0, 1/n]) it equals coverage at n, and it is non-increasing in τ.
    """
    by = as_by(by)
    counts = check_counts(counts, by)
    tau_list = [float(t) for t in taus]
    if not tau_list:
        msg = "taus is empty"
        raise ValueError(msg)
    for t in tau_list:
        if not 0.0 <= t <= 1.0:  # also rejects NaN
            msg = f"tau must be in [0, 1], got {t!r}"
            raise ValueError(msg)
    accuracy = pl.col("c").cast(pl.Float64) / pl.col("n").cast(pl.Float64)
    taus_frame = pl.DataFrame({"tau": tau_list}, schema={"tau": pl.Float64}).unique(maintain_order=True)
    keyed = counts.select(*by, accuracy.alias("accuracy"))
    out = (
        keyed.join(taus_frame, how="cross")
        .group_by([*by, "tau"])
        .agg((pl.col("accuracy") >= pl.col("tau")).mean().alias("cover"))
        .sort([*by, "tau"])
    )
    return out.select(*by, "tau", pl.col("cover").cast(pl.Float64))
