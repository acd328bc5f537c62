"""Altair charts for notebooks and the book: the house theme and an offline renderer.

``enable()`` turns on the ``book`` renderer. Each chart is displayed as a MIME bundle of

* ``text/html``: a static PNG, replaced by the interactive Vega chart when ``vegaEmbed`` is
  available in the page. The book ships the Vega bundle locally (``book/_static/``), so pages
  render interactively with no network; a viewer that runs no scripts keeps the PNG.
* ``image/png``: the same chart rendered by vl-convert, for PDF/LaTeX builds and for viewers
  that ignore HTML (GitHub).

No CDN is ever referenced.
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from pathlib import Path
from typing import Any

import altair as alt

RENDERER = "book"
THEME = "study"
VL_VERSION = alt.SCHEMA_VERSION.lstrip("v")  # e.g. "6.4.1"
PNG_SCALE = 2

# Colours per model role, used by every chart so a model keeps its colour across pages.
ROLE_COLORS = {"base": "#4C72B0", "rl": "#DD8452", "distill": "#55A868", "other": "#8172B3"}


def _vl_convert_version() -> str:
    major, minor, *_ = VL_VERSION.split(".")
    return f"{major}_{minor}"


def chart_png(spec: dict[str, Any], scale: float = PNG_SCALE) -> bytes:
    """PNG bytes of a Vega-Lite spec, rendered without a browser."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(spec, vl_version=_vl_convert_version(), scale=scale)


def chart_html(spec: dict[str, Any], png: bytes | None = None) -> str:
    """HTML that shows ``png`` and upgrades to an interactive chart where vegaEmbed exists."""
    png = chart_png(spec) if png is None else png
    div_id = f"rlvr-chart-{uuid.uuid4().hex[:12]}"
    title = spec.get("title")
    alt_text = html.escape(title if isinstance(title, str) else "chart")
    img = base64.b64encode(png).decode("ascii")
    spec_json = json.dumps(spec).replace("</", "<\\/")
    return f"""<div id="{div_id}" class="rlvr-chart">
<img class="rlvr-chart-static" alt="{alt_text}" style="max-width:100%" src="data:image/png;base64,{img}">
<div class="rlvr-chart-live"></div>
</div>
<script type="text/javascript">
(function () {{
  var root = document.getElementById("{div_id}");
  var spec = {spec_json};
  function draw() {{
    if (root.dataset.drawn || typeof window.vegaEmbed !== "function") return;
    root.dataset.drawn = "pending";
    var options = {{actions: {{export: true, source: false, compiled: false, editor: false}}}};
    window.vegaEmbed(root.querySelector(".rlvr-chart-live"), spec, options)
      .then(function () {{ root.querySelector(".rlvr-chart-static").remove(); root.dataset.drawn = "yes"; }})
      .catch(function (err) {{ root.dataset.drawn = "failed"; console.error(err); }});
  }}
  draw();
  if (!root.dataset.drawn) {{
    document.addEventListener("DOMContentLoaded", draw);
    window.addEventListener("load", draw);
  }}
}})();
</script>"""


def book_renderer(spec: dict[str, Any], **_metadata: Any) -> dict[str, Any]:
    """Altair renderer: HTML (PNG + interactive upgrade) and a plain PNG."""
    png = chart_png(spec)
    return {
        "text/html": chart_html(spec, png),
        "image/png": base64.b64encode(png).decode("ascii"),
        "text/plain": "<chart>",
    }


def theme() -> dict[str, Any]:
    """The house theme: readable fonts, no chart border, a fixed default size."""
    return {
        "config": {
            "view": {"continuousWidth": 420, "continuousHeight": 280, "stroke": None},
            "font": "DejaVu Sans, Helvetica, Arial, sans-serif",
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True, "gridOpacity": 0.4},
            # Full-strength legend symbols, also where a legend merges a faded band layer.
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "symbolOpacity": 1},
            "title": {"fontSize": 14, "anchor": "start"},
        }
    }


