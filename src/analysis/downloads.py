"""Full tables offered for download beside the pages that show only part of them.

Each file is written by the stage that made its table (the findings stage writes ``findings.csv``
and ``coverage_problems.csv`` under ``<study>/results/downloads/``; the perplexity stage's scores
are ``scores/perplexity.parquet``). The book build copies them into the site's ``downloads/``
folder, and the pages link there.
"""

from __future__ import annotations

from pathlib import Path

from analysis.study import Study

# Name in the site's downloads/ folder -> what it holds.
DOWNLOADS = {
    "findings.csv": "every comparison under every grader, with its intervals and outcome",
    "coverage_problems.csv": "every problem only one model of a pair solves, with both models' correct counts",
    "perplexity_scores.parquet": "the perplexity of every scored response under every scorer",
}
SITE_FOLDER = "downloads"


def sources(study: Study) -> dict[str, Path]:
    """The download files this study has, by their site name."""
    found = {p.name: p for p in sorted((study.results_dir / "downloads").glob("*")) if p.name in DOWNLOADS}
    if study.scores_path.is_file():
        found["perplexity_scores.parquet"] = study.scores_path
    return found


def link(study: Study, name: str) -> str:
    """A markdown line linking download ``name`` from a page of the built book (and its path on disk,
    for a notebook opened in JupyterLab), or a line saying the study has no such table."""
    have = sources(study)
    if name not in have:
        return f"(No `{name}` in this study.)"
    return f"Download the full table: [{name}](../{SITE_FOLDER}/{name}) ({DOWNLOADS[name]}; on disk: `{have[name]}`)."
