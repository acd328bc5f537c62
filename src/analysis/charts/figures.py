"""The study's other figures: accuracy histograms, who-solves-what, perplexity, training logs,
wall times and the toy world's phase diagram."""

from __future__ import annotations

import altair as alt

from analysis.charts.style import facet_args, model_color_scale, model_shape, pair_scale


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
    facets = facet_args(hist, row, column)
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
    facets = facet_args(data, "benchmark", None)
    if facets:
        chart = chart.facet(**facets).resolve_scale(y="independent")
    return chart.properties(title=title)


TRAINING_TITLES = {
    "reward": "reward (mean per sample)",
    "kl": "KL to the reference (nats per token)",
    "loss": "loss (nats per token)",
    "length": "response length (tokens)",
    "entropy": "entropy (nats per token)",
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
        .properties(width=260, height=170)
        # Two panels a row, so four metrics and the legend fit a book page's width.
        .facet(facet=alt.Facet("panel:N", title=None, sort=panels), columns=2)
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


def rarity_chart(long, *, title: str) -> alt.TopLevelMixin:
    """Toy world 2's mechanism: a value (pass@1, solved share) by the pretraining rank of a problem's
    rarest skill (1 = most common), one line per series (the base, each RL condition), one panel
    per metric and temperature. ``long``: temperature, rarest_rank, series, metric, value."""
    series = list(dict.fromkeys(long["series"].to_list()))
    base = alt.Chart(long).encode(
        x=alt.X("rarest_rank:O", title="rank of the rarest skill (1 = most common)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="share (mean over seeds)", scale=alt.Scale(domain=[0, 1])),
        tooltip=["series", "metric", "temperature", "rarest_rank", alt.Tooltip("value:Q", format=".3f")],
    )
    color = alt.Color("series:N", sort=series, title="model")
    lines = base.mark_line(strokeWidth=1.5).encode(color=color.legend(None))
    # colour and shape in one layer, so the legend shows both in one key
    points = base.mark_point(filled=True, size=35).encode(
        color=color, shape=alt.Shape("series:N", sort=series, title="model")
    )
    chart = alt.layer(lines, points).properties(width=260, height=170)
    return chart.facet(
        row=alt.Row("temperature:N", title="temperature"), column=alt.Column("metric:N", title=None)
    ).properties(title=title)
