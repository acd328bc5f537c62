"""Two models on the same problems: paired differences of pass@k, win counts, and the crossover k.

Pairing means the bootstrap resamples *problems*, and both models' values for a resampled problem move
together: the interval is for mean(pass@k_a - pass@k_b) over the problems both models were sampled on.
Problems only one model has are left out (the returned ``n_problems`` says how many were paired); no
shared problem at all is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    bootstrap_weights,
    check_ci,
    check_resamples,
    class_weights,
    distinct_rows,
    percentile_interval,
)
from analysis.metrics.curves import group_label, resolve_ks
from analysis.metrics.passk import chunks, survival_matrix
from analysis.metrics.validate import PAIR_BY, as_by, check_counts, check_single_group, model_rows

TIE_TOL = 1e-15
"""Default ``tie_tol``: per-problem pass@k values closer than this count as a tie in the win counts.

1e-15 is the convention of the public cc1107yss reproduction (it reproduces that repository's win
counts at every k); ``tie_tol=0`` gives the exact comparison. Either way the per-problem difference is
computed from the survival probabilities C(n-c, k)/C(n, k), which keep their relative precision near
pass@k = 1, so two problems both at pass@k = 1 - 1e-20 versus 1 - 2e-20 still differ when tie_tol=0.
"""

SIGN_TOL = 1e-12
"""A mean difference of magnitude at most this has no sign (crossover detection)."""


@dataclass(frozen=True)
class PairedGroup:
    """The problems two models share within one group, aligned row by row (sorted by problem_id)."""

    key: dict[str, Any]
    problem_ids: list[str]
    n_a: np.ndarray
    c_a: np.ndarray
    n_b: np.ndarray
    c_b: np.ndarray


def paired_groups(
    counts: pl.DataFrame | pl.LazyFrame, a: str, b: str, by: str | Sequence[str] = PAIR_BY
) -> Iterator[PairedGroup]:
    """Validate ``counts`` and yield, per group of ``by``, the problems models ``a`` and ``b`` share."""
    by = as_by(by)
    if "model" in by:
        msg = "'model' cannot be a group column of a two-model comparison (it tells the two models apart)"
        raise ValueError(msg)
    if a == b:
        msg = f"compare two different models, got {a!r} twice"
        raise ValueError(msg)
    counts = check_counts(counts, ("model", *by))
    rows_a = model_rows(counts, a, "a").select([*by, "problem_id", pl.col("n").alias("n_a"), pl.col("c").alias("c_a")])
    rows_b = model_rows(counts, b, "b").select([*by, "problem_id", pl.col("n").alias("n_b"), pl.col("c").alias("c_b")])
    keys = rows_a.select(by).unique().vstack(rows_b.select(by).unique()).unique().sort(by) if by else None
    joined = rows_a.join(rows_b, on=[*by, "problem_id"], how="inner").sort([*by, "problem_id"])
    groups = [{}] if keys is None else keys.to_dicts()
    for key in groups:
        part = joined
        for col, value in key.items():
            part = part.filter(pl.col(col) == value)
        if part.height == 0:
            msg = f"models {a!r} and {b!r} share no problem{group_label(key)}"
            raise ValueError(msg)
        yield PairedGroup(
            key=key,
            problem_ids=part.get_column("problem_id").to_list(),
            n_a=part.get_column("n_a").to_numpy().astype(np.int64),
            c_a=part.get_column("c_a").to_numpy().astype(np.int64),
            n_b=part.get_column("n_b").to_numpy().astype(np.int64),
            c_b=part.get_column("c_b").to_numpy().astype(np.int64),
        )


def _pair_ks(ks: Sequence[int] | np.ndarray | None, group: PairedGroup, a: str, b: str) -> np.ndarray:
    both = pl.DataFrame(
        {"problem_id": group.problem_ids * 2, "n": np.concatenate([group.n_a, group.n_b])},
    )
    ctx = ", ".join(f"{col}={value!r}" for col, value in group.key.items())
    return resolve_ks(ks, both, f" for models {a!r} and {b!r}" + (f" ({ctx})" if ctx else ""))


@dataclass
class _PairedSums:
    mean_a: np.ndarray
    mean_b: np.ndarray
    diff: np.ndarray
    a_wins: np.ndarray
    b_wins: np.ndarray
    resampled: np.ndarray | None


def _paired_sums(group: PairedGroup, k_arr: np.ndarray, weights: np.ndarray | None, tie_tol: float) -> _PairedSums:
    """Means, win counts and resampled mean differences, each distinct (n_a, c_a, n_b, c_b) computed once."""
    (n_a, c_a, n_b, c_b), inverse, multiplicity = distinct_rows(group.n_a, group.c_a, group.n_b, group.c_b)
    if weights is not None:
        weights = class_weights(weights, inverse, multiplicity.size)
    size = int(multiplicity.sum())
    mult = multiplicity.astype(np.float64)
    width = k_arr.size
    cols = k_arr - 1
    k_max = int(k_arr[-1])
    sum_qa = np.zeros(width)
    sum_qb = np.zeros(width)
    sum_d = np.zeros(width)
    a_wins = np.zeros(width, dtype=np.int64)
    b_wins = np.zeros(width, dtype=np.int64)
    resampled = None if weights is None else np.zeros((weights.shape[0], width))
    for rows in chunks(multiplicity.size, 2 * k_max):
        qa = survival_matrix(n_a[rows], c_a[rows], k_max)[:, cols]
        qb = survival_matrix(n_b[rows], c_b[rows], k_max)[:, cols]
        d = qb - qa  # pass@k_a - pass@k_b, without the cancellation of (1 - qa) - (1 - qb)
        m = mult[rows]
        sum_qa += m @ qa
        sum_qb += m @ qb
        sum_d += m @ d
        a_wins += multiplicity[rows] @ (d > tie_tol)
        b_wins += multiplicity[rows] @ (d < -tie_tol)
        if resampled is not None and weights is not None:
            resampled += weights[:, rows].astype(np.float64) @ d
    if resampled is not None:
        resampled /= size
    return _PairedSums(1.0 - sum_qa / size, 1.0 - sum_qb / size, sum_d / size, a_wins, b_wins, resampled)


def paired_difference(
    counts: pl.DataFrame | pl.LazyFrame,
    a: str,
    b: str,
    ks: Sequence[int] | np.ndarray | None = None,
    *,
    by: str | Sequence[str] = PAIR_BY,
    ci: float | None = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    tie_tol: float = TIE_TOL,
) -> pl.DataFrame:
    """pass@k of model ``a`` minus model ``b`` over the problems both have, per group of ``by`` and k.

    Columns: the group columns, ``model_a``, ``model_b``, ``k``, ``pass_at_k_a``, ``pass_at_k_b``,
    ``diff`` (a - b), ``lo``/``hi`` (paired percentile bootstrap over problems at level ``ci``; omitted
    when ``ci`` is None), ``a_wins``/``b_wins``/``ties`` (problems where a's per-problem pass@k is higher,
    lower, or within ``tie_tol``: see :data:`TIE_TOL`), and ``n_problems`` (problems paired). ``ks`` defaults to every k
    from 1 to the smallest n among the paired problems of both models.
    """
    by = as_by(by)
    ci = check_ci(ci)
    n_resamples = check_resamples(n_resamples)
    if not tie_tol >= 0.0:
        msg = f"tie_tol must be a non-negative number, got {tie_tol!r}"
        raise ValueError(msg)
    frames = []
    for group in paired_groups(counts, a, b, by):
        k_arr = _pair_ks(ks, group, a, b)
        size = len(group.problem_ids)
        weights = None if ci is None else bootstrap_weights(size, n_resamples, seed)
        sums = _paired_sums(group, k_arr, weights, tie_tol)
        cols: dict[str, Any] = {col: [group.key[col]] * k_arr.size for col in by}
        cols |= {
            "model_a": [a] * k_arr.size,
            "model_b": [b] * k_arr.size,
            "k": k_arr,
            "pass_at_k_a": sums.mean_a,
            "pass_at_k_b": sums.mean_b,
            "diff": sums.diff,
        }
        if sums.resampled is not None and ci is not None:
            cols["lo"], cols["hi"] = percentile_interval(sums.resampled, ci)
        cols |= {
            "a_wins": sums.a_wins,
            "b_wins": sums.b_wins,
            "ties": size - sums.a_wins - sums.b_wins,
            "n_problems": [size] * k_arr.size,
        }
        frames.append(pl.DataFrame(cols))
    return pl.concat(frames).with_columns(pl.col("k", "a_wins", "b_wins", "ties", "n_problems").cast(pl.Int64))


@dataclass(frozen=True)
class Crossover:
    """Where the sign of pass@k(a) - pass@k(b) first changes relative to k = 1.

    ``k`` is the smallest k at which the difference has the opposite sign to the difference at k = 1
    (at the first k where it is non-zero, if it is zero at k = 1); ``None`` means no crossover up to
    ``k_max``. ``lo``/``hi`` is the percentile interval of that k over bootstrap resamples of the
    problems, counting a resample without a crossover as "beyond k_max": ``hi is None`` then means the
    upper end lies beyond k_max (more than (1 - ci)/2 of the resamples never cross), and ``lo is None``
    as well means most resamples never cross. ``share_no_crossover`` is the fraction of such resamples.
    """

    a: str
    b: str
    k: int | None
    k_max: int
    sign_at_1: int  # +1: a ahead at k = 1, -1: b ahead, 0: equal at every k
    n_problems: int
    ci: float | None
    lo: int | None
    hi: int | None
    share_no_crossover: float | None
    n_resamples: int

    @property
    def crossed(self) -> bool:
        return self.k is not None

    def __str__(self) -> str:
        ahead = {1: self.a, -1: self.b}.get(self.sign_at_1)
        if self.k is None:
            text = f"no crossover up to k = {self.k_max}" + (f" ({ahead} ahead throughout)" if ahead else "")
        else:
            behind = self.b if self.sign_at_1 == 1 else self.a
            text = f"{behind} overtakes {ahead} at k = {self.k}"
        if self.ci is not None and self.share_no_crossover is not None:
            lo = "beyond k_max" if self.lo is None else str(self.lo)
            hi = f"beyond {self.k_max}" if self.hi is None else str(self.hi)
            text += (
                f"; {self.ci:.0%} interval {lo} to {hi} over {self.n_resamples} resamples of "
                f"{self.n_problems} problems, {self.share_no_crossover:.1%} of them without a crossover"
            )
        return text


def first_sign_change(diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``diff`` (rows x k = 1..K): (crossover k or 0 when none, reference sign in {-1, 0, 1}).

    The reference sign is that of the first entry whose magnitude exceeds :data:`SIGN_TOL`; the
    crossover is the first later k with the opposite sign (ties along the way do not count).
    """
    diff = np.atleast_2d(diff)
    sign = np.where(diff > SIGN_TOL, 1, np.where(diff < -SIGN_TOL, -1, 0)).astype(np.int8)
    nonzero = sign != 0
    first = np.argmax(nonzero, axis=1)
    ref = np.where(nonzero.any(axis=1), sign[np.arange(sign.shape[0]), first], 0).astype(np.int8)
    flipped = (sign == -ref[:, None]) & (ref[:, None] != 0)
    has = flipped.any(axis=1)
    k = np.where(has, np.argmax(flipped, axis=1) + 1, 0)
    return k, ref


