"""lm-evaluation-harness ``--log_samples`` output.

lm-eval writes ``samples_<task>_<date>.jsonl`` beside ``results_<date>.json``. Each line is one
document under one filter: ``doc_id`` (0-based position in the task's evaluation split),
``doc``, ``target``, ``arguments``, ``resps`` (one list per request, each holding every repeat:
a generation task with ``repeats: 8`` logs ``[[r1, ..., r8]]``), ``filtered_resps``, ``filter``,
``metrics`` (their names), ``doc_hash``, ``prompt_hash``, ``target_hash`` and each metric's value
for the document. A task with several filters logs each document once per filter, with the
same ``resps``.

The raw ``resps`` become samples (sample index = position among the document's repeats). The
metric values are per document, not per sample, so they are kept only as a summary in the
provenance and the texts are graded by the project's graders. ``doc_id`` maps to the problem at
that row of the benchmark file (``<benchmark>/<doc_id>``): the task must iterate the same file in
the same order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from analysis.importers.common import (
    Imported,
    ImportFormatError,
    check_equal_n,
    file_record,
    problem_id,
    read_jsonl,
    require_fields,
    resolve_files,
    run_hash_of,
    samples_frame,
)

FORMAT = "lm-eval"
PATTERN = "samples_*.jsonl"
NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
BOOKKEEPING = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
}


def _task_of(path: Path) -> tuple[str | None, str | None]:
    m = NAME.match(path.name)
    return (m["task"], m["date"]) if m else (None, None)


def _pick_file(path: str | Path, task: str | None) -> Path:
    files = resolve_files(path, PATTERN, recursive=True)  # <output_path>/<model>/samples_*.jsonl
    if task is not None:
        files = [f for f in files if _task_of(f)[0] == task]
        if not files:
            msg = f"no lm-eval samples file of task {task!r} at {path}"
            raise ImportFormatError(msg)
    if len(files) > 1:
        msg = f"{len(files)} lm-eval samples files at {path} ({[f.name for f in files]}): name one file or set task"
        raise ImportFormatError(msg)
    return files[0]


def _results_beside(samples_file: Path, date: str | None) -> Path | None:
    if date is not None and (samples_file.parent / f"results_{date}.json").is_file():
        return samples_file.parent / f"results_{date}.json"
    found = sorted(samples_file.parent.glob("results_*.json"))
    return found[-1] if len(found) == 1 else None


def _stated_settings(results: dict[str, Any], task: str | None) -> dict[str, Any]:
    config = results.get("config") or {}
    task_cfg = (results.get("configs") or {}).get(task or "", {})
    return {
        "model": config.get("model"),
        "model_args": config.get("model_args"),
        "model_name": results.get("model_name"),
        "lm_eval_version": results.get("lm_eval_version"),
        "git_hash": results.get("git_hash"),
        "generation_kwargs": task_cfg.get("generation_kwargs"),
        "repeats": task_cfg.get("repeats"),
        "n-shot": (results.get("n-shot") or {}).get(task or ""),
    }


def read_lm_eval(
    path: str | Path, *, model: str, benchmark: str, temperature: float, task: str | None = None
) -> Imported:
    """Import one task's ``samples_<task>_<date>.jsonl`` (``path``: the file, or a folder holding it)."""
    f = _pick_file(path, task)
    task_name, date = _task_of(f)
    docs: dict[str, tuple[list[str], str | None]] = {}
    metric_sums: dict[str, list[float]] = {}
    for line_no, row in read_jsonl(f):
        where = f"{f}:{line_no}"
        require_fields(row, ["doc_id", "resps"], where, "lm-eval --log_samples")
        resps = row["resps"]
        if not isinstance(resps, list) or not all(isinstance(r, list) for r in resps):
            msg = f"{where}: 'resps' must be a list (one per request) of lists (one per repeat)"
            raise ImportFormatError(msg)
        texts = [t for request in resps for t in request]
        if not texts:
            msg = f"{where}: 'resps' holds no responses"
            raise ImportFormatError(msg)
        if not all(isinstance(t, str) for t in texts):
            msg = f"{where}: 'resps' holds non-text responses (a loglikelihood task?); only generation tasks import"
            raise ImportFormatError(msg)
        pid = problem_id(benchmark, row["doc_id"], where)
        flt = row.get("filter")
        if pid in docs:
            seen_texts, seen_filter = docs[pid]
            if seen_filter == flt or seen_texts != texts:
                msg = f"{where}: doc_id {row['doc_id']} appears twice" + (
                    "" if seen_filter == flt else " with different responses"
                )
                raise ImportFormatError(msg)
            continue
        docs[pid] = (texts, flt)
        for key, value in row.items():
            if key not in BOOKKEEPING and isinstance(value, int | float) and not isinstance(value, bool):
                metric_sums.setdefault(key, []).append(float(value))
    if not docs:
        msg = f"{f}: the file holds no rows"
        raise ImportFormatError(msg)
    records = [
        {"problem_id": pid, "sample_index": j, "text": t}
        for pid, (texts, _) in sorted(docs.items(), key=lambda kv: int(kv[0].rsplit("/", 1)[1]))
        for j, t in enumerate(texts)
    ]
    files = [file_record(f, task=task_name)]
    stated: dict[str, Any] = {"task": task_name, "date": date}
    results_file = _results_beside(f, date)
    if results_file is not None:
        try:
            results = json.loads(results_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            msg = f"{results_file}: not valid JSON ({e.msg})"
            raise ImportFormatError(msg) from None
        files.append(file_record(results_file))
        stated |= _stated_settings(results, task_name)
        stated_t = (stated.get("generation_kwargs") or {}).get("temperature")
        if isinstance(stated_t, int | float) and abs(float(stated_t) - temperature) > 1e-9:
            msg = (
                f"{results_file}: the task was sampled at temperature {stated_t:g}, the import expects {temperature:g}"
            )
            raise ImportFormatError(msg)
    samples = samples_frame(
        records, run_hash=run_hash_of(files), model=model, benchmark=benchmark, temperature=temperature
    )
    n = check_equal_n(samples, str(f))
    provenance = {
        "format": FORMAT,
        "tool": "EleutherAI/lm-evaluation-harness --log_samples",
        "files": files,
        "stated": stated,
        "n": n,
        "problems": len(docs),
        "recorded_per_document_metrics": {k: sum(v) / len(v) for k, v in sorted(metric_sums.items())},
        "note": "lm-eval's metrics are per document, not per sample: the texts are graded by this project",
    }
    return Imported(model, benchmark, temperature, provenance, samples=samples, problem_ids=list(docs))
