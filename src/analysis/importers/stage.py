"""The import stage of a study: read every ``imports`` source, grade what has texts, write it down.

Files (under ``<study>/imports/``)::

    samples/<key>.parquet            imported texts (samples table + temperature)
    grades/<key>.<grader>.parquet    verdicts: the tool's own (``<tool>-recorded``) and the study's modes
    counts/<key>.parquet             per-problem counts of counts-only sources
    problems/<benchmark>.parquet     problem ids (and strata) of benchmarks without a source
    imports.json                     written last: what was imported, with full provenance

``<key>`` is ``<model>__<benchmark>__T<temperature>``. ``Study.counts()`` then serves counts from
these files: grades in the requested mode for sources with texts, the imported counts otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from analysis import schemas
from analysis.importers.common import Imported, ImportFormatError, resolve_files
from analysis.importers.lighteval import PATTERN as LIGHTEVAL_PATTERN
from analysis.importers.lighteval import read_lighteval
from analysis.importers.lm_eval import PATTERN as LM_EVAL_PATTERN
from analysis.importers.lm_eval import read_lm_eval
from analysis.importers.paper_evaluator import GRADER as PAPER_GRADER
from analysis.importers.paper_evaluator import PATTERN as PAPER_PATTERN
from analysis.importers.paper_evaluator import read_paper_evaluator
from analysis.importers.plain import GRADER as JSONL_GRADER
from analysis.importers.plain import read_counts, read_jsonl_responses
from analysis.store import atomic_write_json, atomic_write_parquet

if TYPE_CHECKING:
    from analysis.config import ImportEntry, StudyConfig
    from analysis.study import Study

# The grader name of the verdicts each text format can carry per sample (lm-eval and lighteval
# record metrics per document only, so their texts must be graded here).
RECORDED_GRADER = {"paper-evaluator": PAPER_GRADER, "jsonl": JSONL_GRADER}
# The grading mode of a benchmark imported as counts only: whoever made the counts graded them.
COUNTS_MODE = "imported-counts"
# The seed that readers show for imported samples whose files state none (lm-eval, lighteval,
# plain JSONL without ``seed``): each such source is one run. The stored tables keep null.
UNSTATED_SEED = -1


def temperature_of(cfg: StudyConfig, entry: ImportEntry) -> float:
    return entry.temperature if entry.temperature is not None else cfg.sampling.temperatures[0]


def key_of(cfg: StudyConfig, entry: ImportEntry) -> str:
    raw = f"{entry.model}__{entry.benchmark}__T{temperature_of(cfg, entry):g}"
    return re.sub(r"[^A-Za-z0-9_.=-]", "-", raw)


def read_source(cfg: StudyConfig, entry: ImportEntry) -> Imported:
    """Read one ``imports`` entry with the importer of its format."""
    common: dict[str, Any] = {
        "model": entry.model,
        "benchmark": entry.benchmark,
        "temperature": temperature_of(cfg, entry),
    }
    fmt = entry.format
    if fmt == "paper-evaluator":
        return read_paper_evaluator(entry.path, seeds=entry.seeds, **common)
    if fmt == "lm-eval":
        return read_lm_eval(entry.path, task=entry.task, **common)
    if fmt == "lighteval":
        return read_lighteval(entry.path, task=entry.task, **common)
    if fmt == "jsonl":
        return read_jsonl_responses(entry.path, source_model=entry.source_model, **common)
    if fmt == "counts":
        return read_counts(entry.path, source_model=entry.source_model, grader=entry.grader, **common)
    msg = f"unknown import format {fmt!r}"
    raise ImportFormatError(msg)


# How each format finds its files in a folder (importers' own patterns; recursive where the tool nests).
_FOLDER_PATTERNS = {
    "paper-evaluator": (PAPER_PATTERN, False),
    "lm-eval": (LM_EVAL_PATTERN, True),
    "lighteval": (LIGHTEVAL_PATTERN, True),
    "jsonl": ("*.jsonl", False),
    "counts": ("*", False),
}


def input_files(cfg: StudyConfig) -> list[str]:
    """Every file the study's imports read (the workflow reruns the import when one changes).
    A source whose files are missing fails here, naming its path."""
    files: set[str] = set()
    for e in cfg.imports:
        pattern, recursive = _FOLDER_PATTERNS[e.format]
        files.update(str(f) for f in resolve_files(e.path, pattern, recursive=recursive))
    return sorted(files)


def expects_texts(cfg: StudyConfig) -> bool:
    """Whether any import source of ``cfg`` carries texts (known from the config alone)."""
    return any(e.format != "counts" for e in cfg.imports)


def grading_modes(study: Study, benchmark: str) -> list[str] | None:
    """The grading modes of an import study's ``benchmark``: ``None`` when the study's own modes apply
    (its texts are re-graded), ``[COUNTS_MODE]`` when it has counts only, else the one recorded
    grader its texts carry."""
    entries = [e for e in study.config.imports if e.benchmark == benchmark and e.format != "counts"]
    if not entries:
        return [COUNTS_MODE]
    if all(e.regrade for e in entries):
        return None
    graders = {RECORDED_GRADER.get(e.format) for e in entries}
    if None in graders or len(graders) != 1:
        msg = (
            f"benchmark {benchmark!r}: without regrade, every text import must carry per-sample verdicts of one "
            f"grader (formats {sorted({e.format for e in entries})}; only {sorted(RECORDED_GRADER)} carry them)"
        )
        raise ValueError(msg)
    return [graders.pop()]  # type: ignore[list-item]


def _with_seed(grades: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame:
    return grades.join(
        samples.select("problem_id", "sample_index", "seed"), on=["problem_id", "sample_index"], how="left"
    )


def _check_ids(imported: Imported, problems: pl.DataFrame) -> None:
    known = set(problems["problem_id"].to_list())
    unknown = sorted(set(imported.problem_ids) - known)
    if unknown:
        msg = (
            f"{imported.model} on {imported.benchmark}: {len(unknown)} imported problem ids are not problems of the "
            f"benchmark (e.g. {unknown[:3]}; the benchmark has {len(known)} problems, ids like "
            f"{sorted(known)[:2]})"
        )
        raise ImportFormatError(msg)


def _id_only_problems(benchmark: str, imported: list[Imported]) -> pl.DataFrame:
    """A problems table of just the imported ids (and strata) for a benchmark without a source."""
    ids: dict[str, str | None] = {}
    for imp in imported:
        for pid in imp.problem_ids:
            ids.setdefault(pid, imp.strata.get(pid))
    order = sorted(ids, key=lambda p: (int(p.rsplit("/", 1)[1]) if p.rsplit("/", 1)[-1].isdigit() else 0, p))
    return pl.DataFrame(
        {
            "benchmark": [benchmark] * len(order),
            "problem_id": order,
            "index": list(range(len(order))),
            "question": [None] * len(order),
            "gold": [[] for _ in order],
            "stratum": [ids[p] for p in order],
            "metadata": [json.dumps({"imported": True})] * len(order),
        },
        schema=schemas.PROBLEMS,
    )


def run_imports(study: Study, progress: bool = True) -> dict[str, Any]:
    """Import every source of ``study``, grade texts in the study's modes where asked, write the files."""
    from analysis.grading import grade_samples

    cfg = study.config
    if not cfg.imports:
        msg = f"study {cfg.name!r} has no imports"
        raise ValueError(msg)
    out = study.imports_dir
    imported: list[tuple[ImportEntry, Imported]] = [(e, read_source(cfg, e)) for e in cfg.imports]
    entries = []
    for bench in cfg.benchmarks:
        mine = [(e, imp) for e, imp in imported if e.benchmark == bench.name]
        if not mine:
            continue
        problems = study.problems(bench.name) if bench.source is not None else None
        if problems is not None:
            for _, imp in mine:
                _check_ids(imp, problems)
        else:
            atomic_write_parquet(
                _id_only_problems(bench.name, [imp for _, imp in mine]), study.imported_problems_path(bench.name)
            )
        recorded_modes = grading_modes(study, bench.name)
        for e, imp in mine:
            key = key_of(cfg, e)
            record: dict[str, Any] = {
                "key": key,
                "model": e.model,
                "benchmark": e.benchmark,
                "temperature": imp.temperature,
                "has_texts": imp.has_texts,
                "graders": [],
                "provenance": imp.provenance,
            }
            if imp.samples is not None:
                atomic_write_parquet(imp.samples, out / "samples" / f"{key}.parquet")
                if imp.grades is not None:
                    grader = imp.grades["grader"][0]
                    graded = _with_seed(imp.grades, imp.samples)
                    atomic_write_parquet(graded, out / "grades" / f"{key}.{grader}.parquet")
                    record["graders"].append(grader)
                elif recorded_modes is not None or not e.regrade:
                    msg = (
                        f"{e.model} on {e.benchmark}: {e.format} files carry no per-sample verdicts; set regrade: true"
                    )
                    raise ImportFormatError(msg)
                if e.regrade:
                    if problems is None:
                        msg = (
                            f"{e.model} on {e.benchmark}: re-grading needs the benchmark's gold answers; give the "
                            "benchmark a source, or set regrade: false to keep the recorded verdicts"
                        )
                        raise ImportFormatError(msg)
                    for mode in study.grading_modes(bench.name):
                        grades = grade_samples(
                            imp.samples,
                            problems,
                            mode,
                            workers=cfg.grading.workers,
                            deadline_s=cfg.grading.deadline_s,
                            cache_dir=study.grading_cache,
                            progress=progress,
                        ).with_columns(pl.lit(imp.temperature, dtype=pl.Float64).alias("temperature"))
                        atomic_write_parquet(_with_seed(grades, imp.samples), out / "grades" / f"{key}.{mode}.parquet")
                        record["graders"].append(mode)
            else:
                assert imp.counts is not None
                atomic_write_parquet(imp.counts, out / "counts" / f"{key}.parquet")
            entries.append(record)
    manifest = {
        "study": cfg.name,
        "has_texts": any(r["has_texts"] for r in entries),
        "has_grades": any(r["graders"] for r in entries),
        "sources": entries,
    }
    atomic_write_json(manifest, study.import_marker)
    return manifest


