"""The paper's evaluator output (``math_eval.py --save_outputs`` of LeapLabTHU/limit-of-RLVR).

One file per seed, named ``test_<prompt>_-1_seed<s>_t<T>_s0_e-1.jsonl``, one row per problem with
its 0-based ``idx`` and the lists ``code`` (the responses), ``pred`` (extracted answers),
``score`` (the official ``math_equal`` verdicts) and ``finish_reason`` (vLLM's, in later
releases), each of length n. Beside it ``<same name>_metrics.json`` holds acc and pass@k.

Seeds are pooled as the paper's ``pass@k.py`` pools them (PAPER.md 6.3): the seed files of one
setting are concatenated per problem, seed after seed in ascending order, so with seeds 1..4 of
32 samples each, seed 1 holds sample indices 0..31 and seed 4 indices 96..127. Every seed must
cover the same problems. The recorded ``score`` becomes grader ``official-recorded``.
"""

from __future__ import annotations

import json
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
    read_jsonl,
    recorded_grades,
    resolve_files,
    run_hash_of,
    samples_frame,
)

FORMAT = "paper-evaluator"
GRADER = "official-recorded"
GRADER_VERSION = "limit-of-RLVR math_eval.py score (math_equal, as recorded in the file)"
PATTERN = "test_*_seed*_t*_s0_e-1.jsonl"
NAME = re.compile(r"^test_(?P<prompt>.+)_-1_seed(?P<seed>-?\d+)_t(?P<t>\d+(?:\.\d+)?)_s0_e-1\.jsonl$")
LISTS = ("code", "pred", "score", "finish_reason")


def parse_name(path: Path) -> dict[str, Any]:
    """Prompt template, seed and temperature stated by an evaluator output file's name."""
    m = NAME.match(path.name)
    if m is None:
        msg = (
            f"{path}: not a paper-evaluator output file name (expected "
            "test_<prompt>_-1_seed<seed>_t<temperature>_s0_e-1.jsonl; the seed and temperature come from it)"
        )
        raise ImportFormatError(msg)
    return {"prompt": m["prompt"], "seed": int(m["seed"]), "temperature": float(m["t"])}


