"""The book as one PDF looks like the site: content only, math typeset, headings at their sizes,
wide tables whole, a title page and a table of contents with page numbers.

The PDF's text is read back with ``pdftotext`` (poppler-utils); words with their boxes with
``pdftotext -bbox``.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from book_fixture import CHART_TITLE, HIDDEN_SOURCE_MARK, WIDE_COLUMNS, fixture_book, page_title

from analysis import book, book_pdf

pytestmark = pytest.mark.browser

FACTS = (("Study", "fixture-study"), ("Config hash", "0123456789abcdef"), ("Printed", "2026-11-30 04:00 UTC"))


def _need_tools() -> None:
    if book.chromium_executable() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> tuple[book_pdf.PrintedBook, dict[str, str], str]:
    """The fixture book printed to PDF, the title of each of its pages, the book's title."""
    _need_tools()
    root = tmp_path_factory.mktemp("pdf")
    site_src, pages = fixture_book(root)
    single = book.build_book(site_src, builder="singlehtml")
    front = book.front_matter(pages, book.book_title(site_src), "A fixture study", FACTS)
    result = book_pdf.print_book(book.single_page(single, "generated/chart"), root / "report.pdf", front)
    titles = {p.docname: (CHART_TITLE if p.markdown is None else page_title(site_src, p)) for p in pages}
    return result, titles, front.title


def _text(pdf: Path, page: int | None = None, layout: bool = False) -> str:
    args = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    if layout:
        args.append("-layout")
    return subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _words(pdf: Path) -> list[tuple[int, float, float, float, float, float, str]]:
    """(page, page width, xMin, yMin, xMax, yMax, word) of every word."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = []
    for number, (width, body) in enumerate(
        re.findall(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', out, re.S), 1
    ):
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', body
        ):
            words.append((number, float(width), float(x0), float(y0), float(x1), float(y1), html.unescape(word)))
    return words


def test_the_pdf_has_the_content_and_none_of_the_site_controls(printed):
    result, _, _ = printed
    text = _text(result.path)
    for control in (
        "Skip to main content",
        "Back to top",
        "Ctrl+K",
        "Search the report",
        "Show code cell",
        "Hide code",
    ):
        assert control not in text, control
    assert HIDDEN_SOURCE_MARK not in text  # the source of a hide-input cell is not printed
    assert result.charts == {"yes": 1}  # the chart was drawn by Vega before printing
    assert not re.search(r"^\s*#\s*$", text, re.M), "a heading's # anchor was printed"


def test_math_is_typeset_not_raw_tex(printed):
    result, _, _ = printed
    text = _text(result.path)
    assert result.math >= 2  # the chart page's inline and display formulas, and the methods page's
    # markup that only math uses in these pages (\\frac is left out: book/graders.md quotes it as code)
    for raw in ("\\binom", "\\mathrm", "$$", "\\("):
        assert raw not in text, raw


def test_title_page_names_the_study_its_config_hash_and_date(printed):
    result, _, title = printed
    first = _text(result.path, 1)
    assert title in " ".join(first.split())
    for _, value in FACTS:
        assert value in first


def test_every_page_title_is_in_the_pdf_and_the_contents_give_its_page(printed):
    result, titles, _ = printed
    chapters = {c["doc"]: c for c in result.chapters}
    assert set(chapters) == set(titles)
    contents = _text(result.path, 2, layout=True)
    assert "Contents" in contents
    for doc, title in titles.items():
        chapter = chapters[doc]
        assert chapter["title"] == title
        page = chapter["page"]
        assert isinstance(page, int), (doc, page)
        assert page > 2, (doc, page)  # after the title page and the contents
        on_page = " ".join(_text(result.path, page).split())
        assert title in on_page, f"{title!r} is not on page {page}"
        line = next((ln for ln in contents.splitlines() if title in ln), None)
        assert line is not None, f"{title!r} is not in the contents"
        assert line.rstrip().endswith(str(page)), line
    assert result.pages >= 2 + len(titles)


def test_headings_print_at_their_sizes(printed):
    result, _, _ = printed
    words = _words(result.path)
    chart_page = next(c["page"] for c in result.chapters if c["doc"] == "generated/chart")
    on_page = [w for w in words if w[0] == chart_page]
    height = {w[6]: w[5] - w[3] for w in on_page}
    title, section, body = height["Chart"], height["wide"], height["Inline"]
    assert title > 1.6 * body
    assert body < section < title


def test_a_table_wider_than_the_page_keeps_every_column_on_the_page(printed):
    result, _, _ = printed
    text = _text(result.path)
    for column in WIDE_COLUMNS:
        assert column in text, column
    assert result.narrowed_tables >= 1
    for page, width, x0, _, x1, _, word in _words(result.path):
        assert x0 >= 0, f"page {page}: {word!r} starts left of the page ({x0:.0f})"
        assert x1 <= width, f"page {page}: {word!r} runs off the page ({x1:.0f} of {width:.0f})"


def test_charts_print_at_print_resolution(printed):
    result, _, _ = printed
    if shutil.which("pdfimages") is None:
        pytest.skip("pdfimages is not installed (apt-get install poppler-utils)")
    listing = subprocess.run(["pdfimages", "-list", str(result.path)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in listing.stdout.splitlines()[2:] if line.strip()]
    # Vega draws on a canvas, which Chromium prints as vector paths; any raster image left
    # (a chart's PNG fallback, a figure) must be dense enough for paper.
    for row in rows:
        x_ppi, y_ppi = int(row[12]), int(row[13])
        assert min(x_ppi, y_ppi) >= 180, f"page {row[0]}: an image at {x_ppi}x{y_ppi} ppi"
