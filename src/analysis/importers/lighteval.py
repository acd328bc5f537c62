"""lighteval details parquet files (lighteval 0.10 and later; checked against 0.13).

lighteval's ``EvaluationTracker`` writes ``<output>/details/<model_name>/<date>/details_<task>_<date>.parquet``:
one row per document, the ``asdict`` of its ``Detail`` with the columns sorted, i.e. three struct
columns:

- ``doc``: the ``Doc`` (``query``, ``choices``, ``gold_index``, ``id`` = the document's 0-based
  position in the evaluation split as a string, ``task_name``, ``num_samples``,
  ``generation_size``, ``stop_sequences``, ...);
- ``model_response``: the ``ModelResponse`` (``text``: one string per generation, ``input``,
  ``output_tokens``, ``text_post_processed``, ``logprobs``, ...);
- ``metric``: the document's metric values (per document, e.g. ``pass@k:k=1&n=16``).

``model_response.text`` becomes the samples; metric values are per document, so they are only
summarised in the provenance and the texts are graded by this project's graders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from analysis.importers.common import (
    Imported,
    ImportFormatError,
    check_equal_n,
    file_record,
    problem_id,
    resolve_files,
    run_hash_of,
    samples_frame,
)

FORMAT = "lighteval"
PATTERN = "details_*.parquet"
NAME = re.compile(r"^details_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.parquet$")


def _pick_file(path: str | Path, task: str | None) -> Path:
    files = resolve_files(path, PATTERN, recursive=True)  # details/<model>/<date>/details_*.parquet
    if task is not None:
        files = [f for f in files if (m := NAME.match(f.name)) is not None and m["task"] == task]
        if not files:
            msg = f"no lighteval details file of task {task!r} at {path}"
            raise ImportFormatError(msg)
    if len(files) > 1:
        msg = f"{len(files)} lighteval details files at {path} ({[f.name for f in files]}): name one file or set task"
        raise ImportFormatError(msg)
    return files[0]


def _struct_fields(df: pl.DataFrame, column: str) -> list[str]:
    dtype = df.schema[column]
    return [f.name for f in dtype.fields] if isinstance(dtype, pl.Struct) else []


def read_lighteval(
    path: str | Path, *, model: str, benchmark: str, temperature: float, task: str | None = None
) -> Imported:
    """Import one task's details parquet file (``path``: the file, or a folder holding it)."""
    f = _pick_file(path, task)
    try:
        df = pl.read_parquet(f)
    except Exception as e:  # polars raises several error types for a file that is not parquet
        msg = f"{f}: not a readable parquet file ({type(e).__name__}: {e})"
        raise ImportFormatError(msg) from None
    missing = [c for c in ("doc", "model_response") if c not in df.columns]
    if missing:
        msg = f"{f}: missing column(s) {missing} of a lighteval (>= 0.10) details file; columns present: {df.columns}"
        raise ImportFormatError(msg)
    if "id" not in _struct_fields(df, "doc"):
        msg = f"{f}: column 'doc' has no field 'id' (fields: {_struct_fields(df, 'doc')})"
        raise ImportFormatError(msg)
    if "text" not in _struct_fields(df, "model_response"):
        msg = f"{f}: column 'model_response' has no field 'text' (fields: {_struct_fields(df, 'model_response')})"
        raise ImportFormatError(msg)
    ids = df["doc"].struct.field("id").to_list()
    texts = df["model_response"].struct.field("text").to_list()
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row, (doc_id, gens) in enumerate(zip(ids, texts, strict=True)):
        where = f"{f} row {row}"
        pid = problem_id(benchmark, doc_id, where)
        if pid in seen:
            msg = f"{where}: doc id {doc_id} appears twice"
            raise ImportFormatError(msg)
        seen.add(pid)
        if not gens:
            msg = f"{where}: model_response.text holds no generations (a loglikelihood task?)"
            raise ImportFormatError(msg)
        records.extend({"problem_id": pid, "sample_index": j, "text": t} for j, t in enumerate(gens))
    if not records:
        msg = f"{f}: the file holds no rows"
        raise ImportFormatError(msg)
    m = NAME.match(f.name)
    stated: dict[str, Any] = {"task": m["task"] if m else None, "date": m["date"] if m else None}
    parts = f.resolve().parts
    if m is not None and f.parent.name == m["date"] and "details" in parts:  # details/<model name>/<date>/
        at = len(parts) - 1 - parts[::-1].index("details")
        stated["model_name"] = "/".join(parts[at + 1 : -2])
    doc_fields = _struct_fields(df, "doc")
    for key in ("task_name", "num_samples", "generation_size"):
        if key in doc_fields:
            stated[key] = sorted({v for v in df["doc"].struct.field(key).to_list() if v is not None})
    metrics: dict[str, float] = {}
    if "metric" in df.columns and isinstance(df.schema["metric"], pl.Struct):
        for name in _struct_fields(df, "metric"):
            col = df["metric"].struct.field(name)
            if col.dtype.is_numeric():
                metrics[name] = float(col.mean())  # type: ignore[arg-type]
    files = [file_record(f, task=stated["task"])]
    samples = samples_frame(
        records, run_hash=run_hash_of(files), model=model, benchmark=benchmark, temperature=temperature
    )
    n = check_equal_n(samples, str(f))
    provenance = {
        "format": FORMAT,
        "tool": "huggingface/lighteval details parquet",
        "files": files,
        "stated": stated,
        "n": n,
        "problems": len(seen),
        "recorded_per_document_metrics": metrics,
        "note": "lighteval's metrics are per document, not per sample: the texts are graded by this project",
    }
    return Imported(model, benchmark, temperature, provenance, samples=samples, problem_ids=sorted(seen))
