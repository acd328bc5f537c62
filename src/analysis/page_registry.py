"""The report's pages, written down once.

Every page of the book is listed here in reading order, with the section it belongs to, where
its content comes from (a notebook the workflow executes, or a static markdown file in
``book/``), what the workflow must have produced before the page can run, and the study
settings it needs (perplexity scoring enabled, a toy world). The Snakefile reads it to know
which page notebooks to run and on what; ``analysis.book`` reads it to assemble the executed
notebooks and to write the table of contents into the build folder, never into a tracked file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from analysis.config import StudyConfig
    from analysis.study import Study

# Section captions in reading order; the root page (the overview) stands before all of them.
SECTIONS = ("Findings", "Real models", "Methods", "Toy world", "Reproducibility")

# What a page can require of the study's config, and how to tell.
CONDITIONS = ("perplexity", "toyworld")

# What a page notebook can need from earlier stages (see ``workflow_inputs``).
INPUTS = ("grades", "findings", "scores", "models", "pages", "toyworld2")


@dataclass(frozen=True)
class Page:
    """One page of the report.

    ``kind`` is ``"page"`` for a notebook the workflow's ``page`` rule executes into
    ``<study>/notebooks/pages/<name>.ipynb`` (it only reads what the stages wrote), and
    ``"markdown"`` for a static file ``book/<name>.md``.
    """

    name: str
    title: str
    section: str | None  # None: the root page
    kind: Literal["page", "markdown"]
    inputs: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    file: str | None = None  # markdown pages: the file in book/ (default: <name>.md)

    @property
    def markdown(self) -> str | None:
        """The static file of a markdown page, relative to ``book/``."""
        if self.kind != "markdown":
            return None
        return self.file or f"{self.name}.md"

    @property
    def notebook(self) -> str | None:
        """The notebook the workflow runs for this page (relative to the repository), if any."""
        return None if self.kind == "markdown" else f"notebooks/{self.name}.ipynb"

    @property
    def executed(self) -> str | None:
        """Where the executed notebook lands, relative to ``<study>/notebooks``."""
        if self.kind == "markdown":
            return None
        return f"pages/{self.name}.ipynb"

    @property
    def docname(self) -> str:
        """The page's document name in the book (its path without suffix)."""
        if self.markdown is not None:
            return self.markdown.removesuffix(".md")
        return f"generated/{self.name}"

    def included(self, config: StudyConfig) -> bool:
        """Whether a study with ``config`` has this page."""
        met = conditions(config)
        return all(r in met for r in self.requires)


PAGES: tuple[Page, ...] = (
    Page("overview", "Does RLVR expand what a model can solve?", None, "page", ("grades", "findings", "scores")),
    Page("passk", "pass@k", "Findings", "page", ("grades", "findings")),
    Page("histogram", "Per-problem accuracy", "Findings", "page", ("grades",)),
    Page("coverage", "Coverage", "Findings", "page", ("grades",)),
    Page("perplexity", "Perplexity", "Findings", "page", ("grades", "scores"), ("perplexity",)),
    Page("delta_se", "ΔSE", "Findings", "page", ("grades",)),
    Page("comparison", "This run beside the paper", "Findings", "page", ("grades", "findings", "scores")),
    Page("boundary", "Is the boundary real?", "Findings", "page", ("grades",)),
    # Public per-problem counts of real models (data/public), through the same findings code; in the
    # default (toy world) book, so a reader sees a real model beside the miniature.
    Page(
        "public_math500", "Real models: MATH500, Qwen2.5-7B vs SimpleRL-Zoo", "Real models", "page", (), ("toyworld",)
    ),
    Page("methods", "Methods", "Methods", "markdown"),
    Page("graders", "Graders", "Methods", "markdown"),
    Page("models", "Models", "Methods", "page", ("models",)),
    Page("grading", "Grading", "Methods", "page", ("grades",)),
    Page("toyworld-methods", "The toy world: methods", "Toy world", "markdown", (), ("toyworld",), "toyworld.md"),
    Page("toyworld", "Toy world results", "Toy world", "page", ("grades", "findings"), ("toyworld",)),
    # The paper's section 4 in miniature, from committed tables (data/toyworld/algorithms*.csv).
    Page(
        "toyworld_algorithms", "Toy world: RL algorithms, steps, group size, KL", "Toy world", "page", (), ("toyworld",)
    ),
    # A second miniature (long-tailed skills), from its committed experiment tables (data/toyworld2).
    Page("toyworld2", "Toy world 2: long-tailed skills", "Toy world", "page", ("toyworld2",), ("toyworld",)),
    Page("reproducibility", "Reproducibility", "Reproducibility", "page", ("grades", "pages")),
    Page("own-models", "Run it on your own models", "Reproducibility", "markdown"),
)


