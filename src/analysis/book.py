"""Building the published report: offline assets, the Jupyter Book build, PDF, checks.

The book must work with no network: Altair charts draw from a Vega bundle shipped in the
site (``_static/vega-bundle.js``, written here from vl-convert's copy), MathJax is served by
``sphinx-mathjax-offline``, and ``external_references`` finds anything a page would still load
from elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.store import atomic_write_text

if TYPE_CHECKING:
    from analysis.study import Study

BUNDLE_NAME = "vega-bundle.js"

# Chromium flags that work headless on this kind of machine (no sandbox as root, no GPU, no
# background connections to Google's hosts, which are unreachable here).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def write_vega_bundle(book_dir: str | os.PathLike[str]) -> Path:
    """Write ``<book>/_static/vega-bundle.js`` (Vega, Vega-Lite, Vega-Embed) unless current.

    The bundle declares top-level constants, so it is wrapped in a function scope: otherwise
    its names collide with other classic scripts on the page. Its first line records the
    Vega-Lite version so that a change of Altair rewrites it.
    """
    from analysis.charts import VL_VERSION, vega_bundle_js

    path = Path(book_dir) / "_static" / BUNDLE_NAME
    header = f"/* vega bundle for Vega-Lite {VL_VERSION}, written by analysis.book */\n"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            if f.readline() == header:
                return path
    atomic_write_text(header + "(function () {\n" + vega_bundle_js() + "\n})();\n", path)
    return path


def jupyter_book_executable() -> str:
    """The ``jupyter-book`` command of the running environment."""
    candidate = Path(sys.executable).with_name("jupyter-book")
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("jupyter-book")
    if found is None:
        msg = "jupyter-book is not installed in this environment (pip install -e .)"
        raise FileNotFoundError(msg)
    return found


def build_book(book_dir: str | os.PathLike[str], builder: str = "html", quiet: bool = True) -> Path:
    """Run ``jupyter-book build`` on ``book_dir``; return the output folder.

    Warnings are not errors here (the executed notebooks are the workflow's outputs, and a
    missing optional page should not stop a report); ``external_references`` checks what
    matters for offline use.
    """
    book = Path(book_dir)
    write_vega_bundle(book)
    cmd = [jupyter_book_executable(), "build", str(book), "--builder", builder]
    if quiet:
        cmd.append("--quiet")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        msg = f"jupyter-book build failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        raise RuntimeError(msg)
    return book / "_build" / builder


_ATTR = re.compile(
    r"""<(script|link|img|iframe|source|embed|object)\b[^>]*?\b(src|href|data)\s*=\s*["']([^"']+)["']""", re.I
)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""", re.I)


def _is_external(url: str) -> bool:
    u = url.strip().lower()
    return u.startswith(("http://", "https://", "//", "ftp://"))


