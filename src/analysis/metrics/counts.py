"""Per-problem counts (n samples, c correct) from the grades table, read lazily from parquet.

Only the columns the counts need are read (``model``, ``benchmark``, ``problem_id``, ``correct``, plus
``grader``/``sample_index`` for the checks and any extra group columns), and the aggregation runs on
polars' streaming engine, so tens of millions of sample rows aggregate in bounded memory and text
columns never leave the disk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from analysis import schemas

KEYS: tuple[str, ...] = ("model", "benchmark", "problem_id")

GradesSource = pl.DataFrame | pl.LazyFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
"""A grades table: a frame, or parquet files as a path, a glob, a folder, or a list of paths."""


def scan_grades(source: GradesSource) -> pl.LazyFrame:
    """A LazyFrame over ``source`` (frames pass through; paths, globs and lists go to ``scan_parquet``)."""
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            return pl.scan_parquet(path / "**" / "*.parquet")
        if not path.exists() and not any(ch in str(path) for ch in "*?["):
            msg = f"grades file not found: {path}"
            raise FileNotFoundError(msg)
        return pl.scan_parquet(path)
    paths = [Path(p) for p in source]
    if not paths:
        msg = "no grades files given (an empty list)"
        raise ValueError(msg)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        msg = f"grades file(s) not found: {missing[:5]}"
        raise FileNotFoundError(msg)
    return pl.scan_parquet(paths)


def counts_from_grades(
    source: GradesSource,
    *,
    by: Sequence[str] = (),
    grader: str | None = None,
    check_duplicates: bool = True,
) -> pl.DataFrame:
    """Aggregate a grades table (one row per graded sample) into the counts table.

    Groups by ``model``, ``benchmark``, ``problem_id`` and the extra columns ``by`` (e.g. ``("grader",)``
    or ``("run_hash",)``); ``n`` is the number of samples, ``c`` the number with ``correct`` true.
    ``grader`` keeps only that grader's rows. Raises ``ValueError`` when a needed column is missing,
    ``correct`` is null or not boolean, the rows mix several graders without ``grader`` being chosen (or
    ``grader`` in ``by``), the chosen grader has no rows, or (``check_duplicates``) the sample_index values
    of a group certainly repeat (samples counted twice would inflate n; see :func:`_surely_repeated` for
    what this cheap check sees).

    Returns the ``counts`` table (``model, benchmark, problem_id, n, c``, then the ``by`` columns), sorted by
    its keys.
    """
    by = tuple(by)
    keys = [*KEYS, *(col for col in by if col not in KEYS)]
    lf = scan_grades(source)
    have = lf.collect_schema()
    needed = [*keys, "correct"] + (["grader"] if grader is not None else [])
    missing = [col for col in needed if col not in have]
    if missing:
        msg = f"grades table is missing column(s) {missing} (it has {list(have)})"
        raise ValueError(msg)
    if have["correct"] not in (pl.Boolean, pl.Null):
        msg = f"grades column 'correct' has type {have['correct']}, expected {schemas.GRADES['correct']}"
        raise ValueError(msg)
    if grader is not None:
        lf = lf.filter(pl.col("grader") == grader)
    aggs = [pl.len().alias("n"), pl.col("correct").sum().alias("c"), pl.col("correct").null_count().alias("_null")]
    # Several graders without a choice: group by grader too (cheaper than a per-group distinct count), then refuse.
    watch_grader = grader is None and "grader" in have and "grader" not in keys
    group_keys = [*keys, "grader"] if watch_grader else keys
    watch_dups = check_duplicates and "sample_index" in have
    if watch_dups:
        # Power sums instead of a per-group n_unique, which needs a hash set per problem (GBs at 50M rows).
        index = pl.col("sample_index").cast(pl.Int64)
        aggs += [
            index.min().alias("_min"),
            index.max().alias("_max"),
            index.sum().alias("_sum"),
            (index * index).sum().alias("_sumsq"),
        ]
    out = lf.group_by(group_keys).agg(aggs).collect(engine="streaming")
    if out.height == 0:
        what = f" for grader {grader!r}" if grader is not None else ""
        msg = f"grades table has no rows{what}"
        raise ValueError(msg)
    _check_aggregate(out, keys, watch_grader, watch_dups)
    out = out.with_columns(pl.col("n").cast(pl.Int64), pl.col("c").cast(pl.Int64)).sort(keys)
    return schemas.conform(out.select(*keys, "n", "c"), "counts")


def _where(row: dict, keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={row[k]!r}" for k in keys)


def _check_aggregate(out: pl.DataFrame, keys: Sequence[str], watch_grader: bool, watch_dups: bool) -> None:
    bad = out.filter(pl.col("_null") > 0)
    if bad.height:
        row = bad.row(0, named=True)
        msg = (
            f"grades: 'correct' is null for {row['_null']} sample(s) of {_where(row, keys)} "
            f"({bad.height} problem(s) affected); grade them or drop them before counting"
        )
        raise ValueError(msg)
    if watch_grader:
        graders = out.get_column("grader").unique().sort(nulls_last=True).to_list()
        if len(graders) > 1:
            msg = (
                f"grades mix several graders ({graders}); choose one with grader=... "
                "or keep them apart with by=('grader',)"
            )
            raise ValueError(msg)
    if watch_dups:
        dup = out.filter(_surely_repeated())
        if dup.height:
            row = dup.row(0, named=True)
            msg = (
                f"grades: {_where(row, keys)} has {row['n']} rows but its sample_index values (from {row['_min']} "
                f"to {row['_max']}) repeat ({dup.height} problem(s) affected): samples counted twice; add the column "
                "that tells them apart (e.g. run_hash) to by=..."
            )
            raise ValueError(msg)


def _surely_repeated() -> pl.Expr:
    """True for groups whose sample_index values certainly repeat, judged from count, min, max and power sums.

    More rows than integers in [min, max] must repeat (pigeonhole). With exactly as many rows as integers
    in [min, max], distinct values are the whole range, so a sum or sum of squares that differs from the
    range's proves a repeat. A repeat hidden by a gap elsewhere (fewer rows than the range) is not seen;
    the usual ways samples get counted twice (a file read twice, two runs with the same indices) are.
    """
    n = pl.col("n").cast(pl.Int64)
    lo, hi = pl.col("_min"), pl.col("_max")
    span = hi - lo + 1
    # sums over lo..hi: S1 = S(hi) - S(lo - 1) with S(x) = x(x+1)/2, and S2(x) = x(x+1)(2x+1)/6
    s1 = (hi * (hi + 1) - (lo - 1) * lo) // 2
    s2 = (hi * (hi + 1) * (2 * hi + 1) - (lo - 1) * lo * (2 * lo - 1)) // 6
    full = n == span
    return (n > span) | (full & ((pl.col("_sum") != s1) | (pl.col("_sumsq") != s2)))
