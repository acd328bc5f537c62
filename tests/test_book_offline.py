"""The book builds from papermill-executed notebooks and works with no network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from analysis import book

REPO = Path(__file__).resolve().parents[1]


def _chart_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("points = 3")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Chart page\n\nInline math: $\\mathrm{pass}@k$."),
        params,
        nbformat.v4.new_code_cell(
            "import altair as alt\nimport polars as pl\n\nfrom analysis import charts\n\ncharts.enable()\n"
            "df = pl.DataFrame({'k': list(range(1, points + 1)), 'y': [i * i for i in range(points)]})\n"
            "alt.Chart(df).mark_line().encode(x='k', y='y').properties(title='smoke chart')"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    """A copy of the repository's book (its real _config.yml and pages) plus one executed chart page."""
    root = tmp_path_factory.mktemp("book")
    site_src = root / "book"
    shutil.copytree(REPO / "book", site_src, ignore=shutil.ignore_patterns("_build", "generated", "vega-bundle.js"))
    _chart_notebook(root / "chart.ipynb")
    (site_src / "generated").mkdir()
    papermill = Path(sys.executable).with_name("papermill")
    subprocess.run(
        [str(papermill), str(root / "chart.ipynb"), str(site_src / "generated" / "chart.ipynb"), "-p", "points", "5"],
        check=True,
        capture_output=True,
    )
    (site_src / "_toc.yml").write_text("format: jb-book\nroot: methods\nchapters:\n  - file: generated/chart\n")
    return book.build_book(site_src)


def test_no_page_loads_anything_from_outside_the_site(built_site):
    pages = list(built_site.rglob("*.html"))
    assert len(pages) >= 2
    assert book.external_references(built_site) == []
    assert (built_site / "_static" / "vega-bundle.js").is_file()
    assert (built_site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_external_reference_scanner_finds_cdn_loads(tmp_path):
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script><a href="https://example.org">ok</a>'
        '<link rel="stylesheet" href="//fonts.example/x.css"><script src="_static/local.js"></script>'
    )
    (tmp_path / "s.css").write_text("@font-face { src: url('https://fonts.example/f.woff2'); }")
    found = book.external_references(tmp_path)
    assert ("a.html", "https://cdn.jsdelivr.net/npm/vega@6") in found
    assert ("a.html", "//fonts.example/x.css") in found
    assert ("s.css", "https://fonts.example/f.woff2") in found
    assert all(url != "https://example.org" for _, url in found)


@pytest.mark.browser
def test_chart_and_math_render_in_headless_chromium(built_site):
    if book.chromium_executable() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    dom = book.rendered_dom((built_site / "generated" / "chart.html").resolve().as_uri())
    # vegaEmbed replaced the static PNG by an SVG chart drawn from the local bundle.
    assert 'data-drawn="yes"' in dom
    assert 'class="marks"' in dom
    assert '<img class="rlvr-chart-static"' not in dom
    assert "mjx-container" in dom  # MathJax typeset the inline formula from the local copy


@pytest.mark.browser
def test_single_page_build_prints_to_pdf(built_site, tmp_path):
    if book.chromium_executable() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    single = book.build_book(built_site.parents[1], builder="singlehtml")
    pdf = book.print_pdf(single / "index.html", tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2
