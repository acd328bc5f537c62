"""The toy world's six RL algorithms (the paper's §4.3 in miniature), from committed tables.

Reads ``data/toyworld/algorithms.csv`` and ``algorithms_curves.csv``
(:mod:`analysis.toyworld.algo_grid`) and shows them beside the paper's v2 Table 2; writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.answer import grader_sentence
from analysis.study import Study

COMMAND = (
    "python -m analysis.toyworld.algo_grid --config configs/toyworld/algorithms.yaml "
    "--table data/toyworld/algorithms.csv"
)
# The paper's v2 Table 2, Omni-MATH-Test (its in-domain test set), in %: pass@1 and pass@256 of
# Qwen2.5-7B and of six RL runs from it (PAPER.md §4.5). ΔSE = base pass@256 − pass@1.
PAPER_SOURCE = "v2 Table 2, Omni-MATH-Test (in-domain), Qwen2.5-7B base (PAPER.md §4.5)"
PAPER_BASE = (10.2, 69.1)
PAPER = {
    "GRPO": (25.1, 68.3),
    "PPO": (26.8, 69.2),
    "ReMax": (23.8, 67.5),
    "RLOO": (28.1, 69.2),
    "Reinforce++": (28.0, 69.7),
    "DAPO": (26.5, 67.0),
}


SMALL_SPREAD = 5.0  # ΔSE points: below this, one seed cannot tell the algorithms apart


@dataclass
class ToyWorldAlgorithmsPage:
    table: pl.DataFrame | None  # miniature beside the paper, one row per algorithm and temperature
    curves: alt.TopLevelMixin | None
    note: Any
    curves_note: Any
    verdict: Any
    stale: list[str]


def paper_table() -> pl.DataFrame:
    """The paper's figures per algorithm (in %), with its ΔSE."""
    rows = [
        {"label": k, "paper_pass@1": p1, "paper_pass@256": pk, "paper_delta_se": round(PAPER_BASE[1] - p1, 1)}
        for k, (p1, pk) in PAPER.items()
    ]
    return pl.DataFrame(rows)


def side_by_side(table: pl.DataFrame) -> pl.DataFrame:
    """The miniature's rows (figures in %) joined with the paper's by algorithm."""
    pct = ("pass@1", "pass_max", "base_pass_max", "delta_se")
    mini = table.select("label", "seed", "temperature", *[(pl.col(c) * 100).round(1).alias(c) for c in pct], "outcome")
    return mini.join(paper_table(), on="label", how="left")


def verdict(table: pl.DataFrame, rl: dict | None = None) -> str:
    """One sentence, computed from the table: does algorithm choice move the boundary?

    It moves the boundary at a temperature when the algorithms' outcomes against the base
    (:func:`analysis.findings.compare_pair`) differ; otherwise only their distance to it does.
    """
    parts, moved = [], False
    for t in sorted(set(table["temperature"].to_list())):
        at = table.filter(pl.col("temperature") == t)
        dse, pmax = at["delta_se"] * 100, at["pass_max"] * 100
        base_max = float(at["base_pass_max"][0]) * 100
        kinds = sorted(set(at["outcome"].to_list()))
        moved |= len(kinds) > 1
        said = (
            f"all {kinds[0]}"
            if len(kinds) == 1
            else "mixed: " + ", ".join(f"{a} {o}" for a, o in at.select("label", "outcome").rows())
        )
        parts.append(
            f"at T = {t:g} pass@k_max {_span(pmax.min(), pmax.max())}% (base {base_max:.1f}%), "
            f"ΔSE {_span(dse.min(), dse.max())} points, outcomes {said}"
        )
    spread = max(float((g["delta_se"].max() - g["delta_se"].min()) * 100) for _, g in table.group_by("temperature"))
    kinds = sorted(set(table["outcome"].to_list()))
    if moved:
        claim = "the outcome against the base depends on the algorithm, so here algorithm choice does move the boundary"
    elif spread <= SMALL_SPREAD:
        claim = (
            f"all {table['label'].n_unique()} algorithms end with the same outcome against the base "
            f"({' / '.join(kinds)}) "
            f"and ΔSE within {spread:.1f} points of each other, so algorithm choice does not move the boundary"
        )
    else:
        claim = (
            f"the algorithms share their outcome against the base but their ΔSE differ by up to {spread:.1f} "
            "points, so algorithm choice moves how close pass@1 gets to the base's ceiling, not the boundary itself"
        )
    graded = grader_sentence(["exact"])
    return (
        f"{graded} **In the miniature, {claim}:** "
        + "; ".join(parts)
        + ". One seed per algorithm, so the spread between "
        "training seeds is not measured here" + _regime(rl) + "."
    )


