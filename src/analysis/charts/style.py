"""What every chart shares: colours per model role, axis titles with units, the k axis and its
thinning, and facets (CONTRIBUTING.md, "Charts: the checklist")."""

from __future__ import annotations

from typing import Any

import altair as alt

# Colours per model role, used by every chart so a model keeps its colour across pages.
ROLE_COLORS = {"base": "#4C72B0", "rl": "#DD8452", "distill": "#55A868", "other": "#8172B3"}

ROLE_SHADES = {
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
        shades = ROLE_SHADES.get(role, ROLE_SHADES["other"])
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


def thin_ks(df, by: list[str]):
    import polars as pl

    if df.is_empty():
        return df
    k_max = int(df["k"].max())
    keep = log_spaced_ks(k_max)
    return df.filter(pl.col("k").is_in(keep)).sort([*by, "k"])


def facet_args(df, row: str | None, column: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if row and row in df.columns and df[row].n_unique() > 1:
        args["row"] = alt.Row(f"{row}:N", title=None)
    if column and column in df.columns and df[column].n_unique() > 1:
        args["column"] = alt.Column(f"{column}:N", title=None)
    return args


NEUTRAL_COLORS = ["#8c564b", "#DA8BC3", "#7F7F7F", "#CCB974", "#4d4d4d", "#b07aa1", "#bab0ac", "#6b4f2a"]


def pair_scale(pairs: list[str], others: list[str], roles: dict[str, str] | None) -> alt.Scale:
    """Colour each (other − base) pair like its other model on every page where roles are known,
    else in neutral colours that no role uses."""
    if not roles:
        return alt.Scale(domain=pairs, range=[NEUTRAL_COLORS[i % len(NEUTRAL_COLORS)] for i in range(len(pairs))])
    by_model = model_color_scale(roles).to_dict()
    colors = dict(zip(by_model["domain"], by_model["range"], strict=True))
    return alt.Scale(domain=pairs, range=[colors.get(m, ROLE_COLORS["other"]) for m in others])
