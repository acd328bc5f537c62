"""pass@k curves and their differences: per model, per seed, per pair; ΔSE; pass@1 against pass@n."""

from __future__ import annotations

import altair as alt

from analysis.charts.style import (
    DIFF_TITLE,
    PASSK_TITLE,
    facet_args,
    k_axis,
    model_color_scale,
    model_shape,
    pair_scale,
    thin_ks,
)


def passk_chart(
    curves,
    roles: dict[str, str],
    *,
    row: str | None = "benchmark",
    column: str | None = "temperature",
    title: str = "pass@k",
    width: int = 360,
    height: int = 240,
) -> alt.TopLevelMixin:
    """pass@k against k (log2 axis), one line per model (colour and point shape), with the bootstrap
    band when present."""
    data = thin_ks(curves, [c for c in ("model", row, column) if c and c in curves.columns])
    color = alt.Color("model:N", scale=model_color_scale(roles), title="model")
    tooltip = [c for c in ("model", "benchmark", "temperature", "k", "pass_at_k", "lo", "hi") if c in data.columns]
    base = alt.Chart(data).encode(x=k_axis(), color=color)
    y = alt.Y("pass_at_k:Q", title=PASSK_TITLE, scale=alt.Scale(zero=False))
    line = base.mark_line().encode(y=y, detail="model:N")
    points = base.mark_point(size=22, filled=True).encode(y=y, shape=model_shape(roles), tooltip=tooltip)
    layers = [line, points]
    if "lo" in data.columns:
        layers.insert(0, base.mark_area(opacity=0.18).encode(y="lo:Q", y2="hi:Q"))
    chart = alt.layer(*layers).properties(width=width, height=height)
    facets = facet_args(data, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


def seed_curves_chart(
    curves,
    roles: dict[str, str],
    *,
    row: str | None = "benchmark",
    column: str | None = "temperature",
    title: str = "pass@k of each sampling seed (one line per model and seed)",
    width: int = 360,
    height: int = 240,
) -> alt.TopLevelMixin:
    """pass@k against k, one line per (model, sampling seed): seed is the line's dash pattern, the
    model its colour and point shape."""
    data = thin_ks(curves, [c for c in ("model", "seed", row, column) if c and c in curves.columns])
    data = data.with_columns(data["seed"].cast(str).alias("seed"))
    base = alt.Chart(data).encode(
        x=k_axis(),
        y=alt.Y("pass_at_k:Q", title=PASSK_TITLE, scale=alt.Scale(zero=False)),
        color=alt.Color("model:N", scale=model_color_scale(roles), title="model"),
    )
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash("seed:N", title="sampling seed"), detail="seed:N")
    points = base.mark_point(size=18, filled=True).encode(
        shape=model_shape(roles), detail="seed:N", tooltip=["model", "seed", "k", "pass_at_k"]
    )
    chart = alt.layer(lines, points).properties(width=width, height=height)
    facets = facet_args(data, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


# Colours for things that are not models (pairs whose roles are unknown): none is a role's hue,


def difference_chart(
    paired,
    roles: dict[str, str] | None = None,
    *,
    row: str | None = "benchmark",
    column: str | None = "temperature",
    title: str = "pass@k difference (other − base), paired bootstrap band",
) -> alt.TopLevelMixin:
    """pass@k(a) − pass@k(b) against k with its band and a zero line; one line per pair, told apart
    by colour (the other model's shade where ``roles`` is given) and point shape."""
    import polars as pl

    data = thin_ks(paired, [c for c in ("pair", row, column) if c and c in paired.columns])
    if "pair" not in data.columns:
        data = data.with_columns((pl.col("model_a") + " − " + pl.col("model_b")).alias("pair"))
    first = data.unique("pair", keep="first", maintain_order=True)
    pairs = first["pair"].to_list()
    others = first["model_a"].to_list() if "model_a" in first.columns else pairs
    legend = "pair (other − base)"
    color = alt.Color("pair:N", title=legend, scale=pair_scale(pairs, others, roles))
    base = alt.Chart(data).encode(x=k_axis(), color=color)
    y = alt.Y("diff:Q", title=DIFF_TITLE)
    layers = [
        alt.Chart(data).mark_rule(color="#444", strokeDash=[4, 3]).encode(y=alt.datum(0)),
        base.mark_line().encode(y=y, detail="pair:N"),
        base.mark_point(size=20, filled=True).encode(
            y=y,
            shape=alt.Shape("pair:N", title=legend, scale=alt.Scale(domain=pairs)),
            tooltip=[c for c in ("pair", "k", "diff", "lo", "hi") if c in data.columns],
        ),
    ]
    if "lo" in data.columns:
        layers.insert(0, base.mark_area(opacity=0.2).encode(y="lo:Q", y2="hi:Q"))
    chart = alt.layer(*layers).properties(width=360, height=200)
    facets = facet_args(data, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


def delta_se_chart(delta, *, title: str = "ΔSE = base pass@k_max − pass@1 (lower is better)") -> alt.TopLevelMixin:
    """ΔSE per model and benchmark, with its paired bootstrap interval; benchmarks told apart by
    colour and point shape."""
    benchmarks = delta["benchmark"].unique(maintain_order=True).to_list()
    base = alt.Chart(delta).encode(
        y=alt.Y("other:N", title="trained model"),
        color=alt.Color("benchmark:N", title="benchmark", scale=alt.Scale(domain=benchmarks)),
        yOffset="benchmark:N",
    )
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lo:Q", title="ΔSE (pass@k difference, share of problems)"), x2="hi:Q"
    )
    point = base.mark_point(filled=True, size=70).encode(
        x="delta:Q",
        shape=alt.Shape("benchmark:N", title="benchmark", scale=alt.Scale(domain=benchmarks)),
        tooltip=["other", "base", "benchmark", "k", "delta", "lo", "hi"],
    )
    return (rule + point).properties(width=420, height=max(80, 30 * delta.height), title=title)


def findings_chart(findings, roles: dict[str, str], *, title: str = "pass@1 and pass@n per model") -> alt.TopLevelMixin:
    """Dumbbells: each compared model's pass@1 and pass@n beside its base's. The y labels name
    the model a colour stands for; the point shape tells k = 1 from k = n."""
    import polars as pl

    rows = []
    for r in findings.iter_rows(named=True):
        group = f"{r['benchmark']} T={r['temperature']:g}"
        for model, p1, pn in (
            (r["base"], r["pass@1 base"], r["pass@n base"]),
            (r["other"], r["pass@1 other"], r["pass@n other"]),
        ):
            rows.append({"group": group, "model": model, "at": "k = 1", "pass_at_k": p1})
            rows.append({"group": group, "model": model, "at": f"k = n ({r['n']})", "pass_at_k": pn})
    data = pl.DataFrame(rows).unique(["group", "model", "at"], keep="first")
    base = alt.Chart(data).encode(
        y=alt.Y("model:N", sort=list(roles), title="model"),
        color=alt.Color("model:N", scale=model_color_scale(roles), legend=None),
    )
    x = alt.X("pass_at_k:Q", title=PASSK_TITLE, scale=alt.Scale(zero=False))
    line = base.mark_line(strokeWidth=2).encode(x=x, detail="model:N")
    points = base.mark_point(filled=True, size=80).encode(
        x="pass_at_k:Q",
        shape=alt.Shape("at:N", title="samples per problem (k)"),
        tooltip=["group", "model", "at", "pass_at_k"],
    )
    chart = (line + points).properties(width=380, height=max(60, 24 * data["model"].n_unique()))
    if data["group"].n_unique() > 1:
        chart = chart.facet(row=alt.Row("group:N", title=None))
    return chart.properties(title=title)
