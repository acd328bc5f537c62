"""The code benchmarks: problems tables and test sets, from a local folder or pinned downloads.

Local layout (``/work/shared/benchmarks/code``; the folder is a parameter)::

    <folder>/SHA256SUMS                                  every file below is checked against it
    <folder>/humanevalplus/test.jsonl                    HumanEval+ v0.1.10 (164 tasks)
    <folder>/mbppplus/test.jsonl                         MBPP+ v0.2.0 (378 tasks)
    <folder>/livecodebench_v5/test.jsonl                 full tests (public + private), if obtained
    <folder>/livecodebench_v5/test_public_only.jsonl     public tests only: an UPPER BOUND on pass@k
    <folder>/livecodebench_v5/qwq_livecodebench_v5.jsonl md5 of each problem's full test set

``source="download"`` fetches the pinned release files instead (EvalPlus's GitHub release
assets, SHA-256 pinned; LiveCodeBench from the hub at a revision the caller names, each
problem's tests checked against the md5 index). The build machine reaches neither, so that path
is tested with small local files in place of the downloads (``fetch`` is a parameter).

The problems table (``analysis.schemas.PROBLEMS``) carries what the prompt needs (for
LiveCodeBench, ``question`` is the benchmark's whole user prompt: statement, format instruction
and starter code; the statement alone is in ``metadata``); the tests live
in ``CodeTask`` objects (``load_tasks``), which the grader loads from the same source.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.code.evalplus_rules import mbpp_deserialize_inputs
from analysis.code.prompts import lcb_user_prompt
from analysis.store import file_sha256

CODE_BENCHMARKS = ("humanevalplus", "mbppplus", "livecodebench_v5")
LCB_FULL = "test.jsonl"
LCB_PUBLIC = "test_public_only.jsonl"
LCB_INDEX = "qwq_livecodebench_v5.jsonl"
LCB_WINDOW = ("2024-08-01", "2025-02-01")  # the paper's 279 problems (contest_date in [start, end))


class CodeBenchmarkError(ValueError):
    """A code benchmark file that is missing, altered, or not what it claims to be."""


@dataclass(frozen=True)
class Download:
    """A pinned download: where, and the SHA-256 of its bytes (``None``: not known, see below)."""

    url: str
    sha256: str | None
    gzipped: bool = False


# EvalPlus loads these release assets (evalplus==0.3.1: HUMANEVAL_PLUS_VERSION v0.1.10,
# MBPP_PLUS_VERSION v0.2.0); the SHA-256 of each .gz is pinned (see the benchmark README).
DOWNLOADS: dict[str, Download] = {
    "humanevalplus": Download(
        "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
        "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
        gzipped=True,
    ),
    "mbppplus": Download(
        "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
        "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
        gzipped=True,
    ),
}
# LiveCodeBench: the hub dataset livecodebench/code_generation_lite, files test.jsonl ..
# test5.jsonl (release_v5). No revision of it could be pinned from here (the hub is
# unreachable): the caller names one, and every problem's tests are checked against the md5
# index from QwQ's repository instead, which pins the content problem by problem.
LCB_HUB_REPO = "livecodebench/code_generation_lite"
LCB_HUB_FILES = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl")


@dataclass(frozen=True)
class CodeTask:
    """One problem's tests, in the form the grader runs them.

    ``kind``: ``call`` (EvalPlus: ``entry_point(*input)``), ``method`` (LiveCodeBench LeetCode:
    ``Solution().<entry_point>(*input)``) or ``stdin`` (LiveCodeBench AtCoder). For EvalPlus
    ``inputs`` are the base inputs then the plus inputs (``n_base`` of them are base) and
    ``expected`` is empty (it comes from running ``canonical``); for LiveCodeBench ``expected``
    holds the tests' outputs (parsed JSON for ``method``, text for ``stdin``).
    """

    benchmark: str
    task_id: str
    kind: str
    entry_point: str
    inputs: list[Any]
    n_base: int
    expected: list[Any] = field(default_factory=list)
    canonical: str = ""
    atol: float = 0.0
    dataset: str = ""  # "humaneval" | "mbpp" | "livecodebench"
    upper_bound: bool = False  # LiveCodeBench graded on public tests only


def _read_jsonl_bytes(data: bytes, origin: str) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                msg = f"{origin}:{n}: not valid JSON ({e.msg})"
                raise CodeBenchmarkError(msg) from e
    return rows


def read_checked(folder: Path, relative: str, *, verify: bool = True) -> bytes:
    """The bytes of ``folder/relative``, checked against ``folder/SHA256SUMS``."""
    path = folder / relative
    if not path.is_file():
        msg = f"benchmark file not found: {path}"
        raise CodeBenchmarkError(msg)
    if verify:
        sums = folder / "SHA256SUMS"
        if not sums.is_file():
            msg = f"{sums} is missing: cannot verify {relative} (pass verify=False to skip)"
            raise CodeBenchmarkError(msg)
        pinned = {}
        for line in sums.read_text(encoding="utf-8").splitlines():
            if line.strip():
                digest, name = line.split(maxsplit=1)
                pinned[name.strip().lstrip("*")] = digest
        if relative not in pinned:
            msg = f"{relative} is not listed in {sums}"
            raise CodeBenchmarkError(msg)
        actual = file_sha256(path)
        if actual != pinned[relative]:
            msg = f"{path} has SHA-256 {actual}, SHA256SUMS says {pinned[relative]}"
            raise CodeBenchmarkError(msg)
    return path.read_bytes()


def _urlopen_bytes(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def download_rows(name: str, fetch: Callable[[str], bytes] = _urlopen_bytes) -> list[dict[str, Any]]:
    """The rows of EvalPlus benchmark ``name`` from its pinned release asset."""
    spec = DOWNLOADS[name]
    data = fetch(spec.url)
    if spec.sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec.sha256:
            msg = f"{spec.url} has SHA-256 {actual}, expected {spec.sha256}"
            raise CodeBenchmarkError(msg)
    return _read_jsonl_bytes(gzip.decompress(data) if spec.gzipped else data, spec.url)


def _rows(name: str, source: str | Path, verify: bool) -> list[dict[str, Any]]:
    if str(source) == "download":
        return download_rows(name)
    return _read_jsonl_bytes(read_checked(Path(source), f"{name}/test.jsonl", verify=verify), f"{name}/test.jsonl")


# ---- EvalPlus -----------------------------------------------------------------------------
def evalplus_tasks(name: str, rows: list[dict[str, Any]]) -> dict[str, CodeTask]:
    dataset = {"humanevalplus": "humaneval", "mbppplus": "mbpp"}[name]
    tasks = {}
    for row in rows:
        base, plus = row["base_input"], row["plus_input"]
        plus = plus if isinstance(plus, list) else []  # Mbpp/793 stores {}: no plus inputs
        if dataset == "mbpp":
            base = mbpp_deserialize_inputs(row["task_id"], base)
            plus = mbpp_deserialize_inputs(row["task_id"], plus) if plus else []
        canonical = row["prompt"] + row["canonical_solution"] if dataset == "humaneval" else row["canonical_solution"]
        tasks[row["task_id"]] = CodeTask(
            benchmark=name,
            task_id=row["task_id"],
            kind="call",
            entry_point=row["entry_point"],
            inputs=[list(x) for x in base] + [list(x) for x in plus],
            n_base=len(base),
            canonical=canonical,
            atol=float(row.get("atol") or 0.0),
            dataset=dataset,
        )
    return tasks


def _evalplus_problems(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    tasks = evalplus_tasks(name, rows)
    records = []
    for i, row in enumerate(rows):
        t = tasks[row["task_id"]]
        meta = {
            "entry_point": row["entry_point"],
            "atol": t.atol,
            "n_base_tests": t.n_base,
            "n_plus_tests": len(t.inputs) - t.n_base,
            "tests": "base + plus (EvalPlus)",
            "upper_bound": False,
        }
        records.append(
            {
                "benchmark": name,
                "problem_id": row["task_id"],
                "index": i,
                "question": row["prompt"],
                "gold": [t.canonical],
                "stratum": None,
                "metadata": json.dumps(meta, sort_keys=True),
            }
        )
    return pl.DataFrame(records, schema=schemas.PROBLEMS)


# ---- LiveCodeBench ------------------------------------------------------------------------
def decode_private_tests(value: str) -> list[dict[str, Any]]:
    """LiveCodeBench's ``private_test_cases``: plain JSON, or base64(zlib(pickle(json string))).

    The pickle comes from the benchmark's own published file (trusted data, as in the official
    loader), never from a program under test.
    """
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return json.loads(pickle.loads(zlib.decompress(base64.b64decode(value.encode("utf-8")))))


def lcb_tests_md5(public: list[dict[str, Any]], private: list[dict[str, Any]], func_name: str | None) -> str:
    """The md5 the QwQ index holds for a problem's full test set."""
    tests = public + private
    blob = {"inputs": [t["input"] for t in tests], "outputs": [t["output"] for t in tests], "fn_name": func_name}
    return hashlib.md5(json.dumps(blob).encode("utf-8")).hexdigest()


