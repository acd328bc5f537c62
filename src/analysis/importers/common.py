"""What every importer shares: the result it returns, provenance, file discovery and validation.

An importer reads the files another tool wrote and returns an :class:`Imported`: a samples table
(the texts, pooled over seeds the way the paper pools them), the tool's own per-sample verdicts
where it recorded them (a grades table with grader ``<tool>-recorded``), or only per-problem
counts. Every file it read is listed in the provenance with its SHA-256, together with the model
names and settings the files state. A file that is not what its format claims fails with
:class:`ImportFormatError` naming the file, the row and what is wrong.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.store import file_sha256, stable_hash


class ImportFormatError(ValueError):
    """A file that is not what its import format says it is (the message names file, row, field)."""


@dataclass
class Imported:
    """What one import source yields for one (model, benchmark, temperature).

    ``samples`` (texts) and ``counts`` exclude each other: a source has texts or only counts.
    ``grades`` holds verdicts the tool recorded itself (grader ``<tool>-recorded``), if any.
    """

    model: str
    benchmark: str
    temperature: float
    provenance: dict[str, Any]
    samples: pl.DataFrame | None = None
    grades: pl.DataFrame | None = None
    counts: pl.DataFrame | None = None
    problem_ids: list[str] = field(default_factory=list)
    strata: dict[str, str] = field(default_factory=dict)  # problem_id -> difficulty group, where stated

    @property
    def has_texts(self) -> bool:
        return self.samples is not None


def resolve_files(path: str | Path, pattern: str = "*", recursive: bool = False) -> list[Path]:
    """The files ``path`` names: the file itself, the files matching ``pattern`` in a folder (and its
    subfolders with ``recursive``), or the matches of a glob. Sorted; raises ``ImportFormatError``
    when none exist."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in (p.rglob(pattern) if recursive else p.glob(pattern)) if f.is_file())
    else:
        files = sorted(Path(f) for f in glob.glob(str(path)) if Path(f).is_file())  # noqa: PTH207 (absolute globs too)
    if not files:
        where = f"{p} (pattern {pattern!r})" if p.is_dir() else str(p)
        msg = f"no input files found at {where}"
        raise ImportFormatError(msg)
    return files


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object fails."""
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                msg = f"{path}:{line_no}: not valid JSON ({e.msg})"
                raise ImportFormatError(msg) from None
            if not isinstance(row, dict):
                msg = f"{path}:{line_no}: expected a JSON object per line, got {type(row).__name__}"
                raise ImportFormatError(msg)
            yield line_no, row


def require_fields(row: dict[str, Any], fields: list[str], where: str, fmt: str) -> None:
    """Fail naming every field of ``fields`` missing from ``row``."""
    missing = [f for f in fields if f not in row]
    if missing:
        msg = f"{where}: missing field(s) {missing} of the {fmt} format (fields present: {sorted(row)[:12]})"
        raise ImportFormatError(msg)


def file_record(path: Path, **extra: Any) -> dict[str, Any]:
    """One provenance entry: path, size and SHA-256 of a file that was read."""
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path), **extra}


def run_hash_of(files: list[dict[str, Any]]) -> str:
    """A stable id of an import source: the hash of its files' SHA-256s (same bytes, same id)."""
    return "import-" + stable_hash(sorted(f["sha256"] for f in files))


def problem_id(benchmark: str, index: object, where: str) -> str:
    """The project's id of the problem at 0-based row ``index`` of a benchmark's source file."""
    try:
        i = int(str(index))
    except ValueError:
        msg = f"{where}: problem index {index!r} is not an integer"
        raise ImportFormatError(msg) from None
    if i < 0:
        msg = f"{where}: problem index {i} is negative"
        raise ImportFormatError(msg)
    return f"{benchmark}/{i}"


