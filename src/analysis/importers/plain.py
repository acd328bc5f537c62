"""The project's plain formats, for generations from anywhere else (an RL framework's dump, a script).

``jsonl`` (texts): one JSON object per sample, ``{"problem_id": ..., "response": "..."}``, with
optional ``sample_index`` (default: order of appearance within the problem), ``seed``,
``finish_reason`` ("stop" / "length"), ``model`` (rows of other models are skipped when a
``source_model`` is chosen) and ``correct`` (a boolean verdict of your own, kept as grader
``jsonl-recorded``).

``counts``: one row per problem, ``{"problem_id": ..., "n": 128, "c": 57}``, as JSONL, CSV or
parquet, with optional ``model`` (select with ``source_model``) and ``stratum`` (a difficulty
group, e.g. "level 3").

``problem_id`` is the project's id (``math500/17``), or the bare 0-based row index of the
benchmark file (``17``), which becomes ``<benchmark>/17``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from analysis.importers.common import (
    Imported,
    ImportFormatError,
    check_equal_n,
    counts_frame,
    file_record,
    read_jsonl,
    recorded_grades,
    require_fields,
    resolve_files,
    run_hash_of,
    samples_frame,
)

JSONL = "jsonl"
COUNTS = "counts"
GRADER = "jsonl-recorded"


def normalise_id(value: object, benchmark: str, where: str) -> str:
    """``17`` or ``"17"`` -> ``"<benchmark>/17"``; any other non-empty string is kept as is."""
    if isinstance(value, bool) or value is None:
        msg = f"{where}: problem_id {value!r} is neither an id nor a row index"
        raise ImportFormatError(msg)
    if isinstance(value, int):
        return f"{benchmark}/{value}"
    text = str(value).strip()
    if not text:
        msg = f"{where}: empty problem_id"
        raise ImportFormatError(msg)
    return f"{benchmark}/{text}" if text.isdigit() else text


def read_jsonl_responses(
    path: str | Path, *, model: str, benchmark: str, temperature: float, source_model: str | None = None
) -> Imported:
    """Import ``{problem_id, response}`` rows (one file, a folder of ``*.jsonl``, or a glob)."""
    files = resolve_files(path, "*.jsonl")
    records: list[dict[str, Any]] = []
    verdicts: list[bool | None] = []
    next_index: dict[str, int] = {}
    skipped = 0
    for f in files:
        for line_no, row in read_jsonl(f):
            where = f"{f}:{line_no}"
            if {"n", "c"} <= set(row) and "response" not in row:
                msg = f"{where}: this row holds counts (n, c), not a response: import the file with format 'counts'"
                raise ImportFormatError(msg)
            require_fields(row, ["problem_id", "response"], where, "plain JSONL (texts)")
            if source_model is not None and row.get("model", source_model) != source_model:
                skipped += 1
                continue
            if not isinstance(row["response"], str):
                msg = f"{where}: 'response' must be a string, got {type(row['response']).__name__}"
                raise ImportFormatError(msg)
            pid = normalise_id(row["problem_id"], benchmark, where)
            index = row.get("sample_index", next_index.get(pid, 0))
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                msg = f"{where}: sample_index {index!r} is not a non-negative integer"
                raise ImportFormatError(msg)
            next_index[pid] = max(next_index.get(pid, 0), index + 1)
            correct = row.get("correct")
            if correct is not None and not isinstance(correct, bool):
                msg = f"{where}: 'correct' must be true, false or absent, got {correct!r}"
                raise ImportFormatError(msg)
            verdicts.append(correct)
            records.append(
                {
                    "problem_id": pid,
                    "sample_index": index,
                    "text": row["response"],
                    "seed": row.get("seed"),
                    "finish_reason": row.get("finish_reason"),
                }
            )
    if not records:
        msg = f"no responses at {path}" + (f" for model {source_model!r}" if source_model else "")
        raise ImportFormatError(msg)
    file_records = [file_record(f) for f in files]
    samples = samples_frame(
        records, run_hash=run_hash_of(file_records), model=model, benchmark=benchmark, temperature=temperature
    )
    n = check_equal_n(samples, str(path))
    given = [v for v in verdicts if v is not None]
    grades = None
    if given:
        if len(given) != len(verdicts):
            msg = f"{path}: 'correct' is given for {len(given)} of {len(verdicts)} responses; give it for all or none"
            raise ImportFormatError(msg)
        grades = recorded_grades(samples, verdicts, GRADER, "as recorded in the file").with_columns(
            pl.lit(temperature, dtype=pl.Float64).alias("temperature")
        )
    provenance = {
        "format": JSONL,
        "tool": "plain JSONL {problem_id, response}",
        "files": file_records,
        "stated": {"source_model": source_model, "rows_of_other_models": skipped},
        "n": n,
        "problems": len(next_index),
        "recorded_grader": GRADER if grades is not None else None,
    }
    return Imported(
        model, benchmark, temperature, provenance, samples=samples, grades=grades, problem_ids=list(next_index)
    )


def _read_table(f: Path) -> list[dict[str, Any]]:
    suffix = f.suffix.lower()
    if suffix == ".jsonl":
        return [row | {"_where": f"{f}:{line_no}"} for line_no, row in read_jsonl(f)]
    try:
        df = pl.read_csv(f) if suffix == ".csv" else pl.read_parquet(f) if suffix == ".parquet" else None
    except Exception as e:  # polars raises several error types for a malformed file
        msg = f"{f}: not a readable {suffix[1:]} file ({type(e).__name__}: {e})"
        raise ImportFormatError(msg) from None
    if df is None:
        msg = f"{f}: counts files must be .jsonl, .csv or .parquet"
        raise ImportFormatError(msg)
    return [row | {"_where": f"{f} row {i}"} for i, row in enumerate(df.iter_rows(named=True))]


def read_counts(
    path: str | Path,
    *,
    model: str,
    benchmark: str,
    temperature: float,
    source_model: str | None = None,
    grader: str | None = None,
) -> Imported:
    """Import per-problem counts ``{problem_id, n, c}`` (JSONL, CSV or parquet)."""
    files = resolve_files(path, "*")
    rows: list[dict[str, Any]] = []
    models_seen: set[str] = set()
    for f in files:
        for row in _read_table(f):
            where = row.pop("_where")
            if "response" in row and "n" not in row:
                msg = f"{where}: this row holds a response, not counts: import the file with format 'jsonl'"
                raise ImportFormatError(msg)
            require_fields(row, ["problem_id", "n", "c"], where, "counts {problem_id, n, c}")
            if "model" in row:
                models_seen.add(str(row["model"]))
                if source_model is None:
                    msg = f"{where}: the file holds a 'model' column: set source_model to choose the rows to import"
                    raise ImportFormatError(msg)
                if row["model"] != source_model:
                    continue
            rows.append(
                {
                    "problem_id": normalise_id(row["problem_id"], benchmark, where),
                    "n": row["n"],
                    "c": row["c"],
                    "stratum": row.get("stratum"),
                }
            )
    if not rows:
        msg = f"no counts at {path} for model {source_model!r}" + (
            f"; models in the file: {sorted(models_seen)}" if models_seen else ""
        )
        raise ImportFormatError(msg)
    counts = counts_frame(rows, model=model, benchmark=benchmark, where=str(path)).with_columns(
        pl.lit(temperature, dtype=pl.Float64).alias("temperature")
    )
    strata = {r["problem_id"]: r["stratum"] for r in rows if r["stratum"] is not None}
    file_records = [file_record(f) for f in files]
    provenance = {
        "format": COUNTS,
        "tool": "per-problem counts {problem_id, n, c}",
        "files": file_records,
        "stated": {"source_model": source_model, "grader": grader},
        "n": sorted(set(counts["n"].to_list())),
        "problems": counts.height,
    }
    return Imported(
        model,
        benchmark,
        temperature,
        provenance,
        counts=counts,
        problem_ids=counts["problem_id"].to_list(),
        strata=strata,
    )