def read_manifest(study: Study) -> dict[str, Any]:
    path = study.import_marker
    if not path.is_file():
        msg = f"{path} does not exist: run the import stage first (python -m analysis.importers {study.config_path})"
        raise FileNotFoundError(msg)
    return json.loads(path.read_text(encoding="utf-8"))


def imported_grades(study: Study, mode: str) -> pl.LazyFrame:
    """Grades of the imported texts in ``mode`` (``primary``: each benchmark's primary mode). A seed the
    files did not state reads as ``UNSTATED_SEED`` (one run), so per-seed analyses can group by it."""
    frames = []
    for src in read_manifest(study)["sources"]:
        wanted = study.primary_mode(src["benchmark"]) if mode == "primary" else mode
        if wanted in src["graders"]:
            frames.append(pl.scan_parquet(study.imports_dir / "grades" / f"{src['key']}.{wanted}.parquet"))
    if not frames:
        msg = f"study {study.config.name!r} has no imported grades in mode {mode!r}"
        raise FileNotFoundError(msg)
    return pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col("seed").fill_null(UNSTATED_SEED))


def imported_counts(study: Study, mode: str = "primary") -> pl.DataFrame:
    """The counts table of an import study: from grades in ``mode`` where texts were imported, and the
    imported counts of counts-only sources (for ``primary`` and ``COUNTS_MODE``: their grader is fixed)."""
    from analysis.metrics import counts_from_grades

    frames = []
    sources = read_manifest(study)["sources"]
    if mode != COUNTS_MODE and any(s["graders"] for s in sources):
        try:
            frames.append(counts_from_grades(imported_grades(study, mode), by=("temperature",)))
        except FileNotFoundError:
            if mode != "primary":
                raise
    if mode in ("primary", COUNTS_MODE):
        frames += [
            pl.read_parquet(study.imports_dir / "counts" / f"{s['key']}.parquet") for s in sources if not s["has_texts"]
        ]
    if not frames:
        msg = f"study {study.config.name!r} has no counts in mode {mode!r}"
        raise FileNotFoundError(msg)
    counts = pl.concat([f.select([*schemas.COUNTS, "temperature"]) for f in frames], how="vertical_relaxed")
    return counts.sort("model", "benchmark", "temperature", "problem_id")


def imported_samples(study: Study) -> pl.LazyFrame:
    frames = [
        pl.scan_parquet(study.imports_dir / "samples" / f"{s['key']}.parquet")
        for s in read_manifest(study)["sources"]
        if s["has_texts"]
    ]
    if not frames:
        msg = f"study {study.config.name!r} imported counts only: it has no texts"
        raise FileNotFoundError(msg)
    return pl.concat(frames, how="diagonal_relaxed")


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.importers CONFIG``: run a study's import stage."""
    import argparse
    import sys

    from analysis.study import Study

    parser = argparse.ArgumentParser(prog="python -m analysis.importers", description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    study = Study.load(args.config)
    manifest = run_imports(study, progress=not args.no_progress)
    for s in manifest["sources"]:
        what = f"{s['provenance']['n']} samples/problem, graders {s['graders']}" if s["has_texts"] else "counts"
        sys.stdout.write(f"imported {s['key']}: {s['provenance']['problems']} problems, {what}\n")
    return 0
