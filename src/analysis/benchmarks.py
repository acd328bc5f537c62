"""Benchmarks: one problems table (``analysis.schemas.PROBLEMS``) whatever the source.

A benchmark is loaded from a local folder laid out like the paper's evaluation data
(``<folder>/<name>/test.jsonl``), or from the Hugging Face hub by dataset ID at a pinned
revision. Synthetic task families (the toy world) register a loader under their own name.

Registry entries are resolved lazily, so importing this module loads no other part of the
package.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.answers import last_boxed
from analysis.store import file_sha256


class BenchmarkError(ValueError):
    """A benchmark name, source or file that cannot be loaded."""


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the Hugging Face hub.

    ``revision`` is a commit hash: the hub copy can change under the same name. ``sha256`` (the
    downloaded file's bytes) and ``rows`` are checked after download where they are known, so a
    file that is not the pinned one fails loudly instead of silently changing the study.
    """

    repo_id: str
    revision: str
    filename: str
    field_map: tuple[tuple[str, str], ...] = ()  # hub field -> local field
    sha256: str | None = None
    rows: int | None = None


@dataclass(frozen=True)
class MathBenchmark:
    """One of the paper's math benchmarks: how to read a row of its file."""

    name: str
    question_field: str
    gold: Callable[[dict[str, Any]], list[str]]
    problem_id: Callable[[dict[str, Any], int], str]
    stratum: Callable[[dict[str, Any]], str | None]
    hub: HubSource | None = None
    default_grader: str = "strict"


def _gsm8k_gold(row: dict[str, Any]) -> list[str]:
    answer = str(row["answer"])
    if "####" not in answer:
        msg = f"GSM8K answer without '####': {answer[-80:]!r}"
        raise BenchmarkError(msg)
    return [answer.split("####")[-1].strip().replace(",", "")]


def _boxed_solution_gold(row: dict[str, Any]) -> list[str]:
    """Minerva: the last box of the solution (local files); the hub copy has an ``answer`` field."""
    if "solution" not in row and "answer" in row:
        return [str(row["answer"]).strip()]
    box = last_boxed(str(row["solution"]))
    if box is None:
        msg = f"solution without a \\boxed answer: {str(row['solution'])[-80:]!r}"
        raise BenchmarkError(msg)
    return [box.strip()]


def _number_gold(row: dict[str, Any]) -> list[str]:
    value = row["answer"]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value))]
    return [str(value).strip()]


def _olympiad_gold(row: dict[str, Any]) -> list[str]:
    """OlympiadBench ``final_answer``: every ``$`` removed, then a trailing period.

    The source writes some answers as text with inline maths (``69$,$84``,
    ``$(-\\infty, 0) \\cup\\{1\\}$.``); stripping only the outer ``$`` (as the official evaluator
    does) leaves LaTeX that no parser reads. A problem with several answers keeps them in ONE
    string (``1,3,5``); see ``analysis.grading`` for how each mode compares such lists.
    """
    return [str(a).replace("$", "").strip().rstrip(".").strip() for a in row["final_answer"]]


def _index_id(name: str) -> Callable[[dict[str, Any], int], str]:
    return lambda _row, i: f"{name}/{i}"


