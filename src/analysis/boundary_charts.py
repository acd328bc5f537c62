"""Altair charts of the boundary page, in the house style of :mod:`analysis.charts` (axis titles
with units, model colours from :func:`~analysis.charts.model_color_scale`, and a second channel
besides colour: see CONTRIBUTING.md, "Charts: the checklist")."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts import (
    DIFF_TITLE,
    PASSK_TITLE,
    facet_args,
    k_axis,
    model_color_scale,
    model_shape,
    pair_scale,
    thin_ks,
)

# What the band certifies: the other model's side in the RL colour, the base's in the base colour.
_DECISIONS = ["other better", "open", "base better"]
_DECISION_COLORS = alt.Scale(domain=_DECISIONS, range=["#DD8452", "#BBBBBB", "#4C72B0"])
_DECISION_SHAPES = alt.Scale(domain=_DECISIONS, range=["triangle-up", "circle", "triangle-down"])


def band_chart(
    bands: pl.DataFrame, *, title: str | None = None, width: int = 360, height: int = 220
) -> alt.TopLevelMixin:
    """pass@k(other) − pass@k(base) with its simultaneous band, one panel per pair; points coloured
    and shaped by what the band certifies at that k."""
    data = thin_ks(bands, [c for c in ("pair", "benchmark", "temperature") if c in bands.columns])
    base = alt.Chart(data).encode(x=k_axis())
    area = base.mark_area(opacity=0.2, color="#888888").encode(y=alt.Y("lo:Q", title=DIFF_TITLE), y2="hi:Q")
    line = base.mark_line(color="#444444").encode(y="diff:Q")
    legend = "the band certifies"
    points = base.mark_point(filled=True, size=64).encode(
        y="diff:Q",
        color=alt.Color("decision:N", scale=_DECISION_COLORS, title=legend),
        shape=alt.Shape("decision:N", scale=_DECISION_SHAPES, title=legend),
        tooltip=["pair", "k", "diff", "lo", "hi", "decision"],
    )
    zero = alt.Chart(data).mark_rule(strokeDash=[4, 4], color="#666666").encode(y=alt.datum(0))
    chart = alt.layer(area, line, points, zero).properties(width=width, height=height)
    facets = facet_args(data, "pair", None)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title or "pass@k difference with its simultaneous band (other − base)")


def checked_chart(
    curves: pl.DataFrame, roles: dict[str, str], *, width: int = 360, height: int = 240
) -> alt.TopLevelMixin:
    """pass@k counting any right answer (solid) and only right answers with valid reasoning (dashed);
    models told apart by colour and point shape."""
    data = thin_ks(curves, [c for c in ("model", "check", "benchmark", "temperature") if c in curves.columns])
    base = alt.Chart(data).encode(
        x=k_axis(),
        y=alt.Y("pass_at_k:Q", title=PASSK_TITLE),
        color=alt.Color("model:N", scale=model_color_scale(roles), title="model"),
    )
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash("check:N", title="counted as correct"), detail="check:N")
    points = base.mark_point(filled=True, size=16).encode(
        shape=model_shape(roles), detail="check:N", tooltip=["model", "check", "k", "pass_at_k"]
    )
    chart = alt.layer(lines, points).properties(width=width, height=height)
    return chart.properties(title="pass@k: right answer vs right answer with valid reasoning")


def floor_chart(
    table: pl.DataFrame, roles: dict[str, str], *, width: int = 360, height: int = 240
) -> alt.TopLevelMixin:
    """pass@k of each model (colour and point shape) against the guessing floor (grey, dotted)."""
    data = thin_ks(table, [c for c in ("model", "benchmark") if c in table.columns])
    base = alt.Chart(data).encode(x=k_axis())
    color = alt.Color("model:N", scale=model_color_scale(roles), title="model")
    y = alt.Y("pass_at_k:Q", title=PASSK_TITLE)
    lines = base.mark_line().encode(y=y, color=color)
    points = base.mark_point(filled=True, size=18).encode(
        y=y, color=color, shape=model_shape(roles), tooltip=["model", "k", "pass_at_k", "floor", "pass_above_floor"]
    )
    floor = base.mark_line(color="#999999", strokeDash=[2, 2]).encode(y="floor:Q", detail="model:N")
    return alt.layer(floor, lines, points).properties(
        width=width, height=height, title="pass@k and the guessing floor (grey, dotted)"
    )


def gpass_chart(
    table: pl.DataFrame, roles: dict[str, str], *, width: int = 360, height: int = 240
) -> alt.TopLevelMixin:
    """mG-Pass@k against k, one line per model (colour and point shape)."""
    data = table.filter(pl.col("metric") == "mG-Pass")
    base = alt.Chart(data).encode(
        x=k_axis(),
        y=alt.Y("value:Q", title="mG-Pass@k (share of problems)"),
        color=alt.Color("model:N", scale=model_color_scale(roles), title="model"),
    )
    lines = base.mark_line()
    points = base.mark_point(filled=True, size=30).encode(shape=model_shape(roles), tooltip=["model", "k", "value"])
    return alt.layer(lines, points).properties(
        width=width, height=height, title="mG-Pass@k: correct in more than half of k samples"
    )


_SUPPORT = ["preserved", "shrunk", "expanded"]


def support_chart(table: pl.DataFrame, *, width: int = 300, height: int = 160) -> alt.TopLevelMixin:
    """Preserved, shrunk and expanded support per pair and grain (stacked bars); each segment wide
    enough for it is labelled with its kind, so the colours are never the only cue."""
    long = (
        table.unpivot(on=_SUPPORT, index=["pair", "grain"], variable_name="support", value_name="count")
        .with_columns(pl.col("support").cast(pl.Enum(_SUPPORT)))
        .sort(["pair", "grain", "support"])
        .with_columns((pl.col("count") / pl.col("count").sum().over(["pair", "grain"])).fill_nan(0.0).alias("share"))
        .with_columns(pl.col("share").cum_sum().over(["pair", "grain"]).alias("end"))
        .with_columns(
            (pl.col("end") - pl.col("share")).alias("start"),
            pl.col("support").cast(pl.String),
        )
        .with_columns(((pl.col("start") + pl.col("end")) / 2).alias("middle"))
        # Label a segment only where its word fits (about 6.5 px a character at font size 10).
        .with_columns((pl.col("share") * width >= pl.col("support").str.len_chars() * 6.5 + 6).alias("fits"))
    )
    colors = alt.Scale(domain=_SUPPORT, range=["#8C8C8C", "#4C72B0", "#DD8452"])
    y = alt.Y("grain:N", title=None, sort=["problem", "answer", "trajectory", "strategy"])
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("start:Q", title="share of the pair's joint support (fraction)", scale=alt.Scale(domain=[0, 1])),
            x2="end:Q",
            color=alt.Color("support:N", scale=colors, title="support"),
            tooltip=["pair", "grain", "support", "count", alt.Tooltip("share:Q", format=".2f")],
        )
    )
    text = (
        alt.Chart()
        .transform_filter(alt.datum.fits)
        .mark_text(fontSize=10, color="white")
        .encode(y=y, x="middle:Q", text="support:N")
    )
    chart = alt.layer(bars, text, data=long).properties(width=width, height=height)
    facets = facet_args(long, "pair", None)
    if facets:
        chart = chart.facet(**facets)
    return chart.properties(title="Empirical support: kept, lost and new correct solutions")


def planner_chart(
    table: pl.DataFrame, roles: dict[str, str] | None = None, *, width: int = 360, height: int = 200
) -> alt.TopLevelMixin:
    """Simulated probability of certifying a crossover against samples per problem, one line per
    pair (colour: the other model's shade where ``roles`` is given; and point shape)."""
    legend = "pair (other − base)"
    names = table["pair"].unique(maintain_order=True).to_list()
    colors = pair_scale(names, [name.split(" − ")[0] for name in names], roles)
    pairs = alt.Scale(domain=names)
    base = alt.Chart(table).encode(
        x=alt.X("n:Q", scale=alt.Scale(type="log", base=2), title="n (samples per problem, log scale)"),
        y=alt.Y("power:Q", title="P(crossover certified) (probability)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("pair:N", title=legend, scale=colors),
    )
    lines = base.mark_line()
    points = base.mark_point(filled=True, size=40).encode(
        shape=alt.Shape("pair:N", title=legend, scale=pairs), tooltip=["pair", "n", "power", "share_gain", "share_loss"]
    )
    return alt.layer(lines, points).properties(
        width=width, height=height, title="How many samples a crossover verdict takes"
    )