# Notebooks of workflow stages that are not pages of the book (their rules run them directly).
STAGE_NOTEBOOKS = ("sample", "grade", "perplexity_scores", "train_toyworld")


def page(name: str) -> Page:
    """The page called ``name``."""
    for p in PAGES:
        if p.name == name:
            return p
    msg = f"no page {name!r} in the registry (pages: {', '.join(p.name for p in PAGES)})"
    raise KeyError(msg)


def conditions(config: StudyConfig) -> set[str]:
    """The conditions of ``CONDITIONS`` that a study with ``config`` meets."""
    met = set()
    if config.analysis.perplexity.enabled:
        met.add("perplexity")
    if config.toyworld is not None:
        met.add("toyworld")
    return met


def study_pages(config: StudyConfig) -> list[Page]:
    """The pages of a study with ``config``, in reading order (markdown files not checked)."""
    return [p for p in PAGES if p.included(config)]


def workflow_pages(config: StudyConfig) -> list[str]:
    """Names of the page notebooks the workflow's ``page`` rule runs for ``config``."""
    return [p.name for p in study_pages(config) if p.kind == "page"]


def workflow_inputs(study: Study, name: str) -> list[Path]:
    """The files page ``name`` needs before its notebook can run, for the Snakefile.

    ``grades``: every sampling job's grades marker; ``findings``: the findings stage's table;
    ``scores``: the perplexity scores (when the
    study scores perplexity); ``models``: the models manifest; ``toyworld2``: the study's toy world 2
    tables (when its config names ``toyworld2``); ``pages``: the executed notebooks
    of every other page (the reproducibility page reports their wall times).
    """
    p = page(name)
    notebooks = study.dir / "notebooks"
    needs: list[Path] = []
    for need in p.inputs:
        if need == "grades":
            needs += [study.grades_marker(job) for job in study.jobs]
        elif need == "findings":
            needs.append(study.results_dir / "findings.parquet")  # the findings stage (analysis.findings_stage)
        elif need == "scores":
            if "perplexity" in conditions(study.config):
                needs.append(study.scores_path)
        elif need == "models":
            needs.append(study.models_manifest)
        elif need == "toyworld2":  # the study's retrained toy world 2 default (when its config names one)
            if study.config.toyworld2 is not None:
                needs.append(study.toyworld2_dir / "results.json")
        elif need == "pages":
            needs += [notebooks / "pages" / f"{o}.ipynb" for o in workflow_pages(study.config) if o != name]
        else:
            msg = f"page {name!r} needs unknown input {need!r} (known: {', '.join(INPUTS)})"
            raise ValueError(msg)
    return needs


def toc_yaml(pages: list[Page]) -> str:
    """A Jupyter Book table of contents for ``pages``: the root page first, then one part per section.

    Each entry carries the registry's title, so the navigation reads the same in every build.
    """
    roots = [p for p in pages if p.section is None]
    if len(roots) != 1:
        msg = f"the book needs exactly one root page, got {[p.name for p in roots]}"
        raise ValueError(msg)
    lines = ["# Written by analysis.book from analysis.page_registry; do not edit.", "format: jb-book"]
    lines.append(f"root: {roots[0].docname}")
    parts = [(s, [p for p in pages if p.section == s]) for s in SECTIONS]
    parts = [(s, ps) for s, ps in parts if ps]
    if parts:
        lines.append("parts:")
    for caption, members in parts:
        lines.append(f"  - caption: {_quote(caption)}")
        lines.append("    chapters:")
        for p in members:
            lines.append(f"      - file: {p.docname}")
            lines.append(f"        title: {_quote(p.title)}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """``text`` as a double-quoted YAML scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
