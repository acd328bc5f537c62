"""The whole book as one PDF that looks like the site.

The book's single-page HTML build is opened in headless Chromium (``analysis.browser``) with
print media and a high device pixel ratio (charts draw on canvases at print resolution). The
printer waits for what the page does rather than for a time budget: MathJax's typesetting,
every chart's drawing, the web fonts. It then adds a title page and a table of contents, narrows
tables wider than the page, and prints with page numbers in the footer. Page numbers in the
table of contents come from a first print: each chapter heading carries an invisible marker,
``pdftotext`` (poppler-utils) finds the page of each marker, and a second print fills them in.
Without ``pdftotext`` the contents list has no page numbers.

The look itself is ``book/_static/print.css`` (print media rules the site shares).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from analysis.browser import Chromium

# A4 in inches, margins in inches (room for the header and footer lines).
PAPER = {"paperWidth": 8.27, "paperHeight": 11.69}
MARGINS = {"marginTop": 0.7, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6}
CSS_PX_PER_INCH = 96
DEVICE_SCALE = 3  # canvas charts are drawn at three device pixels per CSS pixel

_MARKER = "rlvrchapter{}x"
_MARKER_RE = re.compile(r"rlvrchapter(\d+)x")


@dataclass(frozen=True)
class FrontMatter:
    """What the title page and the table of contents say.

    ``parts`` lists (caption, document names) in reading order; the root document goes first
    without a caption. ``facts`` are (label, value) lines under the title (study, config hash,
    date).
    """

    title: str
    subtitle: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    root: str = "index"
    parts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    header: str = ""


@dataclass(frozen=True)
class PrintedBook:
    """The printed PDF and where each chapter landed (``None`` where it was not found)."""

    path: Path
    pages: int
    chapters: list[dict[str, object]] = field(default_factory=list)
    math: int = 0  # formulas MathJax typeset
    charts: dict[str, int] = field(default_factory=dict)  # charts by state: drawn ("yes"), "failed"
    narrowed_tables: int = 0


_WAIT_MATH = """(async () => {
  if (!window.MathJax) return "no math";
  const start = Date.now();
  while (!(window.MathJax.startup && window.MathJax.startup.promise)) {
    if (Date.now() - start > %(ms)d) throw new Error("MathJax did not start within %(ms)d ms");
    await new Promise((r) => setTimeout(r, 50));
  }
  await window.MathJax.startup.promise;
  await document.fonts.ready;
  return "typeset";
})()"""

_CHARTS_SETTLED = """(() => {
  const charts = [...document.querySelectorAll(".rlvr-chart")];
  return charts.every((c) => c.dataset.drawn === "yes" || c.dataset.drawn === "failed") ? charts.length + 1 : 0;
})()"""

_CHART_STATES = """(() => {
  const states = {};
  for (const c of document.querySelectorAll(".rlvr-chart")) {
    states[c.dataset.drawn] = (states[c.dataset.drawn] || 0) + 1;
  }
  return states;
})()"""

_PREPARE = """((front) => {
  document.body.classList.add("rlvr-pdf");
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const chapters = [];
  const rootSection = article.querySelector("section");
  if (rootSection) chapters.push({ doc: front.root, section: rootSection });
  for (const span of article.querySelectorAll('span[id^="document-"]')) {
    let el = span.nextElementSibling;
    while (el && el.tagName !== "SECTION") el = el.nextElementSibling;
    if (el) chapters.push({ doc: span.id.slice("document-".length), section: el });
  }
  chapters.forEach((c) => c.section.classList.add("rlvr-pdf-chapter"));
  // Heading levels as on the site: a chapter's title is a level-1 heading, its sections level 2...
  for (const c of chapters) {
    const first = c.section.querySelector("h1, h2, h3, h4, h5, h6");
    const shift = first ? Number(first.tagName[1]) - 1 : 0;
    for (const h of c.section.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
      if (h.closest(".rlvr-pdf-chapter") !== c.section) continue;
      h.classList.add("rlvr-pdf-h" + Math.max(1, Number(h.tagName[1]) - shift));
    }
  }
  const out = [];
  chapters.forEach((c, i) => {
    // The chapter's title: its first heading (Sphinx's single page nests included documents, so
    // only the root document's title is an h1).
    const h1 = c.section.querySelector("h1, h2, h3, h4, h5, h6");
    const clone = h1 ? h1.cloneNode(true) : null;
    if (clone) clone.querySelectorAll(".headerlink, mjx-assistive-mml").forEach((e) => e.remove());
    const title = clone ? clone.textContent.replace(/\\s+/g, " ").trim() : c.doc;
    if (!c.section.id) c.section.id = "rlvr-chapter-" + i;
    // A marker the first print finds the chapter's page by: no height, so the layout is the
    // same with and without it; white, tiny and removed before the final print.
    const marker = document.createElement("div");
    marker.className = "rlvr-pdf-marker";
    marker.textContent = front.marker.replace("{}", String(i));
    marker.style.cssText = "height:0;overflow:visible;font-size:3px;line-height:3px;color:#fff;margin:0;padding:0;";
    c.section.insertBefore(marker, c.section.firstChild);
    out.push({ doc: c.doc, title: title, anchor: c.section.id, index: i });
  });
  const esc = (s) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);
  const entry = (c) =>
    '<li><a class="rlvr-pdf-entry" href="#' + esc(c.anchor) + '">' + esc(c.title) +
    '</a><span class="rlvr-pdf-leader"></span><span class="rlvr-pdf-pageno" data-index="' + c.index + '"></span></li>';
  const byDoc = new Map(out.map((c) => [c.doc, c]));
  const placed = new Set();
  let toc = "";
  const root = byDoc.get(front.root);
  if (root) { toc += "<ol>" + entry(root) + "</ol>"; placed.add(root.doc); }
  for (const [caption, docs] of front.parts) {
    const members = docs.map((d) => byDoc.get(d)).filter((c) => c && !placed.has(c.doc));
    if (!members.length) continue;
    members.forEach((c) => placed.add(c.doc));
    toc += '<div class="rlvr-pdf-part">' + esc(caption) + "</div><ol>" + members.map(entry).join("") + "</ol>";
  }
  const rest = out.filter((c) => !placed.has(c.doc));
  if (rest.length) toc += "<ol>" + rest.map(entry).join("") + "</ol>";
  const facts = front.facts.map(([k, v]) => "<dt>" + esc(k) + "</dt><dd>" + esc(v) + "</dd>").join("");
  const wrapper = document.createElement("div");
  wrapper.className = "rlvr-pdf-front";
  wrapper.innerHTML =
    '<div class="rlvr-pdf-title"><div class="rlvr-pdf-book">' + esc(front.title) + "</div>" +
    (front.subtitle ? '<div class="rlvr-pdf-study">' + esc(front.subtitle) + "</div>" : "") +
    (facts ? "<dl>" + facts + "</dl>" : "") + "</div>" +
    '<nav class="rlvr-pdf-toc"><h2>Contents</h2>' + toc + "</nav>";
  article.prepend(wrapper);
  // Tables wider than the text column: identifiers may break after "_" and "/"
  // (the print CSS already wraps words); what is still too wide is scaled down to fit.
  let narrowed = 0;
  for (const table of article.querySelectorAll("table")) {
    const room = 0.97 * Math.min(article.clientWidth, table.parentElement.clientWidth || article.clientWidth);
    if (table.scrollWidth <= room + 1) continue;
    for (const cell of table.querySelectorAll("th, td")) {
      if (cell.children.length || !/[_/]/.test(cell.textContent)) continue;
      cell.innerHTML = esc(cell.textContent).replace(/([_/])(?=\\S)/g, "$1<wbr>");
    }
    if (table.scrollWidth > room + 1) {
      table.style.zoom = String(Math.max(0.3, room / table.scrollWidth));
      table.classList.add("rlvr-pdf-narrowed");
      narrowed += 1;
    }
  }
  return { chapters: out, narrowed: narrowed };
})"""

_FILL_PAGES = """((pages) => {
  document.querySelectorAll(".rlvr-pdf-marker").forEach((m) => m.remove());
  for (const span of document.querySelectorAll(".rlvr-pdf-pageno")) {
    const page = pages[span.dataset.index];
    span.textContent = page == null ? "" : String(page);
  }
  return true;
})"""


def _templates(header: str) -> dict[str, object]:
    style = "font-size:7.5pt;color:#777;width:100%;padding:0 0.6in;font-family:sans-serif;"
    return {
        "displayHeaderFooter": True,
        "headerTemplate": f'<div style="{style}text-align:right;">{html.escape(header)}</div>',
        "footerTemplate": (
            f'<div style="{style}text-align:center;"><span class="pageNumber"></span> / '
            '<span class="totalPages"></span></div>'
        ),
    }


def marker_pages(pdf: bytes) -> dict[int, int] | None:
    """Page (1-based) of each chapter marker in ``pdf``, via ``pdftotext``; ``None`` without it."""
    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rlvr-pdf-") as tmp:
        src = Path(tmp) / "pass1.pdf"
        src.write_bytes(pdf)
        result = subprocess.run([exe, "-enc", "UTF-8", str(src), "-"], capture_output=True, check=False)
    if result.returncode != 0:
        return None
    found: dict[int, int] = {}
    for number, text in enumerate(result.stdout.decode("utf-8", errors="replace").split("\f"), start=1):
        for m in _MARKER_RE.finditer(text.replace(" ", "")):
            found.setdefault(int(m[1]), number)
    return found


def _write_atomically(data: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        Path(tmp).chmod(0o644)  # mkstemp's 0600 would hide the PDF from a web server's user
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def print_book(
    page: str | os.PathLike[str], pdf_path: str | os.PathLike[str], front: FrontMatter, timeout: float = 300
) -> PrintedBook:
    """Print the single-page HTML book ``page`` to ``pdf_path`` with a title page and contents."""
    src = Path(page).resolve()
    if not src.is_file():
        msg = f"no single-page book at {src} (build it with the singlehtml builder first)"
        raise FileNotFoundError(msg)
    width = round((PAPER["paperWidth"] - MARGINS["marginLeft"] - MARGINS["marginRight"]) * CSS_PX_PER_INCH)
    height = round((PAPER["paperHeight"] - MARGINS["marginTop"] - MARGINS["marginBottom"]) * CSS_PX_PER_INCH)
    options = {**PAPER, **MARGINS, **_templates(front.header or front.title), "printBackground": True}
    payload = {
        "title": front.title,
        "subtitle": front.subtitle,
        "facts": [list(f) for f in front.facts],
        "root": front.root,
        "parts": [[c, list(d)] for c, d in front.parts],
        "marker": _MARKER,
    }
    with Chromium(timeout=timeout) as browser:
        browser.emulate(width, height, scale=DEVICE_SCALE, media="print")
        browser.navigate(src.as_uri())
        browser.evaluate(_WAIT_MATH % {"ms": 60000})
        browser.wait_for(_CHARTS_SETTLED, timeout=120)
        math = browser.evaluate("document.querySelectorAll('mjx-container').length")
        charts = browser.evaluate(_CHART_STATES)
        prepared = browser.evaluate(f"({_PREPARE})({json.dumps(payload)})")
        first = browser.print_pdf(**options)
        pages = marker_pages(first)
        if pages is None:
            pdf = first
        else:
            browser.evaluate(f"({_FILL_PAGES})({json.dumps({str(k): v for k, v in pages.items()})})")
            pdf = browser.print_pdf(**options)
    out = _write_atomically(pdf, Path(pdf_path))
    chapters = [{**c, "page": (pages or {}).get(c["index"])} for c in prepared["chapters"]]
    count = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    return PrintedBook(
        path=out, pages=count, chapters=chapters, math=math, charts=charts, narrowed_tables=prepared["narrowed"]
    )