# Hub copies, pinned to commits found in public evaluation code (none could be fetched from here:
# no hub is reachable on the build machine). Where the source is stated, it is the evidence:
# - gsm8k: openai/gsm8k@740312a..., file main/test-00000-of-00001.parquet, pinned by several
#   independent evaluation scripts (hub cache paths .../snapshots/740312a.../main/test-...).
# - math500: HuggingFaceH4/MATH-500@6e4ed1a..., test.jsonl; a pinned download recorded SHA-256
#   35dc4108..., which is also the SHA-256 of the local file in SHA256SUMS: the same bytes.
# - aime24: HuggingFaceH4/aime_2024@2fe88a2..., data/train-00000-of-00001.parquet (the split
#   is named "train"); SHA-256 from a pinned, hash-checked download script.
# - amc23: math-ai/amc23@80815d3..., test-00000-of-00001.parquet (fields id, answer, url,
#   question); SHA-256 from a pinned, hash-checked download script.
# - minerva_math: math-ai/minervamath@ee46ddc... (fields question, answer). The file name
#   test.jsonl comes from one script that read it from a hub snapshot without naming the
#   revision: unverified. Its ``answer`` is used as the gold (the local file's gold is the box
#   of ``solution``).
# - olympiadbench: Hothan/OlympiadBench@91184b5..., config OE_TO_maths_en_COMP, the original
#   publisher's file with the local schema. It has 674 rows; the local (paper) file has 675
#   (one problem is no longer on the hub). Problem ids therefore use the source's own ``id``
#   field, which both copies carry, so the same problem has the same id from either source.
MATH_BENCHMARKS: dict[str, MathBenchmark] = {
    "gsm8k": MathBenchmark(
        "gsm8k",
        "question",
        _gsm8k_gold,
        _index_id("gsm8k"),
        lambda _r: None,
        HubSource(
            "openai/gsm8k",
            "740312add88f781978c0658806c59bc2815b9866",
            "main/test-00000-of-00001.parquet",
            rows=1319,
        ),
    ),
    "math500": MathBenchmark(
        "math500",
        "problem",
        lambda r: [str(r["answer"]).strip()],
        _index_id("math500"),
        lambda r: f"level {r['level']}",
        HubSource(
            "HuggingFaceH4/MATH-500",
            "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be",
            "test.jsonl",
            sha256="35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
            rows=500,
        ),
    ),
    "minerva_math": MathBenchmark(
        "minerva_math",
        "problem",
        _boxed_solution_gold,
        _index_id("minerva_math"),
        lambda r: r.get("type"),
        HubSource(
            "math-ai/minervamath",
            "ee46ddc498933b1977577953250ca5c66be64f96",
            "test.jsonl",
            field_map=(("question", "problem"),),
            rows=272,
        ),
    ),
    "olympiadbench": MathBenchmark(
        "olympiadbench",
        "question",
        _olympiad_gold,
        lambda r, _i: f"olympiadbench/{r['id']}",
        lambda r: r.get("subfield"),
        HubSource(
            "Hothan/OlympiadBench",
            "91184b52131e7fc9455fef848035173aea8cc01a",
            "OlympiadBench/OE_TO_maths_en_COMP/OE_TO_maths_en_COMP.parquet",
            rows=674,
        ),
    ),
    "aime24": MathBenchmark(
        "aime24",
        "problem",
        lambda r: [str(r["answer"]).strip()],
        _index_id("aime24"),
        lambda _r: None,
        HubSource(
            "HuggingFaceH4/aime_2024",
            "2fe88a2f1091d5048c0f36abc874fb997b3dd99a",
            "data/train-00000-of-00001.parquet",
            sha256="26139847601a5037c237d5928b195e7260ca8074cf4f264b794af42847f79ccf",
            rows=30,
        ),
    ),
    "amc23": MathBenchmark(
        "amc23",
        "question",
        _number_gold,
        _index_id("amc23"),
        lambda _r: None,
        HubSource(
            "math-ai/amc23",
            "80815d37005feb82cd7f8fbc6901d5d3eff43057",
            "test-00000-of-00001.parquet",
            sha256="b696e87ba47be4e879a60fd4ef1d4aa522ba78c5ae013c6aff5cc9788a397c5e",
            rows=40,
        ),
    ),
}

# SHA-256 of the paper's own files (<folder>/<name>/test.jsonl, shared/benchmarks/math/SHA256SUMS):
# the preflight says whether a local folder holds exactly these files.
PAPER_SHA256: dict[str, str] = {
    "aime24": "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac",
    "amc23": "43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4",
    "gsm8k": "9f098df7ff4522078d6ccec27a5c38a454790fdb51131bedfaa0e490070d5394",
    "math500": "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
    "minerva_math": "0e656b430d3a0a1dab6aa853f453ba3805e28e2cabe4fc72486a897cc09d8ba2",
    "olympiadbench": "bb8c1e38a16ea9eacb77530315a674d883f267fbff79183effc53681b4fcc416",
}


