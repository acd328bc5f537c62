"""The plain formats: {problem_id, response} texts and {problem_id, n, c} counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import schemas
from analysis.importers import ImportFormatError, read_counts, read_jsonl_responses

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_committed_response_fixture():
    imp = read_jsonl_responses(FIXTURES / "jsonl", model="m", benchmark="math500", temperature=0.6)
    schemas.check(imp.samples, "samples")
    assert imp.provenance["n"] == 4
    assert imp.provenance["problems"] == 4
    assert imp.grades is None


def test_bare_indices_recorded_verdicts_and_model_selection(tmp_path):
    rows = [
        {"problem_id": 3, "response": "a", "correct": True, "model": "x"},
        {"problem_id": "3", "response": "b", "correct": False, "model": "x"},
        {"problem_id": "math500/3", "response": "c", "correct": True, "model": "y"},
    ]
    imp = read_jsonl_responses(
        write_jsonl(tmp_path / "r.jsonl", rows), model="m", benchmark="math500", temperature=0.6, source_model="x"
    )
    assert imp.samples["problem_id"].to_list() == ["math500/3", "math500/3"]
    assert imp.samples["sample_index"].to_list() == [0, 1]
    assert imp.grades["correct"].to_list() == [True, False]
    assert set(imp.grades["grader"]) == {"jsonl-recorded"}


def test_counts_fixture_and_tables(tmp_path):
    imp = read_counts(FIXTURES / "counts", model="m", benchmark="math500", temperature=0.6)
    schemas.check(imp.counts, "counts")
    assert imp.counts["c"].to_list() == [4, 3, 0, 2]
    assert imp.samples is None
    csv = tmp_path / "c.csv"
    csv.write_text("problem_id,model,n,c\nmath500/0,a,8,3\nmath500/0,b,8,8\n", encoding="utf-8")
    got = read_counts(csv, model="m", benchmark="math500", temperature=0.6, source_model="b")
    assert got.counts.select("n", "c").rows() == [(8, 8)]


def test_bad_plain_files_are_refused(tmp_path):
    counts_file = write_jsonl(tmp_path / "counts.jsonl", [{"problem_id": 0, "n": 4, "c": 1}])
    with pytest.raises(ImportFormatError, match="import the file with format 'counts'"):
        read_jsonl_responses(counts_file, model="m", benchmark="math500", temperature=0.6)
    with pytest.raises(ImportFormatError, match=r"need 0 <= c <= n"):
        read_counts(
            write_jsonl(tmp_path / "bad.jsonl", [{"problem_id": 0, "n": 4, "c": 5}]),
            model="m",
            benchmark="math500",
            temperature=0.6,
        )
    with pytest.raises(ImportFormatError, match=r"missing field\(s\) \['response'\]"):
        read_jsonl_responses(
            write_jsonl(tmp_path / "t.jsonl", [{"problem_id": 0, "text": "a"}]),
            model="m",
            benchmark="math500",
            temperature=0.6,
        )
    with pytest.raises(ImportFormatError, match="set source_model"):
        read_counts(
            write_jsonl(tmp_path / "two.jsonl", [{"problem_id": 0, "model": "a", "n": 4, "c": 1}]),
            model="m",
            benchmark="math500",
            temperature=0.6,
        )
    with pytest.raises(ImportFormatError, match="different numbers of samples"):
        read_jsonl_responses(
            write_jsonl(
                tmp_path / "u.jsonl",
                [
                    {"problem_id": 0, "response": "a"},
                    {"problem_id": 1, "response": "b"},
                    {"problem_id": 1, "response": "c"},
                ],
            ),
            model="m",
            benchmark="math500",
            temperature=0.6,
        )