def _func_name(row: dict[str, Any]) -> str | None:
    meta = row.get("metadata") or "{}"
    meta = json.loads(meta) if isinstance(meta, str) else meta
    return meta.get("func_name") or None


def lcb_tasks(rows: list[dict[str, Any]], index: dict[str, str] | None, *, full: bool) -> dict[str, CodeTask]:
    """Tasks from LiveCodeBench rows; with ``full`` every problem's tests must match ``index``."""
    tasks = {}
    for row in rows:
        public = json.loads(row["public_test_cases"])
        private = decode_private_tests(row["private_test_cases"]) if full else []
        fn = _func_name(row)
        if full:
            if index is None or row["question_id"] not in index:
                msg = f"LiveCodeBench problem {row['question_id']}: no md5 in the index to verify its full tests"
                raise CodeBenchmarkError(msg)
            actual = lcb_tests_md5(public, private, fn)
            if actual != index[row["question_id"]]:
                qid = row["question_id"]
                msg = f"LiveCodeBench problem {qid}: tests md5 {actual} != index {index[qid]}"
                raise CodeBenchmarkError(msg)
        tests = public + private
        kind = "method" if fn else "stdin"
        if kind == "method":
            inputs = [[json.loads(line) for line in t["input"].split("\n")] for t in tests]
            expected = [json.loads(t["output"]) for t in tests]
        else:
            inputs = [t["input"] for t in tests]
            expected = [t["output"] for t in tests]
        tasks[row["question_id"]] = CodeTask(
            benchmark="livecodebench_v5",
            task_id=row["question_id"],
            kind=kind,
            entry_point=fn or "",
            inputs=inputs,
            n_base=len(public),
            expected=expected,
            dataset="livecodebench",
            upper_bound=not full,
        )
    return tasks


