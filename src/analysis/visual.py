"""The paper's visual benchmarks: MathVista-TestMini and MathVision-TestMini, multiple choice removed.

Fig. 4 (right) compares Qwen2.5-VL-7B-Instruct with its EasyR1 GRPO model on the testmini
splits of MathVista and MathVision with the multiple-choice questions removed (PAPER.md 3.1;
the paper states no counts and released no code for it). The files are the hub datasets'
parquet files at pinned commits (``VISUAL_BENCHMARKS``; the commits are those the hub lists
for the files, the newest before the paper that hold them):

* MathVista: ``AI4Math/MathVista`` testmini, 1,000 rows; 540 multiple choice
  (``question_type == "multi_choice"``), 460 free-form kept (the MathVista paper's split).
* MathVision: ``MathLLMs/MathVision`` testmini, 304 rows; rows with answer ``options`` are
  multiple choice and removed.

``source`` is ``"hub"`` (download at the pinned commit; no SHA-256 of these files is published,
so the row counts, all and free-form, are what is checked) or a folder holding the hub
repository's file at the same relative path (``<folder>/data/testmini-….parquet``), checked
against ``<folder>/SHA256SUMS`` where that file lists it (a local file may hold any subset of
rows). The loaders register in ``analysis.benchmarks`` as ``mathvista_testmini`` and
``mathvision_testmini``.

Each image (the ``decoded_image`` column's bytes) goes into the image store and the question
starts with its marker (``analysis.images``), then the question text: the image first in the
user turn, as EasyR1 lays it out. The question text is MathVista's ``query`` (the benchmark's
own model input: its hint states the answer's type and precision, which the gold follows) and
MathVision's ``question`` (its ``<image1>`` references left as they are). The gold is
``answer``. They are graded by the math graders (``analysis.grading``, generic rules).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.benchmarks import BenchmarkError, HubSource
from analysis.images import store_image
from analysis.store import file_sha256

IMAGE_FIELD = "decoded_image"


@dataclass(frozen=True)
class VisualBenchmark:
    """One visual benchmark file: where it is pinned and how to read a row."""

    name: str
    hub: HubSource
    question_field: str
    multiple_choice: Callable[[dict[str, Any]], bool]
    problem_id: Callable[[dict[str, Any]], str]
    stratum: Callable[[dict[str, Any]], str | None]
    kept: int | None = None  # free-form rows expected in the pinned file, where known


VISUAL_BENCHMARKS: dict[str, VisualBenchmark] = {
    "mathvista_testmini": VisualBenchmark(
        "mathvista_testmini",
        HubSource(
            "AI4Math/MathVista",
            "2b6ad69445fbb5695c9b165475e8decdbeb97747",
            "data/testmini-00000-of-00001-725687bf7a18d64b.parquet",
            rows=1000,
        ),
        "query",
        lambda r: r.get("question_type") == "multi_choice",
        lambda r: f"mathvista_testmini/{r['pid']}",
        lambda r: (r.get("metadata") or {}).get("task"),
        kept=460,
    ),
    "mathvision_testmini": VisualBenchmark(
        "mathvision_testmini",
        HubSource(
            "MathLLMs/MathVision",
            "14b5e86a95856c4231a056b82f658584eae2b309",
            "data/testmini-00000-of-00001-f8ff70fcb2f29b1d.parquet",
            rows=304,
        ),
        "question",
        lambda r: bool(r.get("options")),
        lambda r: f"mathvision_testmini/{r['id']}",
        lambda r: None if r.get("level") is None else f"level {r['level']}",
    ),
}


def visual_file(name: str, source: str | os.PathLike[str]) -> Path:
    """The file a local folder ``source`` holds for visual benchmark ``name`` (the hub repository's path)."""
    return Path(source) / VISUAL_BENCHMARKS[name].hub.filename


def _local_file(spec: VisualBenchmark, source: str | os.PathLike[str]) -> Path:
    path = visual_file(spec.name, source)
    if not path.is_file():
        msg = f"benchmark file not found: {path} (a folder in the layout of {spec.hub.repo_id})"
        raise BenchmarkError(msg)
    sums = Path(source) / "SHA256SUMS"
    pin = _pins(sums).get(spec.hub.filename) if sums.is_file() else None
    if pin is not None and (actual := file_sha256(path)) != pin:
        msg = f"benchmark {spec.name!r}: {path} has SHA-256 {actual}, but {sums} pins {pin}"
        raise BenchmarkError(msg)
    return path


def _pins(sums: Path) -> dict[str, str]:
    pins = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.strip().partition("  ")
        if rel:
            pins[rel] = digest
    return pins


def _hub_file(spec: VisualBenchmark) -> Path:
    from huggingface_hub import hf_hub_download

    hub = spec.hub
    path = Path(hf_hub_download(hub.repo_id, hub.filename, repo_type="dataset", revision=hub.revision))
    if hub.sha256 is not None and (actual := file_sha256(path)) != hub.sha256:
        msg = f"{spec.name}: {hub.repo_id}@{hub.revision}/{hub.filename} has SHA-256 {actual}, expected {hub.sha256}"
        raise BenchmarkError(msg)
    return path


def _image_bytes(spec: VisualBenchmark, row: dict[str, Any], i: int) -> bytes:
    value = row.get(IMAGE_FIELD)
    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, bytes) or not data:
        msg = f"{spec.name} row {i} has no image bytes in {IMAGE_FIELD!r}"
        raise BenchmarkError(msg)
    return data


