"""Building the published report: offline assets, the Jupyter Book build, PDF, checks.

Which pages the book has, in which order and section, comes from ``analysis.page_registry``;
the table of contents is generated from it into ``<book>/_build/_toc.yml``, so a build never
rewrites a tracked file. Sphinx warnings are errors. The PDF is printed by ``analysis.book_pdf``
(headless Chromium, ``analysis.browser``).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import page_registry
from analysis.book_pdf import FrontMatter, PrintedBook, print_book
from analysis.browser import chromium_executable, screenshot
from analysis.browser import rendered_dom as rendered_dom  # re-exported: callers use book.rendered_dom
from analysis.page_registry import Page
from analysis.store import atomic_write_text

if TYPE_CHECKING:
    from analysis.study import Study

BUNDLE_NAME = "vega-bundle.js"
TOC_FILE = "_build/_toc.yml"  # relative to the book folder; generated from analysis.page_registry


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


def toc_path(book_dir: str | os.PathLike[str]) -> Path:
    """Where the generated table of contents lives: the build folder (never a tracked file)."""
    return Path(book_dir) / TOC_FILE


def write_toc(book_dir: str | os.PathLike[str], pages: list[Page]) -> Path:
    """Write the table of contents of ``pages`` into ``<book>/_build``; return its path."""
    return atomic_write_text(page_registry.toc_yaml(pages), toc_path(book_dir))


def build_book(
    book_dir: str | os.PathLike[str],
    builder: str = "html",
    quiet: bool = True,
    toc: str | os.PathLike[str] | None = None,
) -> Path:
    """Run ``jupyter-book build`` on ``book_dir`` with warnings as errors; return the output folder.

    ``toc`` defaults to the generated ``<book>/_build/_toc.yml`` (``write_toc``). Every page is
    re-read (``--all``) so that a warning of an unchanged page is reported on every build, and
    the build keeps going after the first warning so that the error lists all of them.
    ``external_references`` checks what matters for offline use.
    """
    book = Path(book_dir)
    toc_file = Path(toc) if toc is not None else toc_path(book)
    if not toc_file.is_file():
        msg = f"no table of contents at {toc_file}: assemble the book first (python -m analysis.book build CONFIG)"
        raise FileNotFoundError(msg)
    write_vega_bundle(book)
    # Pages of an earlier build (another study's, or a page this study no longer has) must not
    # linger in the site: drop the previous output of this builder first.
    out = book / "_build" / builder
    if out.exists():
        shutil.rmtree(out)
    cmd = [jupyter_book_executable(), "build", str(book), "--builder", builder, "--toc", str(toc_file.resolve())]
    cmd += ["--warningiserror", "--keep-going", "--all"]
    if quiet:
        cmd.append("--quiet")
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        problems = sorted({line for line in (result.stdout + result.stderr).splitlines() if _is_problem(line)})
        listed = "\n".join(problems) or f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        msg = f"jupyter-book build failed ({result.returncode}), warnings are errors:\n{listed}"
        raise RuntimeError(msg)
    return book / "_build" / builder


def _is_problem(line: str) -> bool:
    return "WARNING:" in line or "ERROR:" in line or "CRITICAL:" in line


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


# ---------------------------------------------------------------------------------------------
# Assembling a study's report


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


def book_pages(study: Study, book_dir: str | os.PathLike[str] = "book") -> list[Page]:
    """The registry's pages of ``study`` that exist: executed notebooks and static markdown files."""
    book = Path(book_dir)
    executed = study.dir / "notebooks"
    out = []
    for p in page_registry.study_pages(study.config):
        source = book / p.markdown if p.markdown is not None else executed / str(p.executed)
        if source.is_file():
            out.append(p)
    return out


def assemble_book(study: Study, book_dir: str | os.PathLike[str] = "book") -> Path:
    """Put ``study``'s executed pages into ``<book>/generated``; write the contents into the build."""
    book = Path(book_dir)
    generated = book / "generated"
    if generated.exists():
        shutil.rmtree(generated)
    executed = study.dir / "notebooks"
    pages = book_pages(study, book)
    root = next((p for p in page_registry.PAGES if p.section is None), None)
    if root is None or root not in pages:
        msg = f"the study's {root.name if root else 'root'} page is missing under {executed}: run the workflow first"
        raise FileNotFoundError(msg)
    for p in pages:
        if p.executed is not None:
            _tidy_notebook(executed / p.executed, generated / f"{p.name}.ipynb")
    write_toc(book, pages)
    return book


def build_report(study: Study, book_dir: str | os.PathLike[str] = "book") -> dict[str, object]:
    """Assemble and build ``study``'s book, check it loads nothing from outside, record it."""
    from analysis.store import atomic_write_json

    book = assemble_book(study, book_dir)
    site = build_book(book)
    from analysis.downloads import SITE_FOLDER, sources

    for name, path in sources(study).items():  # the full tables the pages link to
        (site / SITE_FOLDER).mkdir(exist_ok=True)
        shutil.copy2(path, site / SITE_FOLDER / name)
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


def book_title(book_dir: str | os.PathLike[str]) -> str:
    """The ``title`` of the book's ``_config.yml``."""
    import yaml

    config = yaml.safe_load((Path(book_dir) / "_config.yml").read_text(encoding="utf-8")) or {}
    return str(config.get("title") or "Report")


