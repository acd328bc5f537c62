"""How generations end: on the end-of-sequence token, on a stop string, or at the length limit.

The share of each matters for reading pass@k. Samples cut at the length limit are graded as
they are (usually wrong); samples cut at a stop string may be cut mid-reasoning: the qwen-boxed
template's stop strings include ``user`` and ``assistant`` (PAPER.md 6.4), so an R1-style model
whose reasoning mentions "the user" is stopped there.

The samples table's ``finish_reason`` says "stop" or "length"; the ``ended_by`` column that runs
write (``analysis.sampling``) splits "stop" into

* ``eos``: an end-of-sequence token or a stop token id (``<|im_end|>``, ``<|endoftext|>`` and
  other stop strings that are single special tokens end a sample as token ids);
* ``stop_string``: a textual stop string of the template (which one: ``stop_string``).

Where a backend did not report which (``ended_by`` null, or a table without the column, e.g.
runs written before it existed), a "stop" sample counts as ``stop_unattributed``.
"""

from __future__ import annotations

import polars as pl

ENDINGS = ("eos", "stop_string", "length", "stop_unattributed")
_KEYS = ("model", "benchmark")


def _ending(columns: list[str]) -> pl.Expr:
    reported = pl.col("ended_by") if "ended_by" in columns else pl.lit(None, dtype=pl.String)
    return (
        pl.when(pl.col("finish_reason") == "length")
        .then(pl.lit("length"))
        .when(reported.is_in(["eos", "stop_string"]))
        .then(reported)
        .otherwise(pl.lit("stop_unattributed"))
        .alias("ending")
    )


def finish_shares(samples: pl.DataFrame | pl.LazyFrame, by: tuple[str, ...] = _KEYS) -> pl.DataFrame:
    """Per ``by`` group (default model and benchmark): how many samples, and the share of each ending.

    Columns: ``by``, ``samples``, ``eos``, ``stop_string``, ``length``, ``stop_unattributed``
    (shares, summing to 1), and ``top_stop_string`` (the stop string that ended most
    ``stop_string`` samples, with its count, e.g. ``'user' x 37``; null if none). Sorted by ``by``.
    """
    lf = samples.lazy()
    columns = lf.collect_schema().names()
    missing = [c for c in (*by, "finish_reason") if c not in columns]
    if missing:
        msg = f"finish_shares needs the samples table's columns {missing}"
        raise ValueError(msg)
    keyed = lf.with_columns(_ending(columns))
    counts = keyed.group_by(*by).agg(
        pl.len().alias("samples"), *[(pl.col("ending") == e).mean().alias(e) for e in ENDINGS]
    )
    if "stop_string" in columns:
        top = (
            keyed.filter((pl.col("ending") == "stop_string") & pl.col("stop_string").is_not_null())
            .group_by(*by, "stop_string")
            .agg(pl.len().alias("n"))
            .sort([*by, "n", "stop_string"], descending=[False] * len(by) + [True, False])
            .group_by(*by, maintain_order=True)
            .first()
            .select(*by, pl.format("'{}' x {}", "stop_string", "n").alias("top"))
        )
        counts = counts.join(top, on=list(by), how="left").rename({"top": "top_stop_string"})
    else:
        counts = counts.with_columns(pl.lit(None, dtype=pl.String).alias("top_stop_string"))
    return counts.sort(list(by)).collect().with_columns(pl.col("samples").cast(pl.Int64))
