"""A small book for the book tests: a copy of the repository's book (its real _config.yml, print
styles and markdown pages) plus one papermill-executed notebook page with a chart, inline and
display math, code hidden behind a toggle, and a table wider than the page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from analysis import page_registry
from analysis.page_registry import Page

REPO = Path(__file__).resolve().parents[1]

CHART_PAGE = Page("chart", "Chart page", None, "page")
CHART_TITLE = "Chart page"
HIDDEN_SOURCE_MARK = "hidden_helper_value"  # only in the source of a hide-input cell
WIDE_COLUMNS = [f"widecolumn{i:02d}" for i in range(18)]


def chart_notebook(path: Path) -> None:
    """Write the unexecuted chart page: a parameters cell, a chart, math, a hidden cell, a wide table."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("points = 3")
    params.metadata["tags"] = ["parameters"]
    chart = nbformat.v4.new_code_cell(
        "import altair as alt\nimport polars as pl\n\nfrom analysis import charts\n\ncharts.enable()\n"
        f"{HIDDEN_SOURCE_MARK} = points\n"
        "df = pl.DataFrame({'k': list(range(1, points + 1)), 'y': [i * i for i in range(points)]})\n"
        "alt.Chart(df).mark_line().encode(x='k', y='y').properties(title='smoke chart')"
    )
    chart.metadata["tags"] = ["hide-input"]
    wide = nbformat.v4.new_code_cell(
        "from analysis import tables\n\n"
        f"columns = {WIDE_COLUMNS!r}\n"
        "tables.show(pl.DataFrame({c: [f'{c}-value-{r}' for r in range(3)] for c in columns}))"
    )
    wide.metadata["tags"] = ["hide-input"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {CHART_TITLE}\n\nInline math: $\\mathrm{{pass}}@k$, and the estimator\n\n"
            "$$\\mathrm{pass}@k = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k}.$$"
        ),
        params,
        chart,
        nbformat.v4.new_markdown_cell("## A wide table\n\nEvery column must reach the page."),
        wide,
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def execute(src: Path, dst: Path, **params: object) -> Path:
    """Run ``src`` through papermill into ``dst``."""
    papermill = Path(sys.executable).with_name("papermill")
    args = [str(papermill), str(src), str(dst)]
    for k, v in params.items():
        args += ["-p", k, str(v)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, check=True, capture_output=True)
    return dst


def copy_book(dst: Path) -> Path:
    """The repository's book folder, without build outputs."""
    shutil.copytree(REPO / "book", dst, ignore=shutil.ignore_patterns("_build", "generated", "vega-bundle.js"))
    return dst


def markdown_pages(book: Path) -> list[Page]:
    """The registry's markdown pages whose file is in ``book``."""
    return [p for p in page_registry.PAGES if p.markdown is not None and (book / p.markdown).is_file()]


def page_title(book: Path, page: Page) -> str:
    """The first heading of a markdown page (what the page is called in the book and the PDF)."""
    for line in (book / str(page.markdown)).read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    msg = f"{page.markdown} has no level-1 heading"
    raise AssertionError(msg)


def fixture_book(root: Path) -> tuple[Path, list[Page]]:
    """Build the fixture's sources under ``root``: ``root/book`` with its table of contents written."""
    from analysis import book

    site_src = copy_book(root / "book")
    chart_notebook(root / "chart.ipynb")
    execute(root / "chart.ipynb", site_src / "generated" / "chart.ipynb", points=5)
    pages = [CHART_PAGE, *markdown_pages(site_src)]
    book.write_toc(site_src, pages)
    return site_src, pages