def visual_rows_to_problems(
    spec: VisualBenchmark, rows: list[dict[str, Any]], image_root: str | os.PathLike[str] | None = None
) -> pl.DataFrame:
    """The free-form rows of a visual benchmark file as a problems table; their images into the store."""
    records = []
    for i, row in enumerate(rows):
        for field in (spec.question_field, "answer"):
            if field not in row:
                msg = f"{spec.name} row {i} has no {field!r} field (fields: {sorted(row)})"
                raise BenchmarkError(msg)
        if spec.multiple_choice(row):
            continue
        image = store_image(_image_bytes(spec, row, i), image_root)
        meta = {k: v for k, v in row.items() if k not in (spec.question_field, IMAGE_FIELD)}
        meta["image"] = {"sha256": image.sha256, "path": image.path}
        records.append(
            {
                "benchmark": spec.name,
                "problem_id": spec.problem_id(row),
                "index": i,
                "question": image.marker + str(row[spec.question_field]).strip(),
                "gold": [str(row["answer"]).strip()],
                "stratum": spec.stratum(row),
                "metadata": json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str),
            }
        )
    return pl.DataFrame(records, schema=schemas.PROBLEMS)


def load_visual(
    name: str, source: str | os.PathLike[str] | None, image_root: str | os.PathLike[str] | None = None
) -> pl.DataFrame:
    """Visual benchmark ``name`` from ``source`` ('hub' or a folder), multiple choice removed."""
    spec = VISUAL_BENCHMARKS[name]
    if source is None:
        msg = f"benchmark {name!r} needs a source: 'hub' or a folder holding {spec.hub.filename}"
        raise BenchmarkError(msg)
    hub = str(source) == "hub"
    path = _hub_file(spec) if hub else _local_file(spec, source)
    rows = pl.read_parquet(path).to_dicts()
    if hub and spec.hub.rows is not None and len(rows) != spec.hub.rows:
        msg = f"{name}: {path} has {len(rows)} rows, but the pinned {spec.hub.repo_id} file has {spec.hub.rows}"
        raise BenchmarkError(msg)
    problems = visual_rows_to_problems(spec, rows, image_root)
    if hub and spec.kept is not None and problems.height != spec.kept:
        msg = f"{name}: {problems.height} free-form problems in {path}, expected {spec.kept}"
        raise BenchmarkError(msg)
    return problems


def load_mathvista_testmini(source: str | os.PathLike[str] | None) -> pl.DataFrame:
    """MathVista testmini, free-form questions only (``analysis.benchmarks`` loader)."""
    return load_visual("mathvista_testmini", source)


def load_mathvision_testmini(source: str | os.PathLike[str] | None) -> pl.DataFrame:
    """MathVision testmini, questions without answer options only (``analysis.benchmarks`` loader)."""
    return load_visual("mathvision_testmini", source)
