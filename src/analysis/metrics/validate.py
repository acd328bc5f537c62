"""Checks on the inputs of every metric: counts tables, integer arrays, group columns.

Every public function of ``analysis.metrics`` that takes a counts table passes it through
:func:`check_counts` first, so a bad table fails with a ``ValueError`` that names the bad value and
the problem it belongs to, never with a wrong number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import polars as pl

DEFAULT_BY: tuple[str, ...] = ("model", "benchmark")
"""The default group columns of curves, histograms and cover@τ: one curve per model and benchmark."""

PAIR_BY: tuple[str, ...] = ("benchmark",)
"""The default group columns of two-model comparisons (the model column tells the two apart)."""


def as_by(by: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise a group-columns argument to a tuple of column names."""
    cols = (by,) if isinstance(by, str) else tuple(by)
    if len(set(cols)) != len(cols):
        msg = f"group columns repeat a name: {list(cols)}"
        raise ValueError(msg)
    for name in cols:
        if not isinstance(name, str):
            msg = f"group columns must be column names, got {name!r}"
            raise TypeError(msg)
        if name in ("problem_id", "n", "c"):
            msg = f"{name!r} cannot be a group column (it is a per-problem column of the counts table)"
            raise ValueError(msg)
    return cols


def _where(row: dict[str, Any], by: Sequence[str]) -> str:
    """'problem 'p7' (model='base', benchmark='math500')' for error messages."""
    ctx = ", ".join(f"{b}={row[b]!r}" for b in by if b in row)
    return f"problem {row.get('problem_id')!r}" + (f" ({ctx})" if ctx else "")


def check_counts(
    counts: pl.DataFrame | pl.LazyFrame,
    by: str | Sequence[str] = DEFAULT_BY,
    *,
    single_n: bool = False,
    what: str = "counts table",
) -> pl.DataFrame:
    """Validate a counts table (one row per group x problem with integer ``n`` and ``c``) and return it.

    Raises ``ValueError`` for: a missing column (the group columns, ``problem_id``, ``n``, ``c``), a
    non-integer ``n`` or ``c``, a null, ``n < 1``, ``c < 0``, ``c > n``, a problem listed twice in one
    group, and, with ``single_n=True``, more than one value of ``n`` in the whole table. The message names
    the offending value and problem. A ``LazyFrame`` is collected.
    """
    by = as_by(by)
    if isinstance(counts, pl.LazyFrame):
        counts = counts.collect()
    if not isinstance(counts, pl.DataFrame):
        msg = f"{what} must be a polars DataFrame or LazyFrame, got {type(counts).__name__}"
        raise TypeError(msg)
    need = [*by, "problem_id", "n", "c"]
    missing = [col for col in need if col not in counts.columns]
    if missing:
        msg = f"{what} is missing column(s) {missing} (it has {counts.columns})"
        raise ValueError(msg)
    for col in ("n", "c"):
        dtype = counts.schema[col]
        if not dtype.is_integer():
            msg = f"{what}: column {col!r} has type {dtype}; counts must be integers"
            raise ValueError(msg)
    if counts.height == 0:
        msg = f"{what} is empty"
        raise ValueError(msg)
    for col in need:
        nulls = counts.filter(pl.col(col).is_null())
        if nulls.height:
            first = _where(nulls.row(0, named=True), by)
            msg = f"{what}: column {col!r} is null for {nulls.height} row(s), first at {first}"
            raise ValueError(msg)
    for cond, text in (
        (pl.col("n") < 1, "n = {n} < 1 for {where}"),
        (pl.col("c") < 0, "c = {c} is negative for {where}"),
        (pl.col("c") > pl.col("n"), "c = {c} exceeds n = {n} for {where}"),
    ):
        bad = counts.filter(cond)
        if bad.height:
            row = bad.row(0, named=True)
            more = f" (and {bad.height - 1} more row(s))" if bad.height > 1 else ""
            raise ValueError(f"{what}: " + text.format(n=row["n"], c=row["c"], where=_where(row, by)) + more)
    dup = counts.group_by([*by, "problem_id"]).len().filter(pl.col("len") > 1)
    if dup.height:
        row = dup.row(0, named=True)
        msg = (
            f"{what}: {_where(row, by)} appears {row['len']} times in one group; group by the column that tells "
            "the rows apart (e.g. by=(..., 'grader')) or aggregate them first"
        )
        raise ValueError(msg)
    if single_n:
        ns = counts.get_column("n").unique().sort()
        if ns.len() > 1:
            common = counts.get_column("n").mode().sort()[-1]
            odd = counts.filter(pl.col("n") != common).row(0, named=True)
            msg = (
                f"{what}: mixed n where a single n is required: {_where(odd, by)} has n = {odd['n']}, "
                f"most rows have n = {common} (values seen: {ns.to_list()[:10]})"
            )
            raise ValueError(msg)
    return counts