def _lcb_rows(source: str | Path, verify: bool, fetch_hub: Callable[[str], Path] | None) -> tuple[list, dict, bool]:
    if str(source).startswith("hub@"):
        revision = str(source).removeprefix("hub@")
        if fetch_hub is None:
            from huggingface_hub import hf_hub_download

            def fetch_hub(filename: str) -> Path:
                return Path(hf_hub_download(LCB_HUB_REPO, filename, repo_type="dataset", revision=revision))

        rows = []
        for filename in LCB_HUB_FILES:
            rows.extend(_read_jsonl_bytes(fetch_hub(filename).read_bytes(), f"{LCB_HUB_REPO}/{filename}"))
        index_rows = _read_jsonl_bytes(fetch_hub(LCB_INDEX).read_bytes(), LCB_INDEX)
        full = True
    else:
        folder = Path(source)
        full = (folder / "livecodebench_v5" / LCB_FULL).is_file()
        name = LCB_FULL if full else LCB_PUBLIC
        rows = _read_jsonl_bytes(read_checked(folder, f"livecodebench_v5/{name}", verify=verify), name)
        index_path = folder / "livecodebench_v5" / LCB_INDEX
        index_rows = (
            _read_jsonl_bytes(read_checked(folder, f"livecodebench_v5/{LCB_INDEX}", verify=verify), LCB_INDEX)
            if index_path.is_file()
            else []
        )
    start, end = LCB_WINDOW
    rows = [r for r in rows if start <= str(r["contest_date"])[:10] < end]
    index = {r["question_id"]: r["tests"]["md5"] for r in index_rows}
    return rows, index, full


