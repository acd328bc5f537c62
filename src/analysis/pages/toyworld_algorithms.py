"""The toy world's deep analysis (the paper's §4 in miniature), from committed tables.

Reads ``data/toyworld/algorithms.csv`` and ``algorithms_curves.csv``
(:mod:`analysis.toyworld.algo_grid`) and shows them in the paper's forms: Table 2 (six
algorithms, across training seeds, per RL prompt regime), the Fig. 8-style pass@k panel, Table 3
(per training step), the Fig. 15 ablations (group size, KL) and the Fig. 18 training dynamics,
each beside the paper's own numbers where it has them. The tables and sentences come from
:mod:`analysis.pages.algorithm_tables`; this module only assembles them and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis.pages import algorithm_tables as T
from analysis.study import Study

COMMAND = (
    "python -m analysis.toyworld.algo_grid --config configs/toyworld/algorithms.yaml "
    "--table data/toyworld/algorithms.csv"
)
PAPER_SOURCE = T.PAPER_SOURCE
DYNAMICS_WINDOW = 5  # training steps per point of the dynamics charts (a chart holds at most 5,000 rows)
SHOWN_TEMPERATURE = 0.6  # the paper's evaluation temperature; charts show it, tables show every one


@dataclass
class ToyWorldAlgorithmsPage:
    note: Any
    settings: Any = None  # the runs' settings beside the paper's
    table2: pl.DataFrame | None = None
    verdicts: list[Any] = field(default_factory=list)  # one sentence per regime
    answer: Any = None  # regime or algorithm?
    passk: alt.TopLevelMixin | None = None  # Fig. 8
    steps: pl.DataFrame | None = None  # Table 3
    steps_chart: alt.TopLevelMixin | None = None  # Fig. 1 right
    ablations: pl.DataFrame | None = None  # Fig. 15
    ablations_chart: alt.TopLevelMixin | None = None
    ablation_sentences: list[Any] = field(default_factory=list)  # one per regime
    dynamics: dict[str, alt.TopLevelMixin] = field(default_factory=dict)  # Fig. 18, per regime
    curves_note: Any = None
    stale: list[str] = field(default_factory=list)


def curve_rows(rows: pl.DataFrame, model: pl.Expr, with_base: bool = True) -> pl.DataFrame:
    """Long pass@k rows (model, regime, temperature, k, pass_at_k), averaged over seeds, with the
    base's own curve once per (regime, temperature) when ``with_base``."""
    ks = sorted(int(c.split("@")[1]) for c in rows.columns if c.startswith("pass@"))
    idx = ["model", "regime", "temperature"]
    frames = [rows.with_columns(model.alias("model")).select(*idx, *[pl.col(f"pass@{k}") for k in ks])]
    if with_base:
        frames.append(
            rows.select(
                pl.lit("base").alias("model"),
                "regime",
                "temperature",
                *[pl.col(f"base_pass@{k}").alias(f"pass@{k}") for k in ks],
            )
        )
    long = pl.concat(frames).unpivot(index=idx, variable_name="k", value_name="pass_at_k")
    long = long.with_columns(pl.col("k").str.split("@").list.get(1).cast(pl.Int64))
    return long.group_by([*idx, "k"], maintain_order=True).agg(pl.col("pass_at_k").mean())


def _roles(models: list[str]) -> dict[str, str]:
    return {m: ("base" if m == "base" else "rl") for m in ["base", *[m for m in models if m != "base"]]}


def _curves_chart(long: pl.DataFrame, title: str) -> alt.TopLevelMixin:
    """One panel per regime, stacked (readable regime names as panel titles), at the shown temperature."""
    at = long.filter(pl.col("temperature") == SHOWN_TEMPERATURE).with_columns(pl.col("regime").replace(T.REGIME_PANELS))
    return charts.passk_chart(
        at, _roles(at["model"].unique(maintain_order=True).to_list()), row="regime", column=None, title=title
    )


def passk_panel(table: pl.DataFrame) -> alt.TopLevelMixin:
    """Fig. 8 in miniature: each algorithm's pass@k (mean over its seeds) against the base's."""
    six = T.final_rows(table.filter(T.COMPARISON))
    return _curves_chart(
        curve_rows(six, pl.col("label")),
        f"pass@k per algorithm (mean over training seeds) and the base, T = {SHOWN_TEMPERATURE:g}",
    )