def external_references(site_dir: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(file, url) for every resource a built page or stylesheet would load from outside the site.

    Looks at ``src``/``href``/``data`` of script, link, img, iframe, source, embed and object
    tags in HTML files (plain ``<a href>`` links are navigation, not loads, and are allowed), and
    at ``url(...)`` / ``@import`` in CSS files.
    """
    site = Path(site_dir)
    found: list[tuple[str, str]] = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8", errors="replace")
            for tag, attr, url in _ATTR.findall(text):
                if tag.lower() == "link" and attr.lower() == "href":
                    rel = re.search(r"""rel\s*=\s*["']([^"']+)""", _tag_text(text, url) or "", re.I)
                    if rel and not {"stylesheet", "preload", "icon", "modulepreload", "manifest"} & set(
                        rel.group(1).lower().split()
                    ):
                        continue
                if _is_external(url):
                    found.append((str(path.relative_to(site)), url))
        elif path.suffix == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            for a, b in _CSS_URL.findall(text):
                url = a or b
                if _is_external(url):
                    found.append((str(path.relative_to(site)), url))
    return found


def _tag_text(html: str, url: str) -> str | None:
    pos = html.find(url)
    if pos == -1:
        return None
    start = html.rfind("<", 0, pos)
    end = html.find(">", pos)
    return html[start : end + 1]


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome binary, or ``None`` if none is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    exe = chromium_executable()
    if exe is None:
        msg = "headless Chromium is not installed (Debian: apt-get install chromium)"
        raise FileNotFoundError(msg)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def rendered_dom(url: str, budget_ms: int = 10000, timeout: float = 120) -> str:
    """The DOM of ``url`` after its scripts ran (headless Chromium ``--dump-dom``)."""
    result = _chromium([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout)
    if result.returncode != 0 or not result.stdout.strip():
        msg = f"chromium could not render {url}: {result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return result.stdout


def screenshot(url: str, png_path: str | os.PathLike[str], size: str = "1280,1600", budget_ms: int = 10000) -> Path:
    """Save a screenshot of ``url`` (headless Chromium)."""
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    result = _chromium([f"--window-size={size}", f"--virtual-time-budget={budget_ms}", f"--screenshot={out}", url], 120)
    if result.returncode != 0 or not out.is_file():
        msg = f"chromium could not screenshot {url}: {result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return out


def print_pdf(html_file: str | os.PathLike[str], pdf_path: str | os.PathLike[str], budget_ms: int = 15000) -> Path:
    """Print a (single-page) HTML build to PDF with headless Chromium, charts and math included."""
    src = Path(html_file).resolve()
    out = Path(pdf_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [f"--virtual-time-budget={budget_ms}", "--no-pdf-header-footer", f"--print-to-pdf={out}", src.as_uri()]
    result = _chromium(args, 300)
    if result.returncode != 0 or not out.is_file():
        msg = f"chromium could not print {src} to PDF: {result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return out


# ---------------------------------------------------------------------------------------------
# Assembling a study's report

# (page, title) in reading order; the book shows those the study produced.
FINDING_PAGES = ("passk", "histogram", "coverage", "perplexity", "delta_se", "comparison")
METHOD_PAGES = ("methods.md", "toyworld.md", "toyworld", "models", "grading")
REPRODUCE_PAGES = ("reproducibility", "own-models.md")


def _tidy_notebook(src: Path, dst: Path) -> None:
    """Copy an executed notebook, hiding papermill's injected-parameters cell in the book."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)


def assemble_book(study: Study, book_dir: str | os.PathLike[str] = "book") -> Path:
    """Put ``study``'s executed pages into ``<book>/generated`` and write the table of contents."""
    book = Path(book_dir)
    generated = book / "generated"
    if generated.exists():
        shutil.rmtree(generated)
    executed = study.dir / "notebooks"
    available: dict[str, Path] = {p.stem: p for p in (executed / "pages").glob("*.ipynb")}
    if (executed / "models.ipynb").is_file():
        available["models"] = executed / "models.ipynb"
    if "overview" not in available:
        msg = f"the study's overview page is missing ({executed / 'pages' / 'overview.ipynb'}): run the workflow first"
        raise FileNotFoundError(msg)
    for name, path in available.items():
        _tidy_notebook(path, generated / f"{name}.ipynb")

    def entries(names: tuple[str, ...]) -> list[str]:
        out = []
        for name in names:
            if name.endswith(".md"):
                if name == "toyworld.md" and study.config.toyworld is None:
                    continue
                if (book / name).is_file():
                    out.append(name.removesuffix(".md"))
            elif name in available:
                out.append(f"generated/{name}")
        return out

    lines = ["format: jb-book", "root: generated/overview", "parts:"]
    for caption, names in (("Findings", FINDING_PAGES), ("Methods", METHOD_PAGES), ("Reproduce", REPRODUCE_PAGES)):
        chapters = entries(names)
        if chapters:
            lines.append(f"  - caption: {caption}")
            lines.append("    chapters:")
            lines.extend(f"      - file: {c}" for c in chapters)
    atomic_write_text("\n".join(lines) + "\n", book / "_toc.yml")
    return book


def build_report(study: Study, book_dir: str | os.PathLike[str] = "book") -> dict[str, object]:
    """Assemble and build ``study``'s book, check it loads nothing from outside, record it."""
    from analysis.store import atomic_write_json

    book = assemble_book(study, book_dir)
    site = build_book(book)
    external = external_references(site)
    if external:
        listed = "\n".join(f"  {f}: {u}" for f, u in external[:20])
        msg = f"the built book loads resources from outside the site:\n{listed}"
        raise RuntimeError(msg)
    info = {
        "study": study.config.name,
        "config_hash": study.config.hash,
        "html": str((site / "index.html").resolve()),
        "pages": sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "_static" not in p.parts),
    }
    atomic_write_json(info, study.dir / "book.json")
    return info


def main(argv: list[str] | None = None) -> int:
    """Build a study's report (``build CONFIG``) or print the current book to PDF (``pdf``)."""
    import argparse

    from analysis.study import Study

    parser = argparse.ArgumentParser(prog="python -m analysis.book", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assemble and build the book of a study whose workflow has run")
    b.add_argument("config", help="study config (YAML)")
    b.add_argument("--book", default="book", help="the Jupyter Book folder (default: book)")
    p = sub.add_parser("pdf", help="build the book as one HTML page and print it to PDF with headless Chromium")
    p.add_argument("--book", default="book")
    p.add_argument("--out", default="book/_build/report.pdf")
    s = sub.add_parser("screenshots", help="screenshot every page of the built book (headless Chromium)")
    s.add_argument("--book", default="book")
    s.add_argument("--out", default="book/_build/screenshots")
    args = parser.parse_args(argv)
    if args.command == "build":
        info = build_report(Study.load(args.config), args.book)
        sys.stdout.write(f"Report: {info['html']}\n")
    elif args.command == "screenshots":
        site = Path(args.book) / "_build" / "html"
        for page in sorted((site / "generated").glob("*.html")):
            shot = screenshot(page.resolve().as_uri(), Path(args.out) / f"{page.stem}.png", size="1280,2600")
            sys.stdout.write(f"{shot}\n")
    else:
        site = build_book(args.book, builder="singlehtml")
        pdf = print_pdf(site / "index.html", args.out)
        sys.stdout.write(f"PDF: {pdf}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