def local_file(name: str, source: str | os.PathLike[str]) -> Path:
    """The file a local folder ``source`` holds for math benchmark ``name``."""
    return Path(source) / name / "test.jsonl"


def folder_pins(source: str | os.PathLike[str]) -> dict[str, str]:
    """The ``SHA256SUMS`` of a benchmark folder (``<sum>  <name>/test.jsonl`` lines), by benchmark name."""
    sums = Path(source) / "SHA256SUMS"
    if not sums.is_file():
        return {}
    pins = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.strip().partition("  ")
        if rel.endswith("/test.jsonl"):
            pins[rel.removesuffix("/test.jsonl")] = digest
    return pins


def check_file(name: str, source: str | os.PathLike[str], sha256: str | None = None) -> str:
    """SHA-256 of ``name``'s local file, checked against ``sha256`` and the folder's ``SHA256SUMS``.

    Raises ``BenchmarkError`` naming the benchmark, the file and both hashes when either pin
    differs: a different file silently changes the study.
    """
    path = local_file(name, source)
    if not path.is_file():
        msg = f"benchmark file not found: {path}"
        raise BenchmarkError(msg)
    actual = file_sha256(path)
    pins = (("the study config's sha256", sha256), (str(Path(source) / "SHA256SUMS"), folder_pins(source).get(name)))
    for what, pin in pins:
        if pin is not None and pin != actual:
            msg = f"benchmark {name!r}: {path} has SHA-256 {actual}, but {what} pins {pin}"
            raise BenchmarkError(msg)
    return actual


def source_record(name: str, source: str | os.PathLike[str] | None, sha256: str | None = None) -> dict[str, Any]:
    """What a run read for math benchmark ``name``: the file (local path or hub location) and its SHA-256.

    Local files are checked as ``check_file`` does; a hub file is downloaded (cached) at its pinned
    revision. Other task families give ``{}`` (their problems hash is in the run's identity).
    """
    if name not in MATH_BENCHMARKS or source is None:
        return {}
    if str(source) == "hub":
        hub = MATH_BENCHMARKS[name].hub
        if hub is None:
            return {}
        path = Path(_hub_download(hub))
        return {"file": f"hub:{hub.repo_id}@{hub.revision}/{hub.filename}", "sha256": file_sha256(path)}
    digest = check_file(name, source, sha256)
    return {
        "file": str(local_file(name, source).resolve()),
        "sha256": digest,
        "paper_file": digest == PAPER_SHA256.get(name),
    }


# Loaders of other task families, as "module:function" resolved on first use. The function
# takes the ``source`` argument of ``load_benchmark`` and returns a problems table.
EXTRA_LOADERS: dict[str, str] = {
    "toyworld": "analysis.toyworld.tasks:load_problems",
    # the paper's code benchmarks (source: a folder in the benchmarks/code layout; analysis.code.loaders)
    "humanevalplus": "analysis.code.loaders:load_humanevalplus",
    "mbppplus": "analysis.code.loaders:load_mbppplus",
    "livecodebench_v5": "analysis.code.loaders:load_livecodebench_v5",
    # the paper's visual benchmarks, multiple choice removed (source: 'hub' or a folder; analysis.visual)
    "mathvista_testmini": "analysis.visual:load_mathvista_testmini",
    "mathvision_testmini": "analysis.visual:load_mathvision_testmini",
    # Omni-MATH-Rule, all rows and train/test (source: a clone of KbsdJames/omni-math-rule; the split
    # is the user's split file or this project's, NOT the paper's, which is unpublished: analysis.omni_math)
    "omni_math_rule": "analysis.omni_math:load_omni_math_rule",
    "omni_math_rule_train": "analysis.omni_math:load_omni_math_rule_train",
    "omni_math_rule_test": "analysis.omni_math:load_omni_math_rule_test",
}


def register_loader(name: str, target: str) -> None:
    """Register ``target`` ("module:function") as the loader of benchmark ``name``."""
    if name in MATH_BENCHMARKS:
        msg = f"{name!r} is one of the paper's math benchmarks and cannot be replaced"
        raise BenchmarkError(msg)
    EXTRA_LOADERS[name] = target


