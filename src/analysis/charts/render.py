"""The house theme and the offline renderer of every chart (see :mod:`analysis.charts`)."""

from __future__ import annotations

import base64
import html
import json
import uuid
from pathlib import Path
from typing import Any

import altair as alt

from analysis.store import atomic_write_bytes

RENDERER = "book"
THEME = "study"
VL_VERSION = alt.SCHEMA_VERSION.lstrip("v")  # e.g. "6.4.1"
PNG_SCALE = 2


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
    return atomic_write_bytes(chart_png(chart.to_dict()), path)


def vega_bundle_js() -> str:
    """A self-contained script defining ``window.vegaEmbed`` (Vega, Vega-Lite, Vega-Embed)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=_vl_convert_version())


# ---------------------------------------------------------------------------------------------