def _lcb_problems(rows: list[dict[str, Any]], tasks: dict[str, CodeTask]) -> pl.DataFrame:
    records = []
    for i, row in enumerate(rows):
        t = tasks[row["question_id"]]
        meta = {
            "statement": row["question_content"],
            "title": row.get("question_title"),
            "platform": row.get("platform"),
            "contest_id": row.get("contest_id"),
            "contest_date": row.get("contest_date"),
            "starter_code": row.get("starter_code") or "",
            "func_name": t.entry_point or None,
            "n_tests": len(t.inputs),
            "tests": "public only: pass@k is an UPPER BOUND" if t.upper_bound else "public + private (verified md5)",
            "upper_bound": t.upper_bound,
        }
        records.append(
            {
                "benchmark": "livecodebench_v5",
                "problem_id": row["question_id"],
                "index": i,
                "question": lcb_user_prompt(row["question_content"], row.get("starter_code") or ""),
                "gold": [],
                "stratum": row.get("difficulty"),
                "metadata": json.dumps(meta, sort_keys=True, ensure_ascii=False),
            }
        )
    return pl.DataFrame(records, schema=schemas.PROBLEMS)


# ---- entry points -------------------------------------------------------------------------
def load_tasks(name: str, source: str | Path, *, verify: bool = True, **kw: Any) -> dict[str, CodeTask]:
    """Problem id -> ``CodeTask`` for benchmark ``name`` from ``source`` (a folder, ``download``
    for EvalPlus, ``hub@<revision>`` for LiveCodeBench)."""
    if name == "livecodebench_v5":
        rows, index, full = _lcb_rows(source, verify, kw.get("fetch_hub"))
        return lcb_tasks(rows, index, full=full)
    if name in ("humanevalplus", "mbppplus"):
        return evalplus_tasks(name, _rows(name, source, verify))
    msg = f"unknown code benchmark {name!r}; known: {CODE_BENCHMARKS}"
    raise CodeBenchmarkError(msg)


def load_problems(name: str, source: str | Path | None, *, verify: bool = True, **kw: Any) -> pl.DataFrame:
    """The problems table of code benchmark ``name``."""
    if source is None:
        msg = f"benchmark {name!r} needs a source: a folder in the benchmarks/code layout, or 'download'/'hub@REV'"
        raise CodeBenchmarkError(msg)
    if name == "livecodebench_v5":
        rows, index, full = _lcb_rows(source, verify, kw.get("fetch_hub"))
        return _lcb_problems(rows, lcb_tasks(rows, index, full=full))
    if name in ("humanevalplus", "mbppplus"):
        return _evalplus_problems(name, _rows(name, source, verify))
    msg = f"unknown code benchmark {name!r}; known: {CODE_BENCHMARKS}"
    raise CodeBenchmarkError(msg)


def load_humanevalplus(source: str | Path | None) -> pl.DataFrame:
    return load_problems("humanevalplus", source)


def load_mbppplus(source: str | Path | None) -> pl.DataFrame:
    return load_problems("mbppplus", source)


def load_livecodebench_v5(source: str | Path | None) -> pl.DataFrame:
    return load_problems("livecodebench_v5", source)