def crossover(
    counts: pl.DataFrame | pl.LazyFrame,
    a: str,
    b: str,
    *,
    by: str | Sequence[str] = PAIR_BY,
    ci: float | None = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Crossover:
    """The crossover k of models ``a`` and ``b`` on one benchmark, with a paired bootstrap interval.

    ``counts`` must hold one group of ``by`` (filter other benchmarks out first). k runs over every
    integer from 1 to ``k_max``, the smallest n among the problems both models share. See
    :class:`Crossover` for the definition and how resamples without a crossover are reported.
    """
    by = as_by(by)
    ci = check_ci(ci)
    n_resamples = check_resamples(n_resamples)
    counts = check_counts(counts, ("model", *by))
    check_single_group(counts, by, "crossover")
    (group,) = list(paired_groups(counts, a, b, by))
    k_arr = _pair_ks(None, group, a, b)
    size = len(group.problem_ids)
    weights = None if ci is None else bootstrap_weights(size, n_resamples, seed)
    sums = _paired_sums(group, k_arr, weights, TIE_TOL)
    k_point, ref = first_sign_change(sums.diff)
    lo = hi = None
    share = None
    if sums.resampled is not None and ci is not None:
        k_boot, _ = first_sign_change(sums.resampled)
        share = float(np.mean(k_boot == 0))
        alpha = (1.0 - ci) / 2.0
        as_float = np.where(k_boot == 0, np.inf, k_boot.astype(np.float64))
        q_lo, q_hi = np.quantile(as_float, [alpha, 1.0 - alpha], method="inverted_cdf")
        lo = None if np.isinf(q_lo) else int(q_lo)
        hi = None if np.isinf(q_hi) else int(q_hi)
    return Crossover(
        a=a,
        b=b,
        k=int(k_point[0]) or None,
        k_max=int(k_arr[-1]),
        sign_at_1=int(ref[0]),
        n_problems=size,
        ci=ci,
        lo=lo,
        hi=hi,
        share_no_crossover=share,
        n_resamples=n_resamples if ci is not None else 0,
    )
