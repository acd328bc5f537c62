"""The problems only one model of a pair solves, with both models' correct counts: shown (a few) on
the coverage page, and written in full by the findings stage as a download."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from analysis import metrics as M
from analysis.guess_level import guess_level

# True where the model that solves the problem does so no more often than guessing plausibly gives
# (analysis.guess_level); null where the benchmark has no guessing rate.
GUESS_COLUMN = "at guess level"

GROUP = ("benchmark", "temperature")


def only_one_lists(counts: pl.DataFrame, pairs: Iterable[tuple[str, str]]) -> pl.DataFrame:
    """One row per problem solved (at n) by only one model of a (base, other) pair, per benchmark and
    temperature: ``set`` is ``base only`` or ``other only``; ``base correct``/``other correct`` read c/n;
    :data:`GUESS_COLUMN` says whether the model that solves it is at guess level there."""
    pairs = list(pairs)
    lists = []
    for key_values, frame in counts.group_by(list(GROUP), maintain_order=True):
        key = dict(zip(GROUP, key_values, strict=True))
        present = set(frame["model"].unique().to_list())
        for base, other in pairs:
            if base not in present or other not in present:
                continue
            s = M.coverage_split(frame, base, other, by=GROUP)
            for which, ids in (("base only", s.only_a), ("other only", s.only_b)):
                if ids:
                    lists.append(_problem_list(frame, key, base, other, which, ids))
    return pl.concat(lists) if lists else pl.DataFrame()


def _problem_list(
    frame: pl.DataFrame, key: dict[str, Any], base: str, other: str, which: str, ids: tuple[str, ...]
) -> pl.DataFrame:
    wide = (
        frame.filter(pl.col("problem_id").is_in(list(ids)) & pl.col("model").is_in([base, other]))
        .with_columns((pl.col("c").cast(pl.String) + "/" + pl.col("n").cast(pl.String)).alias("correct"))
        .pivot(on="model", index="problem_id", values="correct")
    )
    solver = frame.filter(pl.col("model") == (base if which == "base only" else other))
    solver = solver.join(wide.select("problem_id"), on="problem_id", how="semi")
    flags = guess_level(
        str(key["benchmark"]), solver["problem_id"].to_list(), solver["n"].to_numpy(), solver["c"].to_numpy()
    )
    guessed = pl.DataFrame(
        {"problem_id": solver["problem_id"], GUESS_COLUMN: None if flags is None else flags.tolist()},
        schema={"problem_id": pl.String, GUESS_COLUMN: pl.Boolean},
    )
    return wide.join(guessed, on="problem_id", how="left").select(
        pl.lit(key["benchmark"]).alias("benchmark"),
        pl.lit(key["temperature"]).alias("temperature"),
        pl.lit(f"{base} vs {other}").alias("pair"),
        pl.lit(which).alias("set"),
        "problem_id",
        pl.col(base).alias("base correct"),
        pl.col(other).alias("other correct"),
        GUESS_COLUMN,
    )