def check_single_group(counts: pl.DataFrame, by: Sequence[str], what: str) -> dict[str, Any]:
    """The one value of each column in ``by``; ``ValueError`` listing them when there are several."""
    key: dict[str, Any] = {}
    for col in by:
        values = counts.get_column(col).unique(maintain_order=True).to_list()
        if len(values) != 1:
            msg = (
                f"{what} compares models within one {col}; the counts hold {len(values)} values of {col!r} "
                f"({values[:10]}): filter the table first, e.g. counts.filter(pl.col({col!r}) == {values[0]!r})"
            )
            raise ValueError(msg)
        key[col] = values[0]
    return key


def iter_groups(counts: pl.DataFrame, by: Sequence[str]) -> Iterator[tuple[dict[str, Any], pl.DataFrame]]:
    """Yield (group key, that group's rows sorted by problem_id), groups in sorted key order."""
    by = list(by)
    frame = counts.sort([*by, "problem_id"])
    if not by:
        yield {}, frame
        return
    for key, part in frame.partition_by(by, as_dict=True, maintain_order=True).items():
        yield dict(zip(by, key, strict=True)), part


def model_rows(counts: pl.DataFrame, model: str, role: str) -> pl.DataFrame:
    """The rows of ``model``; ``ValueError`` naming the models present when it is absent."""
    rows = counts.filter(pl.col("model") == model)
    if rows.height == 0:
        have = counts.get_column("model").unique().sort().to_list()
        msg = f"model {model!r} (given as {role}) is not in the counts table; models present: {have}"
        raise ValueError(msg)
    return rows


def as_int_array(values: Any, name: str) -> np.ndarray:
    """``values`` as an int64 array; ``ValueError`` naming the first non-integer value.

    Integer arrays and Python ints pass; floats pass only when every value is a whole number (so a
    column read as float by accident still works); booleans, NaN, infinities and fractions raise.
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_:
        msg = f"{name} must be integers, got booleans"
        raise ValueError(msg)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            first = arr[bad].flat[0].item()
            msg = f"{name} must be integers, got {first!r}" + _at(bad)
            raise ValueError(msg)
        if np.abs(arr).max(initial=0) > 2**53:
            msg = f"{name} is too large to be an exact integer in floating point"
            raise ValueError(msg)
        return arr.astype(np.int64)
    if arr.dtype == object:
        try:
            out = np.array([_as_int(v, name) for v in arr.flat], dtype=np.int64).reshape(arr.shape)
        except OverflowError:
            msg = f"{name} does not fit in 64-bit integers"
            raise ValueError(msg) from None
        return out
    msg = f"{name} must be integers, got an array of {arr.dtype}"
    raise ValueError(msg)


def _as_int(v: Any, name: str) -> int:
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return int(v)
        msg = f"{name} must be integers, got {v!r}"
        raise ValueError(msg)
    return int(v)


def _at(mask: np.ndarray) -> str:
    if mask.ndim == 0:
        return ""
    idx = tuple(int(i[0]) for i in np.nonzero(mask))
    return f" at index {idx[0] if len(idx) == 1 else idx}"