def front_matter(
    pages: list[Page], title: str, subtitle: str = "", facts: tuple[tuple[str, str], ...] = ()
) -> FrontMatter:
    """Title page and contents of the PDF of ``pages`` (the registry's sections as its parts)."""
    root = next(p for p in pages if p.section is None)
    parts = tuple(
        (s, tuple(p.docname for p in pages if p.section == s))
        for s in page_registry.SECTIONS
        if any(p.section == s for p in pages)
    )
    return FrontMatter(title=title, subtitle=subtitle, facts=facts, root=root.docname, parts=parts)


def build_pdf(
    study: Study, book_dir: str | os.PathLike[str] = "book", out: str | os.PathLike[str] | None = None
) -> PrintedBook:
    """Assemble ``study``'s book, build it as one HTML page and print it to PDF."""
    book = assemble_book(study, book_dir)
    pages = book_pages(study, book)
    single = build_book(book, builder="singlehtml")
    facts = (
        ("Study", study.config.name),
        ("Config hash", study.config.hash),
        ("Printed", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    )
    front = front_matter(pages, book_title(book), study.config.title or study.config.name, facts)
    root = next(p for p in pages if p.section is None)
    target = Path(out) if out is not None else book / "_build" / "report.pdf"
    return print_book(single_page(single, root.docname), target, front)


def single_page(single_dir: str | os.PathLike[str], root_doc: str) -> Path:
    """The whole book of a ``singlehtml`` build as ``<build>/index.html``; returns that file.

    Sphinx writes the single page as ``<root document>.html`` with links to ``_static`` that
    are relative to the build folder, so a root document in a subfolder (``generated/overview``)
    loads no stylesheet, MathJax or chart bundle from where it stands. ``index.html`` (a redirect
    to it) is replaced by the page itself, where those links resolve.
    """
    single = Path(single_dir)
    page = single / f"{root_doc}.html"
    index = single / "index.html"
    if page != index:
        shutil.copyfile(page, index)
    return index


def publish(study: Study, book_dir: str | os.PathLike[str] = "book", out: str | os.PathLike[str] | None = None) -> Path:
    """Write ``study``'s site, ready for any static host, to ``out`` (default ``<book>/_build/site``).

    The HTML book plus the PDF (``report.pdf``, when Chromium is installed) and ``.nojekyll``
    (GitHub Pages would otherwise drop the ``_static`` folder); also packed as ``site.tar.gz``
    beside it.
    """
    import tarfile

    book = Path(book_dir)
    site = Path(out) if out is not None else book / "_build" / "site"
    build_report(study, book)
    html_dir = book / "_build" / "html"
    pdf = None
    if chromium_executable() is not None:
        pdf = build_pdf(study, book, book / "_build" / "report.pdf").path
    if site.exists():
        if any(site.iterdir()) and not (site / ".nojekyll").is_file():
            msg = f"{site} exists and is not a site this command wrote (no .nojekyll): not replacing it"
            raise FileExistsError(msg)
        shutil.rmtree(site)
    shutil.copytree(html_dir, site, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
    if pdf is not None:
        shutil.copy2(pdf, site / "report.pdf")
    (site / ".nojekyll").write_text("")
    archive = site.with_name(site.name + ".tar.gz")
    with tarfile.open(archive.with_name(archive.name + ".tmp"), "w:gz") as tar:
        tar.add(site, arcname=site.name)
    archive.with_name(archive.name + ".tmp").replace(archive)
    return site


def main(argv: list[str] | None = None) -> int:
    """Build a study's report as a site (``build``), a PDF (``pdf``) or a site to publish (``publish``)."""
    import argparse

    from analysis.study import Study

    parser = argparse.ArgumentParser(prog="python -m analysis.book", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assemble and build the book of a study whose workflow has run")
    b.add_argument("config", help="study config (YAML)")
    b.add_argument("--book", default="book", help="the Jupyter Book folder (default: book)")
    p = sub.add_parser("pdf", help="build the study's book as one HTML page and print it to PDF (headless Chromium)")
    p.add_argument("config", help="study config (YAML)")
    p.add_argument("--book", default="book")
    p.add_argument("--out", default=None, help="the PDF (default: <book>/_build/report.pdf)")
    w = sub.add_parser("publish", help="write the site (HTML, PDF) ready for a static host, and a tarball of it")
    w.add_argument("config", help="study config (YAML)")
    w.add_argument("--book", default="book")
    w.add_argument("--out", default=None, help="the site folder (default: <book>/_build/site)")
    s = sub.add_parser("screenshots", help="screenshot every page of the built book (headless Chromium)")
    s.add_argument("--book", default="book")
    s.add_argument("--out", default="book/_build/screenshots")
    args = parser.parse_args(argv)
    if args.command == "build":
        info = build_report(Study.load(args.config), args.book)
        sys.stdout.write(f"Report: {info['html']}\n")
    elif args.command == "pdf":
        printed = build_pdf(Study.load(args.config), args.book, args.out)
        sys.stdout.write(f"PDF: {printed.path.resolve()} ({printed.pages} pages)\n")
    elif args.command == "publish":
        site = publish(Study.load(args.config), args.book, args.out)
        sys.stdout.write(f"Site: {site.resolve()} (and {site.resolve()}.tar.gz)\n")
    else:
        site = Path(args.book) / "_build" / "html"
        for page in sorted((site / "generated").glob("*.html")):
            shot = screenshot(page.resolve().as_uri(), Path(args.out) / f"{page.stem}.png", size="1280,2600")
            sys.stdout.write(f"{shot}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