def _score(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    msg = f"{where}: score {value!r} is not a boolean"
    raise ImportFormatError(msg)


def _read_seed_file(path: Path, benchmark: str) -> dict[str, dict[str, list[Any]]]:
    """problem_id -> the row's lists (validated: present, lists, equal length)."""
    rows: dict[str, dict[str, list[Any]]] = {}
    for line_no, row in read_jsonl(path):
        where = f"{path}:{line_no}"
        missing = [k for k in ("idx", "code", "pred", "score") if k not in row]
        if missing:
            msg = f"{where}: missing field(s) {missing} of a paper-evaluator row (fields present: {sorted(row)})"
            raise ImportFormatError(msg)
        lists = {k: row[k] for k in LISTS if k in row}
        bad = [k for k, v in lists.items() if not isinstance(v, list)]
        if bad:
            msg = f"{where}: field(s) {bad} must be lists (one entry per sample)"
            raise ImportFormatError(msg)
        lengths = {k: len(v) for k, v in lists.items()}
        if len(set(lengths.values())) != 1:
            msg = f"{where}: lists of unequal length {lengths}; each must hold one entry per sample"
            raise ImportFormatError(msg)
        if not lists["code"]:
            msg = f"{where}: the row holds no samples"
            raise ImportFormatError(msg)
        if not all(isinstance(t, str) for t in lists["code"]):
            msg = f"{where}: 'code' must be a list of response strings"
            raise ImportFormatError(msg)
        lists["score"] = [_score(s, where) for s in lists["score"]]
        pid = problem_id(benchmark, row["idx"], where)
        if pid in rows:
            msg = f"{where}: problem idx {row['idx']} appears twice in the file"
            raise ImportFormatError(msg)
        rows[pid] = lists
    if not rows:
        msg = f"{path}: the file holds no rows"
        raise ImportFormatError(msg)
    return rows


def read_paper_evaluator(
    path: str | Path,
    *,
    model: str,
    benchmark: str,
    temperature: float,
    seeds: list[int] | None = None,
) -> Imported:
    """Import the evaluator's per-seed files at ``path`` (a file, a folder or a glob), seeds pooled.

    ``temperature`` must equal the one the file names state; with ``seeds``, exactly those seeds
    must be present (a missing seed file is an error, not a smaller n).
    """
    files = resolve_files(path, PATTERN)
    stated = {f: parse_name(f) for f in files}
    by_seed: dict[int, Path] = {}
    for f, info in stated.items():
        if abs(info["temperature"] - temperature) > 1e-9:
            msg = f"{f}: the file name states temperature {info['temperature']:g}, the import expects {temperature:g}"
            raise ImportFormatError(msg)
        if info["seed"] in by_seed:
            msg = f"seed {info['seed']} appears in two files: {by_seed[info['seed']]} and {f}"
            raise ImportFormatError(msg)
        by_seed[info["seed"]] = f
    prompts = sorted({info["prompt"] for info in stated.values()})
    if len(prompts) > 1:
        msg = f"files of different prompt templates {prompts} cannot be pooled: {[str(f) for f in files]}"
        raise ImportFormatError(msg)
    if seeds is not None:
        missing = sorted(set(seeds) - set(by_seed))
        extra = sorted(set(by_seed) - set(seeds))
        if missing or extra:
            msg = f"seeds {sorted(by_seed)} found at {path}; expected exactly {sorted(seeds)}"
            msg += f" (missing: {missing})" if missing else ""
            msg += f" (not expected: {extra})" if extra else ""
            raise ImportFormatError(msg)
    order = sorted(by_seed)
    per_seed = {s: _read_seed_file(by_seed[s], benchmark) for s in order}
    problems = list(per_seed[order[0]])
    for s in order[1:]:
        if set(per_seed[s]) != set(problems):
            diff = sorted(set(problems) ^ set(per_seed[s]))[:5]
            msg = f"seed {s} ({by_seed[s]}) covers other problems than seed {order[0]} (e.g. {diff})"
            raise ImportFormatError(msg)

    records: list[dict[str, Any]] = []
    verdicts: list[bool | None] = []
    for pid in sorted(problems, key=lambda p: int(p.rsplit("/", 1)[1])):
        offset = 0
        for s in order:
            lists = per_seed[s][pid]
            reasons = lists.get("finish_reason") or [None] * len(lists["code"])
            for j, text in enumerate(lists["code"]):
                records.append(
                    {
                        "problem_id": pid,
                        "sample_index": offset + j,
                        "seed": s,
                        "text": text,
                        "finish_reason": reasons[j],
                    }
                )
                verdicts.append(lists["score"][j])
            offset += len(lists["code"])

    file_records = []
    for s in order:
        f = by_seed[s]
        n_seed = {len(v["code"]) for v in per_seed[s].values()}
        file_records.append(file_record(f, seed=s, samples_per_problem=sorted(n_seed)))
        metrics = f.with_name(f.name.removesuffix(".jsonl") + "_metrics.json")
        if metrics.is_file():
            try:
                stated_metrics = json.loads(metrics.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                stated_metrics = None
            file_records.append(file_record(metrics, seed=s, stated=stated_metrics))
    run_hash = run_hash_of(file_records)
    samples = samples_frame(records, run_hash=run_hash, model=model, benchmark=benchmark, temperature=temperature)
    n = check_equal_n(samples, str(path))
    grades = recorded_grades(samples, verdicts, GRADER, GRADER_VERSION).with_columns(
        pl.lit(temperature, dtype=pl.Float64).alias("temperature")
    )
    run_folders = sorted({p.name for f in files for p in f.parents if "_temp" in p.name and "_seed" in p.name})
    provenance = {
        "format": FORMAT,
        "tool": "LeapLabTHU/limit-of-RLVR math/examples/math_eval/math_eval.py (--save_outputs)",
        "files": file_records,
        "stated": {
            "prompt": prompts[0],
            "temperature": temperature,
            "seeds": order,
            "run_folders": run_folders,
        },
        "pooling": "seeds concatenated per problem in ascending seed order (the paper's pass@k.py)",
        "n": n,
        "problems": len(problems),
        "recorded_grader": GRADER,
    }
    return Imported(model, benchmark, temperature, provenance, samples=samples, grades=grades, problem_ids=problems)