def known_benchmarks() -> list[str]:
    """Names that ``load_benchmark`` accepts."""
    return sorted([*MATH_BENCHMARKS, *EXTRA_LOADERS])


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                msg = f"{path}:{line_no}: not valid JSON ({e.msg})"
                raise BenchmarkError(msg) from e
    return rows


def math_rows_to_problems(spec: MathBenchmark, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Turn the raw rows of one of the paper's benchmark files into a problems table."""
    records = []
    for i, row in enumerate(rows):
        if spec.question_field not in row:
            msg = f"{spec.name} row {i} has no {spec.question_field!r} field (fields: {sorted(row)})"
            raise BenchmarkError(msg)
        meta = {k: v for k, v in row.items() if k != spec.question_field}
        records.append(
            {
                "benchmark": spec.name,
                "problem_id": spec.problem_id(row, i),
                "index": i,
                "question": str(row[spec.question_field]),
                "gold": spec.gold(row),
                "stratum": spec.stratum(row),
                "metadata": json.dumps(meta, ensure_ascii=False, sort_keys=True),
            }
        )
    return pl.DataFrame(records, schema=schemas.PROBLEMS)


def load_benchmark(
    name: str, source: str | os.PathLike[str] | None = None, limit: int | None = None, sha256: str | None = None
) -> pl.DataFrame:
    """Load benchmark ``name`` as a problems table.

    ``source`` is a folder holding ``<name>/test.jsonl`` (the layout of the paper's data), the
    string ``"hub"`` to download the pinned hub copy, or, for registered task families, whatever
    their loader takes. ``limit`` keeps the first ``limit`` problems. A local file is checked
    against ``sha256`` and against its folder's ``SHA256SUMS`` where either exists (``check_file``).
    """
    if name in EXTRA_LOADERS:
        module, _, func = EXTRA_LOADERS[name].partition(":")
        problems = getattr(importlib.import_module(module), func)(source)
    elif name in MATH_BENCHMARKS:
        spec = MATH_BENCHMARKS[name]
        if source is None:
            msg = f"benchmark {name!r} needs a source: a folder holding {name}/test.jsonl, or 'hub'"
            raise BenchmarkError(msg)
        if str(source) == "hub":
            rows = _hub_rows(spec)
        else:
            check_file(name, source, sha256)
            rows = _read_jsonl(local_file(name, source))
        problems = math_rows_to_problems(spec, rows)
    else:
        msg = f"unknown benchmark {name!r}; known: {', '.join(known_benchmarks())}"
        raise BenchmarkError(msg)
    schemas.check(problems, "problems")
    if problems["problem_id"].is_duplicated().any():
        msg = f"benchmark {name!r} has duplicate problem ids"
        raise BenchmarkError(msg)
    return problems.head(limit) if limit is not None else problems


def _hub_rows(spec: MathBenchmark) -> list[dict[str, Any]]:
    if spec.hub is None:
        msg = f"no hub source is known for {spec.name!r}: pass a local folder"
        raise BenchmarkError(msg)
    hub = spec.hub
    path = Path(_hub_download(hub))
    if hub.sha256 is not None:
        actual = file_sha256(path)
        if actual != hub.sha256:
            msg = (
                f"{spec.name}: {hub.repo_id}@{hub.revision}/{hub.filename} has SHA-256 {actual}, expected {hub.sha256}"
            )
            raise BenchmarkError(msg)
    rows = _read_jsonl(path) if path.suffix == ".jsonl" else pl.read_parquet(path).to_dicts()
    if hub.rows is not None and len(rows) != hub.rows:
        msg = f"{spec.name}: {hub.repo_id}@{hub.revision}/{hub.filename} has {len(rows)} rows, expected {hub.rows}"
        raise BenchmarkError(msg)
    mapping = dict(hub.field_map)
    return [{mapping.get(k, k): v for k, v in row.items()} for row in rows]


def _hub_download(hub: HubSource) -> str:
    from huggingface_hub import hf_hub_download

    return hf_hub_download(hub.repo_id, hub.filename, repo_type="dataset", revision=hub.revision)
