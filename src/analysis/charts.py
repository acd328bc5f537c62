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
    window.vegaEmbed(root.querySelector(".rlvr-chart-live"), spec, {{actions: {{export: true, source: false, compiled: false, editor: false}}}})
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
            "legend": {"labelFontSize": 11, "titleFontSize": 12},
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
