"""Code benchmark loaders: local folders (SHA256SUMS checked), pinned downloads and the
LiveCodeBench hub path (tested with tiny local files: no hub is reachable here)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from analysis import schemas
from analysis.benchmarks import load_benchmark
from analysis.code import loaders
from analysis.code.loaders import CodeBenchmarkError, lcb_tests_md5, load_problems, load_tasks

CODE_DIR = Path(os.environ.get("RLVR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks" / "code"

HE_ROW = {
    "task_id": "HumanEval/0",
    "prompt": 'def add(a, b):\n    """Add."""\n',
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "base_input": [[1, 2]],
    "plus_input": [[3, 4], [5, 6]],
    "atol": 0,
    "contract": "",
    "test": "",
}
MBPP_ROW = {
    "task_id": "Mbpp/2",
    "prompt": '"""Shared elements."""\n',
    "entry_point": "similar_elements",
    "canonical_solution": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
    "base_input": [[[3, 4, 5], [5, 7, 4]]],
    "plus_input": {},
    "atol": 0,
    "contract": "",
    "assertion": "",
}


def _lcb_row(qid: str, date: str, *, functional: bool, private: list | None) -> dict:
    if functional:
        public = [{"input": "[1, 2]\n3", "output": "[0, 1]", "testtype": "functional"}]
        meta, starter = (
            json.dumps({"func_name": "twoSum"}),
            "class Solution:\n    def twoSum(self, nums, target):\n        ",
        )
    else:
        public = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
        meta, starter = "{}", ""
    row = {
        "question_title": qid,
        "question_content": f"Problem {qid}",
        "platform": "leetcode" if functional else "atcoder",
        "question_id": qid,
        "contest_id": "c1",
        "contest_date": date,
        "starter_code": starter,
        "difficulty": "easy",
        "public_test_cases": json.dumps(public),
        "metadata": meta,
    }
    if private is not None:
        blob = json.dumps(private)
        row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(blob))).decode()
    return row


def _write(folder: Path, files: dict[str, bytes]) -> None:
    lines = []
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {rel}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_local_evalplus_folder(tmp_path: Path) -> None:
    _write(tmp_path, {"humanevalplus/test.jsonl": _jsonl([HE_ROW]), "mbppplus/test.jsonl": _jsonl([MBPP_ROW])})
    he = load_benchmark("humanevalplus", tmp_path)
    schemas.check(he, "problems")
    assert he["problem_id"].to_list() == ["HumanEval/0"]
    assert json.loads(he["metadata"][0])["n_plus_tests"] == 2
    task = load_tasks("humanevalplus", tmp_path)["HumanEval/0"]
    assert task.canonical == HE_ROW["prompt"] + HE_ROW["canonical_solution"]
    assert task.n_base == 1
    mbpp = load_tasks("mbppplus", tmp_path)["Mbpp/2"]
    assert mbpp.inputs == [[(3, 4, 5), (5, 7, 4)]]  # lists -> tuples; plus {} -> none


def test_altered_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"humanevalplus/test.jsonl": _jsonl([HE_ROW])})
    (tmp_path / "humanevalplus/test.jsonl").write_bytes(_jsonl([{**HE_ROW, "entry_point": "sub"}]))
    with pytest.raises(CodeBenchmarkError, match="SHA-256"):
        load_problems("humanevalplus", tmp_path)
    (tmp_path / "SHA256SUMS").unlink()
    with pytest.raises(CodeBenchmarkError, match="SHA256SUMS"):
        load_problems("humanevalplus", tmp_path)
    assert load_problems("humanevalplus", tmp_path, verify=False).height == 1


def test_pinned_download(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = gzip.compress(_jsonl([HE_ROW]))
    spec = loaders.Download("https://example.invalid/HumanEvalPlus.jsonl.gz", hashlib.sha256(payload).hexdigest(), True)
    monkeypatch.setitem(loaders.DOWNLOADS, "humanevalplus", spec)
    rows = loaders.download_rows("humanevalplus", fetch=lambda url: payload)
    assert rows[0]["task_id"] == "HumanEval/0"
    with pytest.raises(CodeBenchmarkError, match="SHA-256"):
        loaders.download_rows("humanevalplus", fetch=lambda url: gzip.compress(b"{}\n"))
    # the real pins are the release assets' hashes from the benchmark README
    assert loaders.DOWNLOADS["mbppplus"].sha256 is not None


def test_livecodebench_public_only_is_an_upper_bound(tmp_path: Path) -> None:
    rows = [
        _lcb_row("abc1_a", "2024-08-03T00:00:00", functional=False, private=None),
        _lcb_row("3001", "2024-12-01T00:00:00", functional=True, private=None),
        _lcb_row("old", "2024-07-01T00:00:00", functional=False, private=None),  # outside the window
    ]
    _write(tmp_path, {"livecodebench_v5/test_public_only.jsonl": _jsonl(rows)})
    problems = load_benchmark("livecodebench_v5", tmp_path)
    assert problems["problem_id"].to_list() == ["abc1_a", "3001"]
    meta = [json.loads(m) for m in problems["metadata"]]
    assert all(m["upper_bound"] for m in meta)
    assert "UPPER BOUND" in meta[0]["tests"]
    assert "Read the inputs from stdin" in problems["question"][0]
    assert "class Solution" in problems["question"][1]
    tasks = load_tasks("livecodebench_v5", tmp_path)
    assert tasks["3001"].kind == "method"
    assert tasks["3001"].inputs == [[[1, 2], 3]]
    assert tasks["abc1_a"].kind == "stdin"
    assert tasks["abc1_a"].upper_bound


def test_livecodebench_full_tests_from_the_hub_are_md5_checked(tmp_path: Path) -> None:
    private = [{"input": "2 2\n", "output": "4\n", "testtype": "stdin"}]
    row = _lcb_row("abc2_b", "2024-09-01T00:00:00", functional=False, private=private)
    public = json.loads(row["public_test_cases"])
    good = {"question_id": "abc2_b", "tests": {"fname": "1.json", "md5": lcb_tests_md5(public, private, None)}}
    files = {name: tmp_path / name for name in (*loaders.LCB_HUB_FILES, loaders.LCB_INDEX)}
    for _name, path in files.items():
        path.write_bytes(b"")
    files["test5.jsonl"].write_bytes(_jsonl([row]))
    files[loaders.LCB_INDEX].write_bytes(_jsonl([good]))
    tasks = load_tasks("livecodebench_v5", "hub@0123abc", fetch_hub=lambda name: files[name])
    task = tasks["abc2_b"]
    assert not task.upper_bound
    assert task.inputs == ["1 2\n", "2 2\n"]
    assert task.expected == ["3\n", "4\n"]
    bad = {**good, "tests": {"fname": "1.json", "md5": "0" * 32}}
    files[loaders.LCB_INDEX].write_bytes(_jsonl([bad]))
    with pytest.raises(CodeBenchmarkError, match="md5"):
        load_tasks("livecodebench_v5", "hub@0123abc", fetch_hub=lambda name: files[name])


@pytest.mark.shared
def test_the_shared_code_benchmarks() -> None:
    if not (CODE_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the code benchmark files are not at {CODE_DIR}")
    assert load_benchmark("humanevalplus", CODE_DIR).height == 164
    assert load_benchmark("mbppplus", CODE_DIR).height == 378
    lcb = load_benchmark("livecodebench_v5", CODE_DIR)
    assert lcb.height == 279
    assert lcb["stratum"].value_counts().sort("stratum")["count"].to_list() == [67, 123, 89]  # easy, hard, medium
    tasks = load_tasks("livecodebench_v5", CODE_DIR)
    assert sum(len(t.inputs) for t in tasks.values()) == 736
    assert sum(t.kind == "method" for t in tasks.values()) == 104
