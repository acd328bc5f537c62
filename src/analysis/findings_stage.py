"""The findings stage: every comparison of the study, decided once, stored as one table.

It runs after grading. For each grader a benchmark is graded with (its primary one first), it
compares every (base, other) pair on every benchmark and temperature with
:func:`analysis.findings.compare_pair` and writes ``<study>/results/findings.parquet``: one row
per (grader, pair, benchmark, temperature), with ``primary`` true for the benchmark's primary
grader, and (where the benchmark has a guessing rate: the toy world) how many of the problems only
one model solves are guess-level (``analysis.guess_level``). The overview, the pass@k page and
the comparison page read this table; none of them reruns a bootstrap. It also writes the
downloads the book offers: ``results/downloads/findings.csv`` and ``coverage_problems.csv``
(every problem only one model of a pair solves).

    python -m analysis.findings_stage configs/toy.yaml
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import polars as pl

from analysis.coverage_lists import only_one_lists
from analysis.findings import compare_all, findings_table, rules_version
from analysis.guess_level import only_one_guess_level
from analysis.store import atomic_write_parquet, atomic_write_text
from analysis.study import Study


def findings_path(study: Study) -> Path:
    return study.results_dir / "findings.parquet"


def grader_modes(study: Study) -> list[str]:
    """Every grading mode some benchmark of the study is graded with, primary modes first."""
    benches = [b.name for b in study.config.benchmarks]
    modes = [study.primary_mode(b) for b in benches]
    modes += [m for b in benches for m in study.grading_modes(b)]
    return list(dict.fromkeys(modes))


def run_findings(study: Study) -> Path:
    """Compare every pair under every grader; write and return the findings table's path."""
    a = study.config.analysis
    roles = study.roles
    recipes = {m.name: m.recipe for m in study.config.models}
    primary = {b.name: study.primary_mode(b.name) for b in study.config.benchmarks}
    frames = []
    for mode in grader_modes(study):
        counts = study.counts(mode)
        found = compare_all(counts, study.config.pairs(), ci=a.ci, n_resamples=a.resamples, seed=a.seed)
        table = findings_table(found, grader=mode)
        if table.is_empty():
            continue
        guessed = only_one_guess_level(counts, study.config.pairs())
        table = table.join(guessed, on=["benchmark", "temperature", "base", "other"], how="left")
        table = table.with_columns(
            (pl.col("benchmark").replace_strict(primary, default=None) == mode).alias("primary"),
            pl.col("other").replace_strict(roles, default=None).alias("role"),
            pl.col("other").replace_strict(recipes, default=None, return_dtype=pl.String).alias("recipe"),
            pl.lit(rules_version()).alias("rules_version"),
        )
        frames.append(table)
    out = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    downloads = study.results_dir / "downloads"
    if not out.is_empty():
        atomic_write_text(out.drop("rules_version").write_csv(), downloads / "findings.csv")
    lists = only_one_lists(study.counts(), study.config.pairs())
    if not lists.is_empty():
        atomic_write_text(lists.write_csv(), downloads / "coverage_problems.csv")
    return atomic_write_parquet(out, findings_path(study))


def read_findings(study: Study, *, primary_only: bool = False) -> pl.DataFrame:
    """The stored findings table (empty when the study names no pair)."""
    path = findings_path(study)
    if not path.is_file():
        msg = f"findings are missing: {path} (run the findings stage: python -m analysis.findings_stage CONFIG)"
        raise FileNotFoundError(msg)
    table = pl.read_parquet(path)
    if primary_only and not table.is_empty():
        table = table.filter(pl.col("primary"))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analysis.findings_stage", description=__doc__)
    parser.add_argument("config", help="the study config (YAML)")
    args = parser.parse_args(argv)
    path = run_findings(Study.load(os.fspath(args.config)))
    sys.stdout.write(f"findings: {path}\n")


if __name__ == "__main__":
    main()
