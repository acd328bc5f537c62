"""Altair charts for notebooks and the book: the house theme, an offline renderer, and one
builder per figure type of the study.

``enable()`` turns on the ``book`` renderer. Each chart is displayed as a MIME bundle of

* ``text/html``: a static PNG, replaced by the interactive Vega chart when ``vegaEmbed`` is
  available in the page. The book ships the Vega bundle locally (``book/_static/``), so pages
  render interactively with no network; a viewer that runs no scripts keeps the PNG.
* ``image/png``: the same chart rendered by vl-convert, for PDF/LaTeX builds and for viewers
  that ignore HTML (GitHub).

No CDN is ever referenced. Modules: ``render`` (renderer, theme, PNG), ``style`` (colours per
role, axis titles, the k axis), ``curves`` (pass@k and its differences, ΔSE, pass@1 vs pass@n),
``figures`` (histograms, who solves what, perplexity, training logs, wall times, phase diagram).
Each builder takes tidy polars frames (as the metrics functions return them) and a mapping
model -> role for consistent colours.
"""

from analysis.charts.curves import delta_se_chart, difference_chart, findings_chart, passk_chart, seed_curves_chart
from analysis.charts.figures import (
    TRAINING_TITLES,
    histogram_chart,
    perplexity_chart,
    perplexity_heatmap,
    phase_chart,
    rarity_chart,
    training_chart,
    upset_chart,
    wall_time_chart,
)
from analysis.charts.render import (
    PNG_SCALE,
    RENDERER,
    THEME,
    VL_VERSION,
    book_renderer,
    chart_html,
    chart_png,
    enable,
    save_png,
    theme,
    vega_bundle_js,
)
from analysis.charts.style import (
    DIFF_TITLE,
    K_TITLE,
    NEUTRAL_COLORS,
    PASSK_TITLE,
    ROLE_COLORS,
    ROLE_SHADES,
    facet_args,
    k_axis,
    log_spaced_ks,
    model_color_scale,
    model_shape,
    pair_scale,
    thin_ks,
)

__all__ = [
    "DIFF_TITLE",
    "K_TITLE",
    "NEUTRAL_COLORS",
    "PASSK_TITLE",
    "PNG_SCALE",
    "RENDERER",
    "ROLE_COLORS",
    "ROLE_SHADES",
    "THEME",
    "TRAINING_TITLES",
    "VL_VERSION",
    "book_renderer",
    "chart_html",
    "chart_png",
    "delta_se_chart",
    "difference_chart",
    "enable",
    "facet_args",
    "findings_chart",
    "histogram_chart",
    "k_axis",
    "log_spaced_ks",
    "model_color_scale",
    "model_shape",
    "pair_scale",
    "passk_chart",
    "perplexity_chart",
    "perplexity_heatmap",
    "phase_chart",
    "rarity_chart",
    "save_png",
    "seed_curves_chart",
    "theme",
    "thin_ks",
    "training_chart",
    "upset_chart",
    "vega_bundle_js",
    "wall_time_chart",
]