def _regime(rl: dict | None) -> str:
    """The RL setting the table was made under, from its provenance record."""
    if not rl:
        return ""
    beta = rl.get("beta")
    kl = f"a KL penalty β = {beta:g} (the paper's runs used none)" if beta else "no KL penalty, as in the paper"
    return (
        f"; RL prompts drawn like the test set ({_carries(rl.get('prompt_carries') or {})}), {rl.get('steps')} steps, "
        f"with {kl}. In this regime the toy world's default GRPO run expands coverage too"
    )


def _curves_chart(curves: pl.DataFrame) -> alt.TopLevelMixin:
    long = curves.unpivot(index=["algorithm", "seed", "step"], on=["reward", "length", "entropy", "kl"])
    long = long.rename({"variable": "metric"}).with_columns(pl.col("algorithm").alias("model"))
    return charts.training_chart(
        long.drop_nulls("value"),
        metrics=("reward", "length", "entropy", "kl"),
        title="RL training per algorithm: reward, response length (tokens), entropy (nats/token), KL to the base",
    )


def toyworld_algorithms_page(study: Study | None = None, results_dir: str | None = None) -> ToyWorldAlgorithmsPage:
    """The committed six-algorithm tables beside the paper's Table 2 (``study`` is not read)."""
    from IPython.display import Markdown

    from analysis.toyworld.algo_grid import stale_reasons
    from analysis.toyworld.results import RESULTS_DIR, load_results

    folder = results_dir or RESULTS_DIR
    res = load_results("algorithms", folder)
    curves = load_results("algorithms_curves", folder)
    if res is None:
        missing = Markdown(f"No six-algorithm table in {folder}: run `{COMMAND}`.")
        return ToyWorldAlgorithmsPage(None, None, missing, Markdown(""), Markdown(""), ["missing"])
    stale = stale_reasons(res)
    note = res.note()
    if stale and "algorithm code" in stale[-1]:
        note += f" **Stale:** {stale[-1]}."
    chart, curves_note = None, f"No training curves in {folder}: run `{COMMAND}`."
    if curves is not None:
        chart, curves_note = _curves_chart(curves.table), curves.note()
    return ToyWorldAlgorithmsPage(
        side_by_side(res.table),
        chart,
        Markdown(note),
        Markdown(curves_note),
        Markdown(verdict(res.table, (res.meta.get("config") or {}).get("algorithms", {}).get("rl"))),
        stale,
    )


def _carries(weights: dict) -> str:
    """``{"0": 3, "1": 1}`` as ``weights 3:1 for 0–1 carries``."""
    keys = sorted(weights, key=int)
    return f"weights {':'.join(str(weights[k]) for k in keys)} for {keys[0]}–{keys[-1]} carries" if keys else "no mix"


def _span(lo: float, hi: float) -> str:
    """``lo`` to ``hi`` with one decimal, or one number when they round alike."""
    a, b = f"{lo:.1f}", f"{hi:.1f}"
    return a if a == b else f"{a} to {b}"


def _rl_settings(meta: dict) -> dict | None:
    """The RL settings in a table's provenance record."""
    return ((meta.get("config") or {}).get("algorithms") or {}).get("rl")