def steps_chart(table: pl.DataFrame, algorithm: str = "grpo") -> alt.TopLevelMixin:
    """Fig. 1 (right) in miniature: the longer run's pass@k at each evaluated step and the base's."""
    rows = table.filter((pl.col("algorithm") == algorithm) & (pl.col("kind") == "steps"))
    model = pl.format("{} step {}", pl.col("label"), pl.col("step"))
    return _curves_chart(curve_rows(rows, model), f"pass@k per training step and the base, T = {SHOWN_TEMPERATURE:g}")


def ablations_chart(table: pl.DataFrame, algorithm: str = "grpo") -> alt.TopLevelMixin:
    """Fig. 15 in miniature: the default run (mean over its seeds) and its variants, against the base."""
    rows = T.ablation_rows(table, algorithm)
    seeds = pl.col("seed").n_unique().over(["regime", "variant"])
    model = pl.format("{} {} ({} seeds)", pl.col("label"), T.arm(), seeds)
    return _curves_chart(curve_rows(rows, model), f"pass@k of the ablations and the base, T = {SHOWN_TEMPERATURE:g}")


def dynamics_charts(curves: pl.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Fig. 18 in miniature, per regime: reward, response length, entropy and KL per step, for each
    algorithm (mean over its seeds) and each ablation."""
    out = {}
    shown = curves.filter(pl.col("kind") != "steps").with_columns(
        pl.when(T.COMPARISON)
        .then(pl.col("algorithm"))
        .otherwise(pl.format("{} {}", pl.col("algorithm"), pl.col("variant")))
        .alias("model")
    )
    for (regime,), g in shown.group_by("regime", maintain_order=True):
        long = g.unpivot(
            index=["model", "seed", "step"], on=["reward", "length", "entropy", "kl"], variable_name="metric"
        )
        window = (pl.col("step") - 1) // DYNAMICS_WINDOW * DYNAMICS_WINDOW + DYNAMICS_WINDOW  # its window's last step
        long = long.drop_nulls("value").with_columns(window.alias("step"))
        long = long.group_by(["model", "metric", "step"], maintain_order=True).agg(pl.col("value").mean())
        out[regime] = charts.training_chart(
            long,
            metrics=("reward", "length", "entropy", "kl"),
            title=(
                f"RL training ({T.REGIME_WORDS.get(regime, regime)}): "
                f"mean over seeds and {DYNAMICS_WINDOW}-step windows"
            ),
        )
    return out


def toyworld_algorithms_page(study: Study | None = None, results_dir: str | None = None) -> ToyWorldAlgorithmsPage:
    """The committed grid tables in the paper's forms (``study`` is not read)."""
    from IPython.display import Markdown

    from analysis.toyworld.algo_grid import stale_reasons
    from analysis.toyworld.results import RESULTS_DIR, load_results

    folder = results_dir or RESULTS_DIR
    res = load_results("algorithms", folder)
    if res is None:
        return ToyWorldAlgorithmsPage(
            Markdown(f"No algorithm grid table in {folder}: run `{COMMAND}`."), stale=["missing"]
        )
    stale = stale_reasons(res)
    note = res.note()
    if stale and "algorithm code" in stale[-1]:
        note += f" **Stale:** {stale[-1]}."
    table = res.table
    regimes = table["regime"].unique(maintain_order=True).to_list()
    page = ToyWorldAlgorithmsPage(
        Markdown(note),
        settings=Markdown(T.settings_sentence(res.meta.get("config") or {})),
        table2=T.table2(table),
        verdicts=[Markdown(T.algorithm_verdict(table, r)) for r in regimes],
        answer=Markdown(T.regime_answer(table)),
        passk=passk_panel(table),
        stale=stale,
    )
    if table.filter(pl.col("kind") == "steps").height:
        page.steps, page.steps_chart = T.step_table(table), steps_chart(table)
    if table.filter(pl.col("kind") == "ablation").height:
        page.ablations, page.ablations_chart = T.ablation_table(table), ablations_chart(table)
        page.ablation_sentences = [Markdown(T.ablation_sentence(table, r)) for r in regimes]
    curves = load_results("algorithms_curves", folder)
    page.curves_note = Markdown(curves.note() if curves else f"No training curves in {folder}: run `{COMMAND}`.")
    if curves is not None:
        page.dynamics = dynamics_charts(curves.table)
    return page
