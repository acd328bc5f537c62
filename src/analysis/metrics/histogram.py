"""The paper's accuracy histogram: per-problem accuracy c/n in 12 bins.

Bins (paper section 4.3): exactly 0; (0, 0.1], (0.1, 0.2], ..., (0.8, 0.9]; (0.9, 1) open; exactly 1.
The bin is computed in integer arithmetic, so accuracies on a bin edge (c/n = 0.3 exactly) always land
in the bin the definition says, whatever floating point would do: for 0 < c < n the bin is
ceil(10 c / n), i.e. (j/10, (j+1)/10] holds 10 c in (j n, (j+1) n].
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis.metrics.validate import DEFAULT_BY, as_by, check_counts

ACCURACY_BINS: tuple[str, ...] = (
    "0",
    "(0, 0.1]",
    "(0.1, 0.2]",
    "(0.2, 0.3]",
    "(0.3, 0.4]",
    "(0.4, 0.5]",
    "(0.5, 0.6]",
    "(0.6, 0.7]",
    "(0.7, 0.8]",
    "(0.8, 0.9]",
    "(0.9, 1)",
    "1",
)
"""The 12 bin labels, in order."""


def accuracy_bin_index(n: pl.Expr, c: pl.Expr) -> pl.Expr:
    """Bin index 0..11 of accuracy c/n (see the module docstring)."""
    inner = (10 * c + n - 1) // n  # ceil(10 c / n), in 1..10 when 0 < c < n
    return pl.when(c == 0).then(0).when(c == n).then(11).otherwise(inner)


def accuracy_histogram(counts: pl.DataFrame | pl.LazyFrame, *, by: str | Sequence[str] = DEFAULT_BY) -> pl.DataFrame:
    """Count of problems per accuracy bin, per group: one row per (group, bin), all 12 bins in order.

    Columns: the group columns (default ``model``, ``benchmark``), ``bin`` (its label from
    :data:`ACCURACY_BINS`), ``count`` and ``percent`` (of the group's problems). Problems may have
    different n.
    """
    by = as_by(by)
    counts = check_counts(counts, by)
    bin_index = accuracy_bin_index(pl.col("n").cast(pl.Int64), pl.col("c").cast(pl.Int64))
    binned = counts.select(*by, bin_index.cast(pl.Int64).alias("bin_index"))
    tallies = binned.group_by([*by, "bin_index"]).agg(pl.len().cast(pl.Int64).alias("count"))
    bins = pl.DataFrame({"bin_index": range(len(ACCURACY_BINS)), "bin": list(ACCURACY_BINS)}).with_columns(
        pl.col("bin_index").cast(pl.Int64)
    )
    grid = counts.select(by).unique().join(bins, how="cross") if by else bins
    total = pl.col("count").sum().over(by) if by else pl.col("count").sum()
    return (
        grid.join(tallies, on=[*by, "bin_index"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns((100.0 * pl.col("count") / total).alias("percent"))
        .sort([*by, "bin_index"])
        .select(*by, "bin", "count", "percent")
    )
