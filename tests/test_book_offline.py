"""The book builds from papermill-executed notebooks, with Sphinx warnings as errors, and works with
no network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from book_fixture import REPO, copy_book, fixture_book

from analysis import book


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    """The repository's book (real _config.yml, static pages) plus one executed chart page, built strictly."""
    site_src, _ = fixture_book(tmp_path_factory.mktemp("book"))
    return book.build_book(site_src)


def test_every_static_page_builds_without_a_warning(built_site):
    # build_book runs with --warningiserror: getting here means no page warned.
    built = {p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html") if "_static" not in p.parts}
    for md in sorted((REPO / "book").glob("*.md")):
        assert f"{md.stem}.html" in built, f"book/{md.name} is not in the built book (is it in analysis.page_registry?)"
    assert "generated/chart.html" in built


def test_no_page_loads_anything_from_outside_the_site(built_site):
    pages = list(built_site.rglob("*.html"))
    assert len(pages) >= 2
    assert book.external_references(built_site) == []
    assert (built_site / "_static" / "vega-bundle.js").is_file()
    assert (built_site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (built_site / "_static" / "print.css").is_file()


def test_a_sphinx_warning_fails_the_build_and_every_warning_is_listed(tmp_path):
    site_src = tmp_path / "book"
    site_src.mkdir()
    shutil.copy2(REPO / "book" / "_config.yml", site_src / "_config.yml")
    (site_src / "index.md").write_text("# Root\n\nSee {doc}`no-such-page`.\n")
    (site_src / "other.md").write_text("# Other\n\nSee {ref}`no-such-label`.\n")
    toc = tmp_path / "toc.yml"
    toc.write_text("format: jb-book\nroot: index\nchapters:\n  - file: other\n")
    with pytest.raises(RuntimeError, match="warnings are errors") as err:
        book.build_book(site_src, toc=toc)
    message = str(err.value)
    assert "no-such-page" in message
    assert "no-such-label" in message  # keep-going: the second warning is listed too


def test_a_book_without_its_generated_contents_says_how_to_get_them(tmp_path):
    site_src = copy_book(tmp_path / "book")
    with pytest.raises(FileNotFoundError, match="assemble the book first"):
        book.build_book(site_src)


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