def samples_frame(
    records: list[dict[str, Any]], *, run_hash: str, model: str, benchmark: str, temperature: float
) -> pl.DataFrame:
    """A samples table (``schemas.SAMPLES`` plus ``temperature``) from dicts holding ``problem_id``,
    ``sample_index``, ``text`` and optionally ``seed``, ``n_tokens``, ``finish_reason``."""
    df = pl.DataFrame(
        {
            "run_hash": [run_hash] * len(records),
            "model": [model] * len(records),
            "benchmark": [benchmark] * len(records),
            "problem_id": [r["problem_id"] for r in records],
            "sample_index": [r["sample_index"] for r in records],
            "seed": [r.get("seed") for r in records],
            "text": [r["text"] for r in records],
            "n_tokens": [r.get("n_tokens") for r in records],
            "finish_reason": [r.get("finish_reason") for r in records],
        },
        schema=schemas.SAMPLES,
    )
    out = schemas.conform(df, "samples").with_columns(pl.lit(temperature, dtype=pl.Float64).alias("temperature"))
    dup = out.select("problem_id", "sample_index").is_duplicated()
    if dup.any():
        first = out.filter(dup).row(0, named=True)
        msg = f"sample {first['sample_index']} of problem {first['problem_id']} appears twice"
        raise ImportFormatError(msg)
    return out


def recorded_grades(samples: pl.DataFrame, correct: list[bool | None], grader: str, version: str) -> pl.DataFrame:
    """A grades table of the verdicts a tool recorded, one per row of ``samples`` (same order)."""
    if len(correct) != samples.height:
        msg = f"{len(correct)} recorded verdicts for {samples.height} samples"
        raise ImportFormatError(msg)
    status = ["ok" if c is not None else "error" for c in correct]
    df = samples.select("run_hash", "model", "benchmark", "problem_id", "sample_index").with_columns(
        pl.lit(grader).alias("grader"),
        pl.lit(version).alias("grader_version"),
        pl.Series("correct", [bool(c) if c is not None else False for c in correct], dtype=pl.Boolean),
        pl.lit(None, dtype=pl.String).alias("extracted"),
        pl.Series("status", status, dtype=pl.String),
    )
    return schemas.conform(df, "grades")


def counts_frame(rows: list[dict[str, Any]], *, model: str, benchmark: str, where: str) -> pl.DataFrame:
    """A counts table from dicts with ``problem_id``, ``n`` and ``c``; checks 0 <= c <= n, n > 0."""
    for r in rows:
        n, c = r["n"], r["c"]
        if not (isinstance(n, int) and isinstance(c, int)) or isinstance(n, bool) or isinstance(c, bool):
            msg = f"{where}: problem {r['problem_id']!r}: n and c must be integers, got n={n!r}, c={c!r}"
            raise ImportFormatError(msg)
        if n <= 0 or c < 0 or c > n:
            msg = f"{where}: problem {r['problem_id']!r}: need 0 <= c <= n and n > 0, got n={n}, c={c}"
            raise ImportFormatError(msg)
    df = pl.DataFrame(
        {
            "model": [model] * len(rows),
            "benchmark": [benchmark] * len(rows),
            "problem_id": [str(r["problem_id"]) for r in rows],
            "n": [r["n"] for r in rows],
            "c": [r["c"] for r in rows],
        },
        schema=schemas.COUNTS,
    )
    if df["problem_id"].is_duplicated().any():
        dup = df.filter(pl.col("problem_id").is_duplicated())["problem_id"][0]
        msg = f"{where}: problem {dup!r} appears more than once"
        raise ImportFormatError(msg)
    return df


def check_equal_n(samples: pl.DataFrame, where: str) -> int:
    """Every problem must have the same number of samples (pass@k needs one n); return it."""
    per = samples.group_by("problem_id").len()
    ns = sorted(set(per["len"].to_list()))
    if len(ns) != 1:
        worst = per.sort("len").row(0, named=True)
        msg = f"{where}: problems have different numbers of samples {ns} (e.g. {worst['problem_id']}: {worst['len']})"
        raise ImportFormatError(msg)
    return ns[0]