def enable() -> None:
    """Use the house theme and the offline ``book`` renderer for every chart displayed."""
    if RENDERER not in alt.renderers.names():
        alt.renderers.register(RENDERER, book_renderer)
    alt.renderers.enable(RENDERER)
    if THEME not in alt.theme.names():
        alt.theme.register(THEME, enable=False)(theme)
    alt.theme.enable(THEME)


def save_png(chart: alt.TopLevelMixin, path: str | Path) -> Path:
    """Write ``chart`` as a PNG file (for screenshots, reports and READMEs)."""
    from analysis.store import _atomic_write

    data = chart_png(chart.to_dict())
    return _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def vega_bundle_js() -> str:
    """A self-contained script defining ``window.vegaEmbed`` (Vega, Vega-Lite, Vega-Embed)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=_vl_convert_version())


# ---------------------------------------------------------------------------------------------
# Chart builders: one per figure type of the study. Each takes tidy polars frames (as the
# metrics functions return them) and a mapping model -> role for consistent colours.

_ROLE_SHADES = {
    "base": ["#1f4e8c", "#4C72B0", "#7fa3d6", "#a9c3e8"],
    "rl": ["#DD8452", "#c44e16", "#f0a97a", "#8c3a0e", "#f5c7a6", "#b5651d"],
    "distill": ["#55A868", "#2e7d44", "#8fcf9c"],
    "other": ["#8172B3", "#5a4a94", "#b3a6de", "#937860"],
}


# Axis titles shared by the builders: every axis names its unit (CONTRIBUTING.md, "Charts: the checklist").
K_TITLE = "k (samples per problem, log scale)"
PASSK_TITLE = "pass@k (share of problems)"
DIFF_TITLE = "Δ pass@k (share of problems)"  # the chart title says which difference


def k_axis() -> alt.X:
    """The x axis of every curve against k: log2 scale, integer ticks."""
    return alt.X("k:Q", scale=alt.Scale(type="log", base=2), title=K_TITLE, axis=alt.Axis(format="d"))


def model_shape(roles: dict[str, str], title: str = "model") -> alt.Shape:
    """Point shape per model: the channel besides colour that tells models apart (same domain and
    title as :func:`model_color_scale`'s legend, so Vega-Lite merges the two into one legend)."""
    return alt.Shape("model:N", scale=alt.Scale(domain=list(roles)), title=title)


def model_color_scale(roles: dict[str, str]) -> alt.Scale:
    """A colour scale giving each model a shade of its role's colour (base blue, RL orange, ...)."""
    used: dict[str, int] = {}
    domain, colors = [], []
    for model, role in roles.items():
        shades = _ROLE_SHADES.get(role, _ROLE_SHADES["other"])
        colors.append(shades[used.get(role, 0) % len(shades)])
        used[role] = used.get(role, 0) + 1
        domain.append(model)
    return alt.Scale(domain=domain, range=colors)


def log_spaced_ks(k_max: int, points: int = 48) -> list[int]:
    """Every k up to 16, then about ``points`` log-spaced k up to ``k_max`` (powers of two kept)."""
    import numpy as np

    ks = set(range(1, min(k_max, 16) + 1))
    ks.update(int(np.rint(x)) for x in np.geomspace(1, k_max, points))
    p = 1
    while p <= k_max:
        ks.add(p)
        p *= 2
    ks.add(k_max)
    return sorted(k for k in ks if 1 <= k <= k_max)


def _thin_ks(df, by: list[str]):
    import polars as pl

    if df.is_empty():
        return df
    k_max = int(df["k"].max())
    keep = log_spaced_ks(k_max)
    return df.filter(pl.col("k").is_in(keep)).sort([*by, "k"])


def _facet_args(df, row: str | None, column: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if row and row in df.columns and df[row].n_unique() > 1:
        args["row"] = alt.Row(f"{row}:N", title=None)
    if column and column in df.columns and df[column].n_unique() > 1:
        args["column"] = alt.Column(f"{column}:N", title=None)
    return args


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
    data = _thin_ks(curves, [c for c in ("model", row, column) if c and c in curves.columns])
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
    facets = _facet_args(data, row, column)
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
    data = _thin_ks(curves, [c for c in ("model", "seed", row, column) if c and c in curves.columns])
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
    facets = _facet_args(data, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


# Colours for things that are not models (pairs whose roles are unknown): none is a role's hue,
# so no reader takes them for base (blue), RL (orange) or distilled (green).
NEUTRAL_COLORS = ["#8c564b", "#DA8BC3", "#7F7F7F", "#CCB974", "#4d4d4d", "#b07aa1", "#bab0ac", "#6b4f2a"]


def pair_scale(pairs: list[str], others: list[str], roles: dict[str, str] | None) -> alt.Scale:
    """Colour each (other − base) pair like its other model on every page where roles are known,
    else in neutral colours that no role uses."""
    if not roles:
        return alt.Scale(domain=pairs, range=[NEUTRAL_COLORS[i % len(NEUTRAL_COLORS)] for i in range(len(pairs))])
    by_model = model_color_scale(roles).to_dict()
    colors = dict(zip(by_model["domain"], by_model["range"], strict=True))
    return alt.Scale(domain=pairs, range=[colors.get(m, ROLE_COLORS["other"]) for m in others])


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

    data = _thin_ks(paired, [c for c in ("pair", row, column) if c and c in paired.columns])
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
    facets = _facet_args(data, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


def histogram_chart(
    hist,
    roles: dict[str, str],
    *,
    row: str | None = "benchmark",
    column: str | None = "temperature",
    title: str = "Per-problem accuracy (c / n)",
) -> alt.TopLevelMixin:
    """The paper's accuracy histogram: problems per accuracy bin, bars side by side per model, each
    bar capped by a point whose shape names its model (so the bars do not rely on colour alone)."""
    bins = list(dict.fromkeys(hist["bin"].to_list()))
    base = alt.Chart(hist).encode(
        x=alt.X(
            "bin:N",
            sort=bins,
            title="accuracy bin (share of a problem's samples correct)",
            axis=alt.Axis(labelAngle=-45),
        ),
        xOffset=alt.XOffset("model:N", sort=list(roles)),
        y=alt.Y("count:Q", title="problems (count)"),
        color=alt.Color("model:N", scale=model_color_scale(roles), title="model"),
    )
    tooltip = [c for c in ("model", "benchmark", "temperature", "bin", "count", "percent") if c in hist.columns]
    bars = base.mark_bar().encode(tooltip=tooltip)
    # A dark outline keeps each cap's shape visible against its own bar.
    caps = base.mark_point(filled=True, size=40, opacity=1, stroke="#222", strokeWidth=0.8).encode(
        shape=model_shape(roles), tooltip=tooltip
    )
    chart = alt.layer(bars, caps).properties(width=420, height=220)
    facets = _facet_args(hist, row, column)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


def upset_chart(upset, models: list[str], *, title: str = "Who solves what") -> alt.TopLevelMixin:
    """UpSet view: problems per combination of solving models (bars) over a membership matrix
    (member: large dark dot; not a member: small light dot, so size carries it as well as shade)."""
    import polars as pl

    rows = upset.with_columns(
        pl.col("models").list.join(" & ").alias("combination"),
    ).with_columns(
        pl.when(pl.col("combination") == "").then(pl.lit("none")).otherwise("combination").alias("combination")
    )
    order = rows.sort("count", descending=True)["combination"].to_list()
    bars = (
        alt.Chart(rows)
        .mark_bar(color="#4C72B0")
        .encode(
            x=alt.X("combination:N", sort=order, axis=None),
            y=alt.Y("count:Q", title="problems (count)"),
            tooltip=["combination", "count"],
        )
        .properties(width=max(160, 36 * len(order)), height=200)
    )
    labels = bars.mark_text(dy=-6, fontSize=11).encode(text="count:Q")
    cells = pl.DataFrame(
        [
            {"combination": combo, "model": m, "member": m in set(ms)}
            for combo, ms in zip(rows["combination"].to_list(), rows["models"].to_list(), strict=True)
            for m in models
        ]
    )
    matrix = (
        alt.Chart(cells)
        .mark_circle()
        .encode(
            x=alt.X("combination:N", sort=order, title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("model:N", sort=models, title=None),
            color=alt.condition("datum.member", alt.value("#222"), alt.value("#ddd")),
            size=alt.condition("datum.member", alt.value(120), alt.value(40)),
            tooltip=["combination", "model", "member"],
        )
        .properties(width=max(160, 36 * len(order)), height=22 * len(models))
    )
    return alt.vconcat(bars + labels, matrix, spacing=4).properties(title=title)


def perplexity_heatmap(
    table, models: list[str], *, base: str, title: str = "Median perplexity: scorer (row) × responses of (column)"
) -> alt.TopLevelMixin:
    """The cross matrix PPL_scorer(Y_generator) as a heat map with the median in each cell, one
    panel per benchmark. The paper's contrast, the ``base`` row (PPL_base(Y_m) for every m), is
    outlined; so the reading does not rely on colour, every cell carries its number."""
    import polars as pl

    data = table.with_columns((pl.col("scorer") == base).alias("paper's contrast"))
    enc = {
        "x": alt.X("generator:N", sort=models, title="responses of (model)", axis=alt.Axis(labelAngle=-30)),
        "y": alt.Y("scorer:N", sort=models, title="scored by (model)"),
    }
    cells = (
        alt.Chart()
        .mark_rect()
        .encode(
            **enc,
            color=alt.Color("median:Q", title="median PPL (per token)", scale=alt.Scale(scheme="blues")),
            tooltip=["benchmark", "scorer", "generator", "median", "responses"],
        )
    )
    outline = (
        alt.Chart()
        .transform_filter('datum["paper\'s contrast"]')
        .mark_rect(fill=None, stroke="#d62728", strokeWidth=2.5)
        .encode(**enc)
    )
    text = (
        alt.Chart()
        .mark_text(fontSize=11)
        .encode(**enc, text=alt.Text("median:Q", format=".3f"), color=alt.value("#111"))
    )
    size = max(140, 46 * len(models))
    chart = alt.layer(cells, outline, text, data=data).properties(width=size, height=size)
    if data["benchmark"].n_unique() > 1:
        chart = chart.facet(column=alt.Column("benchmark:N", title=None))
    return chart.properties(title=title)


def perplexity_chart(scores, roles: dict[str, str], *, title: str = "Perplexity of responses") -> alt.TopLevelMixin:
    """Box plots of per-response perplexity, one per (scorer, generator) pair, faceted by benchmark.
    Colour is the generator's model shade; the x labels name each pair, so colour is never the
    only cue.

    The five numbers of each box (min, quartiles, max) are computed here, so the page embeds a
    few rows per pair instead of every response (Vega-Lite's boxplot would ship them all).
    """
    import polars as pl

    data = (
        scores.with_columns(("PPL_" + pl.col("scorer") + "(Y_" + pl.col("generator") + ")").alias("pair"))
        .group_by(["benchmark", "pair", "scorer", "generator"])
        .agg(
            pl.col("ppl").min().alias("min"),
            pl.col("ppl").quantile(0.25, "linear").alias("q1"),
            pl.col("ppl").median().alias("median"),
            pl.col("ppl").quantile(0.75, "linear").alias("q3"),
            pl.col("ppl").max().alias("max"),
            pl.len().alias("responses"),
        )
        .sort(["benchmark", "scorer", "generator"])
    )
    order = data.select("pair", "scorer", "generator").unique().sort(["scorer", "generator"])["pair"].to_list()
    x = alt.X("pair:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30))
    color = alt.Color("generator:N", scale=model_color_scale(roles), title="responses of (model)")
    tooltip = ["pair", "responses", "min", "q1", "median", "q3", "max"]
    base = alt.Chart().encode(x=x)
    whiskers = base.mark_rule().encode(
        y=alt.Y("min:Q", title="perplexity of a response (per token)", scale=alt.Scale(zero=False)),
        y2="max:Q",
        color=color,
    )
    boxes = base.mark_bar(size=18).encode(y="q1:Q", y2="q3:Q", color=color, tooltip=tooltip)
    medians = base.mark_tick(color="white", size=18, thickness=2).encode(y="median:Q")
    chart = alt.layer(whiskers, boxes, medians, data=data).properties(width=max(240, 60 * len(order)), height=240)
    facets = _facet_args(data, "benchmark", None)
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


TRAINING_TITLES = {
    "reward": "reward (mean per sample)",
    "kl": "KL to the reference (nats per token)",
    "loss": "loss (nats per token)",
}


def training_chart(
    log,
    roles: dict[str, str] | None = None,
    *,
    metrics: tuple[str, ...] = ("reward", "kl", "loss"),
    title: str = "Training",
) -> alt.TopLevelMixin:
    """Training curves (value against step), one panel per metric that the logs hold (its unit in
    the panel title), one line per model: colour (role shades where ``roles`` is given) and dash."""
    import polars as pl

    present = [m for m in metrics if m in set(log["metric"].to_list())] or log["metric"].unique().sort().to_list()[:3]
    data = log.filter(pl.col("metric").is_in(present)).with_columns(
        pl.col("metric").replace_strict(TRAINING_TITLES, default=pl.col("metric")).alias("panel")
    )
    panels = [TRAINING_TITLES.get(m, m) for m in present]
    models = list(roles) if roles else data["model"].unique(maintain_order=True).to_list()
    # Explicit domains on both channels, so Vega-Lite merges them into one legend.
    scale = model_color_scale(roles) if roles else pair_scale(models, models, None)
    # Stroke symbols, so the legend shows each model's dash pattern beside its colour.
    legend = alt.Legend(symbolType="stroke", symbolStrokeWidth=2)
    color = alt.Color("model:N", title="model", scale=scale, legend=legend)
    chart = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=14))  # points: a log with one entry still shows
        .encode(
            x=alt.X("step:Q", title="training step (count)"),
            y=alt.Y("value:Q", title="value (unit in the panel title)"),
            color=color,
            strokeDash=alt.StrokeDash("model:N", title="model", scale=alt.Scale(domain=models), legend=legend),
            tooltip=["model", "metric", "step", "value"],
        )
        .properties(width=300, height=180)
        .facet(column=alt.Column("panel:N", title=None, sort=panels))
        .resolve_scale(y="independent")
    )
    return chart.properties(title=title)


def wall_time_chart(
    times, *, title: str = "Wall time per workflow stage (seconds, summed over its jobs)"
) -> alt.TopLevelMixin:
    """Bar chart of wall seconds per stage."""
    import polars as pl

    data = times.group_by("stage").agg(pl.col("seconds").sum().round(1), pl.len().alias("jobs"))
    return (
        alt.Chart(data)
        .mark_bar(color="#4C72B0")
        .encode(
            y=alt.Y("stage:N", sort="-x", title="workflow stage"),
            x=alt.X("seconds:Q", title="wall time (s, summed over the stage's jobs)"),
            tooltip=["stage", "seconds", "jobs"],
        )
        .properties(width=420, height=max(60, 22 * data.height), title=title)
    )


def phase_chart(summary, value: str, *, title: str, value_title: str) -> alt.TopLevelMixin:
    """Phase diagram heat map: share of hard RL prompts (x) by KL coefficient (y), coloured by
    ``value`` (diverging around 0), each cell labelled with its ``outcome`` column; one panel
    per (temperature, RL step)."""
    import polars as pl

    data = summary.with_columns(
        pl.format("T={} · step {}", pl.col("temperature"), pl.col("step")).alias("panel"),
        pl.col(value).round(3),
    )
    panels = data.sort(["temperature", "step"])["panel"].unique(maintain_order=True).to_list()
    limit = float(data[value].abs().max() or 1.0)
    base = alt.Chart(data).encode(
        x=alt.X("hard_share:O", title="carry-prompt share (fraction)"),
        y=alt.Y("beta:O", title="β (KL)", sort="descending"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            title=value_title,
            scale=alt.Scale(scheme="redblue", domain=[-limit, limit], domainMid=0),
        ),
        tooltip=["panel", "hard_share", "beta", value, "outcome", "seeds"],
    )
    text = base.mark_text(fontSize=9).encode(text="outcome:N")
    return (
        alt.layer(cells, text, data=data)
        .properties(width=250, height=96)
        .facet(facet=alt.Facet("panel:N", title=None, sort=panels), columns=2)
        .properties(title=title)
    )
