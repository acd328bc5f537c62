import base64
import json
import re
from pathlib import Path

import altair as alt
import polars as pl
import pytest

from analysis import charts

REPO = Path(__file__).resolve().parents[1]


def _chart():
    df = pl.DataFrame({"k": [1, 2, 4], "pass_at_k": [0.2, 0.3, 0.4]})
    return alt.Chart(df).mark_line().encode(x="k", y="pass_at_k").properties(title="pass@k")


def test_renderer_bundle_has_png_and_offline_html():
    charts.enable()
    bundle = _chart()._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    html = bundle["text/html"]
    assert "vegaEmbed" in html
    assert "data:image/png;base64," in html
    # Nothing is fetched: no script/img source outside the page (the spec's "$schema" URL is an
    # identifier that Vega never loads).
    assert "<script src" not in html
    assert "cdn." not in html
    assert 'src="http' not in html


def test_save_png(tmp_path):
    path = charts.save_png(_chart(), tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# The chart checklist (CONTRIBUTING.md, "Charts: the checklist"), checked on every builder's spec.

ROLES = {"base": "base", "rl-a": "rl", "rl-b": "rl", "distill": "distill"}
MODELS = list(ROLES)


def _curves(extra: dict | None = None) -> pl.DataFrame:
    rows = []
    for i, m in enumerate(MODELS):
        for k in (1, 2, 4, 8, 16):
            row = {"model": m, "benchmark": "toy", "temperature": 1.0, "k": k, "pass_at_k": 0.1 * i + 0.02 * k}
            rows.append(row | (extra or {}))
    return pl.DataFrame(rows)


def _builders() -> dict[str, object]:
    """Every chart builder of the report, on small synthetic inputs shaped like the real ones."""
    from analysis import boundary_charts as BC

    curves = _curves().with_columns(lo=pl.col("pass_at_k") - 0.05, hi=pl.col("pass_at_k") + 0.05)
    seeds = pl.concat([_curves({"seed": s}) for s in (0, 1)])
    paired = pl.DataFrame(
        [
            {
                "benchmark": "toy",
                "temperature": 1.0,
                "model_a": m,
                "model_b": "base",
                "k": k,
                "diff": 0.1 - 0.02 * k + 0.03 * i,
            }
            for i, m in enumerate(MODELS[1:])
            for k in (1, 2, 4, 8)
        ]
    ).with_columns(lo=pl.col("diff") - 0.05, hi=pl.col("diff") + 0.05)
    hist = pl.DataFrame(
        [
            {"model": m, "benchmark": "toy", "temperature": 1.0, "bin": b, "count": i + j, "percent": 1.0}
            for i, m in enumerate(MODELS)
            for j, b in enumerate(["0", "(0, 0.5]", "(0.5, 1)", "1"])
        ]
    )
    upset = pl.DataFrame({"models": [["base", "rl-a"], ["base"], []], "count": [5, 3, 2]})
    ppl_table = pl.DataFrame(
        [
            {"benchmark": "toy", "scorer": s, "generator": g, "median": 1.5, "responses": 4}
            for s in MODELS
            for g in MODELS
        ]
    )
    scores = pl.DataFrame(
        [{"benchmark": "toy", "scorer": "base", "generator": g, "ppl": 1.0 + i / 7} for g in MODELS for i in range(5)]
    )
    delta = pl.DataFrame(
        [
            {"other": m, "base": "base", "benchmark": b, "k": 16, "delta": 0.2, "lo": 0.1, "hi": 0.3}
            for m in MODELS[1:]
            for b in ("toy", "toy-hard")
        ]
    )
    findings = pl.DataFrame(
        [
            {"benchmark": "toy", "temperature": 1.0, "base": "base", "other": m, "n": 16}
            | {"pass@1 base": 0.2, "pass@n base": 0.8, "pass@1 other": 0.4, "pass@n other": 0.7}
            for m in MODELS[1:]
        ]
    )
    log = pl.DataFrame(
        [
            {"model": m, "metric": metric, "step": s, "value": 0.1 * s}
            for m in MODELS[1:]
            for metric in ("reward", "kl")
            for s in range(4)
        ]
    )
    times = pl.DataFrame({"stage": ["sample", "grade", "sample"], "seconds": [10.0, 2.0, 12.0]})
    phase = pl.DataFrame(
        [
            {"temperature": 1.0, "step": 100, "hard_share": h, "beta": b, "gain": h - b, "outcome": "wider", "seeds": 2}
            for h in (0.0, 0.5)
            for b in (0.0, 0.1)
        ]
    )
    bands = paired.with_columns(
        pair=pl.col("model_a") + " − base",
        decision=pl.when(pl.col("lo") > 0)
        .then(pl.lit("other better"))
        .when(pl.col("hi") < 0)
        .then(pl.lit("base better"))
        .otherwise(pl.lit("open")),
    )
    checked = pl.concat([_curves({"check": c}) for c in ("answer", "answer + reasoning")])
    floor = _curves().with_columns(floor=pl.lit(0.05), pass_above_floor=pl.col("pass_at_k") - 0.05)
    gpass = _curves().rename({"pass_at_k": "value"}).with_columns(metric=pl.lit("mG-Pass"))
    support = pl.DataFrame(
        [
            {"pair": f"{m} − base", "grain": g, "preserved": 5, "shrunk": 2, "expanded": 1}
            for m in MODELS[1:3]
            for g in ("problem", "answer")
        ]
    )
    from analysis.pages.toyworld2 import rarity_long

    rarity = rarity_long(
        pl.DataFrame(
            [
                {"condition": c, "temperature": t, "rarest_rank": r, "pass@1_base": 0.5 / r, "pass@1_rl": 0.9 / r}
                | {"pass@n_base": 1.0, "pass@n_rl": 1.0 - 0.01 * r}
                for c in ("default", "rare-absent")
                for t in (0.6, 1.0)
                for r in range(1, 13)
            ]
        )
    )
    plan = pl.DataFrame(
        [
            {"pair": f"{m} − base", "n": n, "power": min(1.0, n / 64), "share_gain": 0.1, "share_loss": 0.2}
            for m in MODELS[1:]
            for n in (8, 16, 32, 64)
        ]
    )
    return {
        "passk_chart": charts.passk_chart(curves, ROLES),
        "seed_curves_chart": charts.seed_curves_chart(seeds, ROLES),
        "difference_chart": charts.difference_chart(paired, ROLES),
        "difference_chart (no roles)": charts.difference_chart(paired),
        "histogram_chart": charts.histogram_chart(hist, ROLES),
        "upset_chart": charts.upset_chart(upset, ["base", "rl-a"]),
        "perplexity_heatmap": charts.perplexity_heatmap(ppl_table, MODELS, base="base"),
        "perplexity_chart": charts.perplexity_chart(scores, ROLES),
        "delta_se_chart": charts.delta_se_chart(delta),
        "findings_chart": charts.findings_chart(findings, ROLES),
        "training_chart": charts.training_chart(log, ROLES),
        "wall_time_chart": charts.wall_time_chart(times),
        "phase_chart": charts.phase_chart(phase, "gain", title="gain", value_title="Δ pass@1"),
        "band_chart": BC.band_chart(bands),
        "checked_chart": BC.checked_chart(checked, ROLES),
        "floor_chart": BC.floor_chart(floor, ROLES),
        "gpass_chart": BC.gpass_chart(gpass, ROLES),
        "support_chart": BC.support_chart(support),
        "planner_chart": BC.planner_chart(plan, ROLES),
        "planner_chart (no roles)": BC.planner_chart(plan),
        "training_chart (no roles)": charts.training_chart(log),
        "rarity_chart": charts.rarity_chart(rarity, title="By the rarest skill"),
    }


def _views(node: dict, inherited: dict | None = None, facets: tuple[str, ...] = ()):
    """Yield (layers, facet fields) per view of a Vega-Lite spec: the encodings of a layer group
    (each with its parents' encodings merged in) and the fields its enclosing facets split by."""
    enc = (inherited or {}) | node.get("encoding", {})
    facet = node.get("facet", {})
    if facet:
        parts = [facet] if "field" in facet else list(facet.values())
        facets = facets + tuple(p["field"] for p in parts if isinstance(p, dict) and "field" in p)
    if "layer" in node:
        layers = []
        for child in node["layer"]:
            if "layer" in child:
                yield from _views(child, enc, facets)
            else:
                layers.append(enc | child.get("encoding", {}))
        if layers:
            yield layers, facets
    elif "spec" in node:
        yield from _views(node["spec"], enc, facets)
    elif any(key in node for key in ("vconcat", "hconcat", "concat")):
        for key in ("vconcat", "hconcat", "concat"):
            for child in node.get(key, []):
                yield from _views(child, enc, facets)
    elif "mark" in node:
        yield [enc], facets


def _field(channel: object) -> str | None:
    return channel.get("field") if isinstance(channel, dict) else None


@pytest.fixture(scope="module")
def specs() -> dict[str, dict]:
    return {name: chart.to_dict() for name, chart in _builders().items()}


def test_every_builder_is_checked_and_renders(specs, tmp_path):
    from analysis import boundary_charts as BC

    builders = {n for n in dir(charts) if n.endswith(("_chart", "_heatmap")) and not n.startswith("_")}
    builders |= {n for n in dir(BC) if n.endswith("_chart") and not n.startswith("_")}
    assert builders <= {name.split(" ")[0] for name in specs}, "a chart builder has no checklist test"
    for name, spec in specs.items():
        png = charts.chart_png(spec, scale=1)
        assert png[:4] == b"\x89PNG", name


def test_every_quantitative_axis_names_its_unit(specs):
    """Checklist 1: a quantitative x/y axis has an explicit title with its unit in parentheses
    (in at least one layer of a view, and no layer gives it a title without one)."""
    for name, spec in specs.items():
        for layers, _ in _views(spec):
            for axis in ("x", "y"):
                channels = [e[axis] for e in layers if isinstance(e.get(axis), dict) and "field" in e[axis]]
                quantitative = [
                    c for c in channels if c.get("type") == "quantitative" and c.get("axis", {}) is not None
                ]
                if not quantitative:
                    continue
                titles = [c["title"] for c in quantitative if c.get("title")]
                assert titles, f"{name}: {axis} axis has no title"
                for title in titles:
                    assert re.search(r"\(.+\)", title), f"{name}: {axis} axis title {title!r} names no unit"


def test_model_legends_use_the_page_words_and_the_role_colours(specs):
    """Checklists 2 and 3: a model channel is titled "model" (or says whose models it means), and
    model colours come from model_color_scale (base blue, RL orange, distilled green)."""
    expected = charts.model_color_scale(ROLES).to_dict()
    assert expected["range"][0] in charts.ROLE_SHADES["base"]
    assert set(expected["range"][1:3]) <= set(charts.ROLE_SHADES["rl"])
    assert expected["range"][3] in charts.ROLE_SHADES["distill"]
    for name, spec in specs.items():
        for layers, _ in _views(spec):
            for enc in layers:
                for channel in ("color", "shape", "strokeDash"):
                    ch = enc.get(channel)
                    if _field(ch) in ("model", "generator") and "(no roles)" not in name:
                        title = ch.get("title", "model")
                        assert title is None or "model" in title, f"{name}: {channel} legend {title!r}"
                        if channel == "color":
                            assert ch.get("scale") == expected, f"{name}: model colours not from model_color_scale"
                    if _field(ch) == "seed":
                        assert ch.get("title") == "sampling seed", name
                    if channel == "color" and _field(ch) and _field(ch) not in ("model", "generator"):
                        assert ch.get("title"), f"{name}: colour by {_field(ch)} needs a legend title saying so"


def _color_scale(spec: dict) -> dict:
    return next(e["color"]["scale"] for layers, _ in _views(spec) for e in layers if "scale" in e.get("color", {}))


@pytest.mark.parametrize("name", ["difference_chart", "planner_chart"])
def test_pair_charts_colour_each_pair_like_its_other_model(specs, name):
    colors = charts.model_color_scale(ROLES).to_dict()
    by_model = dict(zip(colors["domain"], colors["range"], strict=True))
    assert _color_scale(specs[name])["range"] == [by_model[m] for m in MODELS[1:]]
    # Without roles, no pair may take a role's hue (a reader would read blue as "base").
    role_hues = {c for shades in charts.ROLE_SHADES.values() for c in shades} | set(charts.ROLE_COLORS.values())
    assert not set(_color_scale(specs[f"{name} (no roles)"])["range"]) & role_hues


# Where colour's distinctions are carried by a field derived from it, not the field itself.
SECOND_CHANNEL_EXCEPTIONS = {"perplexity_chart": "x labels PPL_scorer(Y_generator) name the generator"}


def test_no_chart_relies_on_colour_alone(specs):
    """Checklist 4: what a nominal colour separates, another channel separates too (shape, dash,
    text, a labelled nominal axis, or a facet), on the same field."""
    for name, spec in specs.items():
        if name in SECOND_CHANNEL_EXCEPTIONS:
            continue
        for layers, facets in _views(spec):
            for enc in layers:
                color = enc.get("color", {})
                field = _field(color)
                if field is None or color.get("type") != "nominal":
                    continue
                others = set(facets)
                for e in layers:
                    others |= {_field(e.get(c)) for c in ("shape", "strokeDash", "text")}
                    others |= {
                        _field(e.get(c))
                        for c in ("x", "y")
                        if isinstance(e.get(c), dict) and e[c].get("axis", {}) is not None
                    }
                assert field in others, f"{name}: colour by {field} has no second channel"


CHART_CELL = re.compile(r"chart|heatmap|display\(view\)")


def _shows_a_chart(source: str) -> bool:
    lines = [ln for ln in source.splitlines() if not ln.startswith(("from ", "import ")) and "charts.enable" not in ln]
    return bool(CHART_CELL.search("\n".join(lines)))


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_chart_in_a_notebook_has_a_look_for_caption(path):
    """Checklist 5: a markdown cell right before or after each chart cell says what to look at."""
    cells = json.loads(path.read_text())["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or not _shows_a_chart("".join(cell["source"])):
            continue
        near = [cells[j] for j in (i - 1, i + 1) if 0 <= j < len(cells) and cells[j]["cell_type"] == "markdown"]
        assert any("Look for:" in "".join(c["source"]) for c in near), (
            f"{path.name} cell {i} shows a chart with no 'Look for:' caption next to it"
        )
