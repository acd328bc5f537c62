"""Helpers shared by the page modules: grouping a counts table and listing a study's pairs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from analysis.study import Study

GROUP = ("benchmark", "temperature")


def groups(counts: pl.DataFrame) -> Iterator[tuple[dict[str, Any], pl.DataFrame]]:
    """(group key, counts of that group) per benchmark x temperature, in a stable order."""
    for key, frame in counts.group_by(list(GROUP), maintain_order=True):
        yield dict(zip(GROUP, key, strict=True)), frame


def shown_models(study: Study, counts: pl.DataFrame, models: list[str] | None) -> pl.DataFrame:
    """``counts`` restricted to ``models`` (None: every model); an unknown name is an error."""
    if models is None:
        return counts
    unknown = [m for m in models if m not in study.roles]
    if unknown:
        msg = f"no model {unknown} in study {study.config.name!r} (models: {', '.join(study.roles)})"
        raise ValueError(msg)
    return counts.filter(pl.col("model").is_in(models))


def pairs_in(study: Study, frame: pl.DataFrame) -> list[tuple[str, str]]:
    """The study's (base, other) pairs whose two models are both in ``frame``."""
    present = set(frame["model"].unique().to_list())
    return [(b, o) for b, o in study.config.pairs() if b in present and o in present]


def powers_of_two(n: int) -> list[int]:
    """1, 2, 4, … up to n, and n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def label(key: dict[str, Any]) -> str:
    return f"{key['benchmark']} at T = {key['temperature']:g}"


def upper_bound_note(study: Study) -> str | None:
    """A sentence for every page that shows results of a benchmark graded on public tests only."""
    names = study.upper_bound_benchmarks()
    if not names:
        return None
    listed = ", ".join(f"`{n}`" for n in names)
    return (
        f"**Upper bound:** {listed} {'is' if len(names) == 1 else 'are'} graded on public tests only (the hidden "
        "tests are not available here), so a program counts as correct when it passes those; its pass@k, "
        "coverage and accuracy figures below are upper bounds."
    )
