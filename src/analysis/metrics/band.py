"""A simultaneous (sup-t) confidence band over the whole k grid for pass@k(other) − pass@k(base).

Why a simultaneous band. A pointwise 95% interval at each of 256 values of k says nothing about the
claim "other is better at k = 1 *and* the base is better at k = 256": with many k, some pointwise
intervals exclude 0 by chance. The sup-t band covers the whole difference curve at once with
probability ≈ ``level``, so every sign it certifies, at every k, holds jointly.

Method. Per problem i and budget k let d_ik = pass@k_other − pass@k_base (unbiased estimators, paired
on the problem). With mean d̄_k and standard error s_k = sd_k / √P over the P problems, draw resamples
of the centred problem rows (``method="bootstrap"``: the paired bootstrap over problems, multinomial
counts; ``"multiplier"``: Gaussian multipliers, the passk-inference choice) and take for each resample
the studentized maximum T = max_k |d̄*_k − d̄_k| / s_k. With c the ``level`` quantile of T, the band is
d̄_k ± c·s_k for every k. Columns where every problem has the same difference (s_k = 0) get the
known bounds [−1, 1]: a collapsed resampling distribution is no evidence of certainty.

Decisions and the first loss. At k the band certifies "other better" where its lower edge is above 0,
"base better" where its upper edge is below 0, else the sign is open. On the dense grid 1..K the
first k at which the base becomes better lies, jointly with every other statement of the band, in
[L + 1, U]: L is the end of the prefix of k where other is certified better (the base cannot be better
there), U the first k where the base is certified better (``None``: no finite upper end was
established). The crossing is certified when some certified gain precedes some certified loss.

Own code or passk-inference (PyPI 0.3.1, arXiv 2609.22547)? The procedure is the paper's and the test
suite checks that this module reproduces the library exactly with ``method="multiplier"`` and the same
seed, and within Monte Carlo error with the paired bootstrap. We own the code because (1) the
library computes pass@k with a Python loop per problem per k, minutes for 10,000 problems × 1,024
budgets, where the recurrence here takes a fraction of a second; (2) it re-draws the problem
resampling independently of the project's paired bootstrap (``bootstrap.py``), which the rest of the
study uses; (3) it adds numpy<3/scipy<2 upper pins and a report stack we do not need. The library is
a test-only dependency (the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from analysis.metrics.bootstrap import bootstrap_weights, check_ci, check_resamples, class_weights, distinct_rows
from analysis.metrics.paired import _pair_ks, paired_groups
from analysis.metrics.passk import survival_matrix
from analysis.metrics.validate import PAIR_BY, as_by, check_counts, check_single_group

Method = Literal["bootstrap", "multiplier"]
DEFAULT_BAND_RESAMPLES = 2000
_SE_FLOOR = 1e-12  # passk-inference's floor: a column with a smaller standard error is degenerate
_BATCH = 128  # resamples per batch; also the multiplier draw order of passk-inference


@dataclass(frozen=True)
class BandCore:
    """The band on a k grid, from aligned per-problem differences (arrays over ``ks``)."""

    ks: np.ndarray
    diff: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    critical: float
    maxima: np.ndarray  # the resampled studentized maxima (for Monte Carlo error estimates)


def band_from_rows(
    rows: np.ndarray,
    ks: np.ndarray,
    *,
    inverse: np.ndarray | None = None,
    level: float = 0.95,
    n_resamples: int = DEFAULT_BAND_RESAMPLES,
    seed: int = 0,
    method: Method = "bootstrap",
) -> BandCore:
    """The sup-t band from a (rows x ks) matrix of per-problem differences d_ik.

    With ``inverse``, ``rows`` are the distinct rows and problem i has row ``inverse[i]`` (each distinct
    row is computed once; the resampling still draws per problem, in problem order, so the result does
    not depend on how problems were grouped). Without it, row i is problem i.
    """
    rows = np.asarray(rows, dtype=np.float64)
    inverse = np.arange(rows.shape[0]) if inverse is None else np.asarray(inverse, dtype=np.int64)
    size = inverse.size
    if size < 2:
        msg = f"a band needs at least 2 problems, got {size}"
        raise ValueError(msg)
    level = check_ci(level) or 0.95
    n_resamples = check_resamples(n_resamples)
    if method not in ("bootstrap", "multiplier"):
        msg = f"method must be 'bootstrap' or 'multiplier', got {method!r}"
        raise ValueError(msg)
    grouped = inverse.size != rows.shape[0] or not np.array_equal(inverse, np.arange(size))
    if grouped and 2 * rows.shape[0] > size:  # few repeats: one row per problem beats aggregating the draws
        rows, inverse, grouped = rows[inverse], np.arange(size), False
    w = np.bincount(inverse, minlength=rows.shape[0]).astype(np.float64)
    mean = (w @ rows) / size
    centred = rows - mean
    se = np.sqrt((w @ (centred * centred)) / (size - 1)) / np.sqrt(size)
    scale = np.maximum(se, _SE_FLOOR) * size
    rng = np.random.default_rng(seed)
    maxima = np.empty(n_resamples)
    for start in range(0, n_resamples, _BATCH):
        stop = min(start + _BATCH, n_resamples)
        if method == "multiplier":
            draws = rng.standard_normal((stop - start, size))
        else:
            draws = bootstrap_weights(size, stop - start, rng).astype(np.float64)
        if grouped:
            draws = class_weights(draws, inverse, rows.shape[0])
        # bootstrap: sum_i w_i (d_i - mean) = P (mean* - mean); multiplier: sum_i e_i (d_i - mean)
        moved = draws @ centred
        maxima[start:stop] = np.max(np.abs(moved) / scale, axis=1)
    critical = float(np.quantile(maxima, level))
    lo = mean - critical * se
    hi = mean + critical * se
    degenerate = se < _SE_FLOOR
    lo[degenerate] = -1.0
    hi[degenerate] = 1.0
    return BandCore(np.asarray(ks, dtype=np.int64), mean, se, lo, hi, critical, maxima)


def quantile_mc_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """A 95% Monte Carlo interval for the ``level`` quantile of ``draws`` (binomial order statistics).

    The number of draws below the true quantile is Binomial(B, level); the order statistics at
    B·level ± 1.96·sqrt(B·level·(1 − level)) bracket it. Tells how much the critical value, and so
    every band edge, would move with another seed.
    """
    x = np.sort(np.asarray(draws, dtype=np.float64))
    b = x.size
    half = 1.96 * np.sqrt(b * level * (1.0 - level))
    lo = int(np.clip(np.floor(b * level - half), 0, b - 1))
    hi = int(np.clip(np.ceil(b * level + half), 0, b - 1))
    return float(x[lo]), float(x[hi])


@dataclass(frozen=True)
class Certified:
    """What the band certifies on its grid (see the module docstring)."""

    gains: list[int]  # k where other is certified better
    losses: list[int]  # k where the base is certified better
    crossing: bool
    first_loss: tuple[int, int | None] | None  # None on a sparse grid (no integer interval)


def certify(ks: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Certified:
    """Certified gains, losses, crossing and first-loss interval from band edges on ``ks``."""
    ks = np.asarray(ks, dtype=np.int64)
    gains = ks[lo > 0]
    losses = ks[hi < 0]
    crossing = bool(gains.size and losses.size and gains.min() < losses.max())
    prefix = 0
    for k, low in zip(ks.tolist(), lo.tolist(), strict=True):
        if low <= 0:
            break
        prefix = k
    dense = bool(np.array_equal(ks, np.arange(1, ks.size + 1)))
    first = (prefix + 1, int(losses[0]) if losses.size else None) if dense else None
    return Certified(gains.tolist(), losses.tolist(), crossing, first)


def ranges_text(ks: list[int]) -> str:
    """'1–4, 9, 16–32' for a sorted list of integers."""
    if not ks:
        return "none"
    parts, start, prev = [], ks[0], ks[0]
    for k in [*ks[1:], None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        parts.append(f"{start}" if start == prev else f"{start}–{prev}")
        if k is not None:
            start = prev = k
    return ", ".join(parts)


@dataclass(frozen=True)
class Band:
    """The simultaneous band of pass@k(other) − pass@k(base) for one benchmark (one group)."""

    other: str
    base: str
    key: dict
    table: pl.DataFrame  # k, pass_at_k_other, pass_at_k_base, diff, se, lo, hi, decision
    level: float
    critical: float
    critical_mc: tuple[float, float]  # 95% Monte Carlo interval of ``critical`` (order statistics)
    n_problems: int
    n_resamples: int
    method: str
    certified: Certified

    @property
    def first_loss(self) -> tuple[int, int | None] | None:
        return self.certified.first_loss

    def reading(self) -> str:
        """One sentence in plain words, generated from the numbers."""
        c, lvl = self.certified, f"{self.level:.0%}"
        k_max = int(self.table["k"].max())
        if c.first_loss is None:
            where = ""
        elif c.first_loss[1] is None:
            where = f"; if the base ever becomes better, that happens after k = {c.first_loss[0] - 1}"
        else:
            where = f"; the first loss lies in [{c.first_loss[0]}, {c.first_loss[1]}]"
        if c.crossing:
            return (
                f"The crossover survives the simultaneous {lvl} band: {self.other} is better at k in "
                f"{ranges_text(c.gains)} and the base at k in {ranges_text(c.losses)}{where}."
            )
        if c.losses:
            return (
                f"The base ({self.base}) is certified better at k in {ranges_text(c.losses)}, and {self.other} is "
                f"certified better at no smaller k (simultaneous {lvl} band, k up to {k_max}){where}."
            )
        if c.gains:
            return (
                f"No crossover is certified: {self.other} is better at k in {ranges_text(c.gains)} and the base is "
                f"certified better at no k up to {k_max} (simultaneous {lvl} band){where}."
            )
        return f"The simultaneous {lvl} band certifies no sign at any k up to {k_max}: the data cannot tell."


def simultaneous_band(
    counts: pl.DataFrame | pl.LazyFrame,
    other: str,
    base: str,
    ks: Sequence[int] | np.ndarray | None = None,
    *,
    by: str | Sequence[str] = PAIR_BY,
    level: float = 0.95,
    n_resamples: int = DEFAULT_BAND_RESAMPLES,
    seed: int = 0,
    method: Method = "bootstrap",
) -> Band:
    """The sup-t band of pass@k(other) − pass@k(base) over ``ks`` (default every k from 1 to min n).

    ``counts`` must hold one group of ``by``. Problems are paired by ``problem_id`` (sorted), each
    distinct (n, c) pair computed once; problems may have different n.
    """
    by = as_by(by)
    counts = check_counts(counts, ("model", *by))
    check_single_group(counts, by, "simultaneous_band")
    (group,) = list(paired_groups(counts, other, base, by))
    k_arr = _pair_ks(ks, group, other, base)
    (n_o, c_o, n_b, c_b), inverse, mult = distinct_rows(group.n_a, group.c_a, group.n_b, group.c_b)
    k_max, cols = int(k_arr[-1]), k_arr - 1
    q_o = survival_matrix(n_o, c_o, k_max)[:, cols]
    q_b = survival_matrix(n_b, c_b, k_max)[:, cols]
    rows = q_b - q_o  # pass@k_other − pass@k_base without cancellation
    core = band_from_rows(rows, k_arr, inverse=inverse, level=level, n_resamples=n_resamples, seed=seed, method=method)
    size = int(mult.sum())
    w = mult.astype(np.float64)
    decision = np.where(core.lo > 0, "other better", np.where(core.hi < 0, "base better", "open"))
    table = pl.DataFrame(
        {
            "k": k_arr,
            "pass_at_k_other": 1.0 - (w @ q_o) / size,
            "pass_at_k_base": 1.0 - (w @ q_b) / size,
            "diff": core.diff,
            "se": core.se,
            "lo": core.lo,
            "hi": core.hi,
            "decision": decision,
        }
    )
    return Band(
        other=other,
        base=base,
        key=group.key,
        table=table,
        level=float(level),
        critical=core.critical,
        critical_mc=quantile_mc_interval(core.maxima, level),
        n_problems=size,
        n_resamples=n_resamples,
        method=method,
        certified=certify(k_arr, core.lo, core.hi),
    )
