import base64

import altair as alt
import polars as pl

from analysis import charts


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
