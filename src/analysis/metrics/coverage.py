"""Coverage: which problems each model solves, the two-model four-way split, and an UpSet table.

"Solved" has two readings:

* at n (``k=None``, the paper's Table 2 / Table 4): solved when at least one of the n samples is
  correct (c > 0). Comparing models this way is only fair when every compared problem has the same n
  for every model, so mixed n is an error there (pass ``k`` to compare at a common budget);
* at a chosen k: solved when the problem's pass@k is at least ``threshold`` (default 0.5), i.e. a random
  k-subset of its samples holds a correct answer at least half the time. At k = n every threshold in
  (0, 1] reduces to "solved at n", because pass@n is 1 when c > 0 and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.metrics.paired import paired_groups
from analysis.metrics.passk import pass_at_k
from analysis.metrics.validate import PAIR_BY, as_by, check_counts, check_single_group

DEFAULT_THRESHOLD = 0.5
"""Solved at k means pass@k >= this."""


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 < threshold <= 1.0:
        msg = f"threshold must be in (0, 1], got {threshold!r}"
        raise ValueError(msg)
    return float(threshold)


def solved_mask(
    problem_ids: Sequence[str], n: np.ndarray, c: np.ndarray, k: int | None, threshold: float, model: str
) -> np.ndarray:
    """Boolean per problem: solved at n (``k`` None, c > 0) or at k (pass@k >= ``threshold``)."""
    if k is None:
        return c > 0
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k must be a positive integer or None (solved at n), got {k!r}"
        raise ValueError(msg)
    short = np.flatnonzero(n < k)
    if short.size:
        i = int(short[0])
        msg = f"k = {k} exceeds the samples of model {model!r} on problem {problem_ids[i]!r} (n = {int(n[i])})"
        raise ValueError(msg)
    return np.asarray(pass_at_k(n, c, int(k))) >= threshold


def _require_single_n(ids: Sequence[str], n_by_model: dict[str, np.ndarray]) -> None:
    values = np.concatenate(list(n_by_model.values()))
    common = int(np.bincount(values).argmax())
    for model, n in n_by_model.items():
        odd = np.flatnonzero(n != common)
        if odd.size:
            i = int(odd[0])
            msg = (
                f"coverage at n needs a single n (mixed n where a single n is required): model {model!r} has "
                f"n = {int(n[i])} on problem {ids[i]!r}, while n = {common} elsewhere; pass k=... to compare "
                "at a common budget"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class CoverageSplit:
    """The four-way split of the problems two models share (problem ids sorted as strings)."""

    a: str
    b: str
    k: int | None  # None: solved at n (c > 0)
    threshold: float | None  # pass@k threshold when k is given
    both: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    neither: tuple[str, ...]
    unshared: tuple[str, ...]  # problems only one of the two models has, left out of the split

    @property
    def n_problems(self) -> int:
        return len(self.both) + len(self.only_a) + len(self.only_b) + len(self.neither)

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("both", "only_a", "only_b", "neither")}

    def to_frame(self) -> pl.DataFrame:
        """One row per category: ``category``, ``count``, ``percent`` (of the shared problems), ``problem_ids``."""
        names = ("both", "only_a", "only_b", "neither")
        return pl.DataFrame(
            {
                "category": list(names),
                "count": [len(getattr(self, n)) for n in names],
                "percent": [100.0 * len(getattr(self, n)) / self.n_problems for n in names],
                "problem_ids": [list(getattr(self, n)) for n in names],
            },
            schema={"category": pl.String, "count": pl.Int64, "percent": pl.Float64, "problem_ids": pl.List(pl.String)},
        )


def coverage_split(
    counts: pl.DataFrame | pl.LazyFrame,
    a: str,
    b: str,
    *,
    k: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    by: str | Sequence[str] = PAIR_BY,
) -> CoverageSplit:
    """Split the problems models ``a`` and ``b`` share into solved by both / only a / only b / neither.

    ``counts`` must hold one group of ``by`` (one benchmark). See the module docstring for "solved" at n
    (``k=None``) and at k (pass@k >= ``threshold``).
    """
    by = as_by(by)
    threshold = _check_threshold(threshold)
    counts = check_counts(counts, ("model", *by))
    check_single_group(counts, by, "coverage_split")
    (group,) = list(paired_groups(counts, a, b, by))
    ids = group.problem_ids
    if k is None:
        _require_single_n(ids, {a: group.n_a, b: group.n_b})
    solved_a = solved_mask(ids, group.n_a, group.c_a, k, threshold, a)
    solved_b = solved_mask(ids, group.n_b, group.c_b, k, threshold, b)
    all_a = set(counts.filter(pl.col("model") == a).get_column("problem_id").to_list())
    all_b = set(counts.filter(pl.col("model") == b).get_column("problem_id").to_list())
    pick = np.asarray(ids, dtype=object)
    return CoverageSplit(
        a=a,
        b=b,
        k=None if k is None else int(k),
        threshold=None if k is None else threshold,
        both=tuple(pick[solved_a & solved_b]),
        only_a=tuple(pick[solved_a & ~solved_b]),
        only_b=tuple(pick[~solved_a & solved_b]),
        neither=tuple(pick[~solved_a & ~solved_b]),
        unshared=tuple(sorted(all_a ^ all_b)),
    )


def upset_table(
    counts: pl.DataFrame | pl.LazyFrame,
    models: Sequence[str] | None = None,
    *,
    k: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    by: str | Sequence[str] = PAIR_BY,
) -> pl.DataFrame:
    """UpSet-style table for any number of models: one row per combination of solving models that occurs.

    Each problem that every model in ``models`` (default: all models in ``counts``, sorted) has is
    assigned to exactly one row, the set of models that solve it (an empty set: solved by none). Columns:
    ``models`` (list, in the order given), ``degree`` (how many), ``count``, ``problem_ids`` (sorted);
    rows ordered by count, then degree, descending. Problems missing for some model are left out.
    """
    by = as_by(by)
    threshold = _check_threshold(threshold)
    counts = check_counts(counts, ("model", *by))
    check_single_group(counts, by, "upset_table")
    present = counts.get_column("model").unique().sort().to_list()
    chosen = list(present if models is None else models)
    if not chosen:
        msg = "upset_table needs at least one model"
        raise ValueError(msg)
    if len(set(chosen)) != len(chosen):
        msg = f"models repeat a name: {chosen}"
        raise ValueError(msg)
    missing = [m for m in chosen if m not in present]
    if missing:
        msg = f"model(s) {missing} are not in the counts table; models present: {present}"
        raise ValueError(msg)
    per_model = [
        counts.filter(pl.col("model") == model).select(
            "problem_id", pl.col("n").alias(f"n{i}"), pl.col("c").alias(f"c{i}")
        )
        for i, model in enumerate(chosen)
    ]
    wide = per_model[0]
    for rows in per_model[1:]:
        wide = wide.join(rows, on="problem_id", how="inner")
    if wide.height == 0:
        msg = f"models {chosen} share no problem"
        raise ValueError(msg)
    wide = wide.sort("problem_id")
    ids = wide.get_column("problem_id").to_list()
    n_by_model = {m: wide.get_column(f"n{i}").to_numpy().astype(np.int64) for i, m in enumerate(chosen)}
    if k is None:
        _require_single_n(ids, n_by_model)
    flags = {}
    for i, model in enumerate(chosen):
        c = wide.get_column(f"c{i}").to_numpy().astype(np.int64)
        flags[f"s{i}"] = solved_mask(ids, n_by_model[model], c, k, threshold, model)
    solved = pl.DataFrame({"problem_id": ids, **flags})
    flag_cols = list(flags)
    return (
        solved.group_by(flag_cols)
        .agg(pl.len().alias("count"), pl.col("problem_id").sort().alias("problem_ids"))
        .with_columns(
            pl.concat_list([pl.when(pl.col(f)).then(pl.lit(m)) for f, m in zip(flag_cols, chosen, strict=True)])
            .list.drop_nulls()
            .alias("models"),
            pl.sum_horizontal(flag_cols).cast(pl.Int64).alias("degree"),
        )
        .with_columns(pl.col("models").list.join("\x1f").alias("_order"))
        .sort(["count", "degree", "_order"], descending=[True, True, False])
        .select("models", "degree", pl.col("count").cast(pl.Int64), "problem_ids")
    )
