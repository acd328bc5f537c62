"""Omni-MATH-Rule (analysis.omni_math): pins, problems tables, and the train/test split, which is this
project's or the user's, never the paper's (unpublished)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from analysis import omni_math, schemas
from analysis.benchmarks import BenchmarkError, load_benchmark
from analysis.omni_math import project_split, read_rows, read_split_file
from analysis.store import file_sha256

MIRROR = Path("/work/.mirror/KbsdJames+omni-math-rule/repo")

ROWS = [
    {
        "domain": ["Mathematics -> Algebra -> Other"],
        "difficulty": 1.5,
        "problem": f"Compute ${k} + {k}$.",
        "solution": f"It is ${2 * k}$.",
        "answer": f" {2 * k} ",
        "source": "test_olympiad",
    }
    for k in range(6)
] + [
    {
        "domain": ["Mathematics -> Geometry"],
        "difficulty": 6.25,
        "problem": "Find the area of a unit square.",
        "solution": "$1$",
        "answer": "1",
        "source": "other",
    },
    {  # the same text as the row before: both must land on the same side of the project split
        "domain": ["Mathematics -> Geometry"],
        "difficulty": 6.0,
        "problem": "Find the area of a unit square.",
        "solution": "$1$",
        "answer": "1",
        "source": "other",
    },
]


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a small file in the real schema, pinned in place of the real file."""
    folder = tmp_path / "omni-math-rule"
    folder.mkdir()
    path = folder / omni_math.FILENAME
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    monkeypatch.setattr(omni_math, "SHA256", file_sha256(path))
    monkeypatch.setattr(omni_math, "ROWS", len(ROWS))
    monkeypatch.setattr(omni_math, "TEST_ROWS", 3)
    return folder


def test_all_rows_load_with_row_ids_difficulty_strata_and_answers(clone: Path) -> None:
    problems = load_benchmark("omni_math_rule", clone)
    schemas.check(problems, "problems")
    assert problems["problem_id"].to_list() == [f"omni_math_rule/{i}" for i in range(len(ROWS))]
    assert problems["index"].to_list() == list(range(len(ROWS)))
    assert (problems["benchmark"] == "omni_math_rule").all()
    assert problems["question"][1] == "Compute $1 + 1$."
    assert problems["gold"][3].to_list() == ["6"]
    assert problems["stratum"].to_list()[5:] == ["difficulty 1.5", "difficulty 6.25", "difficulty 6"]
    meta = json.loads(problems["metadata"][6])
    assert meta == {k: v for k, v in ROWS[6].items() if k != "problem"}
    # the file itself is a source too
    assert load_benchmark("omni_math_rule", clone / omni_math.FILENAME).equals(problems)


def test_project_split_is_disjoint_complete_deterministic_and_follows_the_texts(clone: Path) -> None:
    train = load_benchmark("omni_math_rule_train", clone)
    test = load_benchmark("omni_math_rule_test", clone)
    assert (train["benchmark"] == "omni_math_rule_train").all()
    assert (test["benchmark"] == "omni_math_rule_test").all()
    assert test.height == 3
    assert train.height == len(ROWS) - 3
    train_ids, test_ids = set(train["problem_id"]), set(test["problem_id"])
    assert not train_ids & test_ids
    assert train_ids | test_ids == {f"omni_math_rule/{i}" for i in range(len(ROWS))}
    # ids and indices are the rows of the file, as in the all-rows benchmark
    for table in (train, test):
        assert all(pid == f"omni_math_rule/{i}" for pid, i in zip(table["problem_id"], table["index"], strict=True))
    assert json.loads(test["metadata"][0])["split"] == "test"
    assert "NOT the paper's split" in json.loads(test["metadata"][0])["split_from"]
    assert load_benchmark("omni_math_rule_test", clone).equals(test)  # same split on a second load
    # repeated texts stay together, and the test set is the 3 smallest SHA-256s of the texts
    assert ({6, 7} <= set(test["index"])) or ({6, 7} <= set(train["index"]))
    questions = [r["problem"] for r in ROWS]
    assert test["index"].to_list() == list(project_split(questions, 3).test)


def test_project_split_depends_on_the_texts_not_the_file_order() -> None:
    texts = [f"problem {i}" for i in range(40)]
    split = project_split(texts, 10)
    assert len(split.test) == 10
    assert len(split.train) == 30
    assert not set(split.test) & set(split.train)
    assert split.test != tuple(range(10))  # not the first rows of the file
    shuffled = texts[::-1]
    moved = project_split(shuffled, 10)
    assert {shuffled[i] for i in moved.test} == {texts[i] for i in split.test}
    assert "NOT the paper's split" in split.origin
    with pytest.raises(BenchmarkError, match="test_size 41"):
        project_split(texts, 41)


def test_the_users_split_file_replaces_the_project_split(clone: Path) -> None:
    (clone / omni_math.SPLIT_FILENAME).write_text(json.dumps({"train": [7, 0, 2], "test": [5, 1]}))
    train = load_benchmark("omni_math_rule_train", clone)
    test = load_benchmark("omni_math_rule_test", clone)
    assert train["problem_id"].to_list() == ["omni_math_rule/0", "omni_math_rule/2", "omni_math_rule/7"]
    assert test["index"].to_list() == [1, 5]
    assert "user's split file" in json.loads(test["metadata"][0])["split_from"]
    # also when the source names the file rather than the folder
    assert load_benchmark("omni_math_rule_test", clone / omni_math.FILENAME).equals(test)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"train": [0, 1], "test": [1, 2]}', r"1 row indices are in both train and test: \[1\]"),
        ('{"train": [0], "test": [8]}', r"'test' has row indices outside 0\.\.7: \[8\]"),
        ('{"train": [-1], "test": [2]}', r"'train' has row indices outside 0\.\.7: \[-1\]"),
        ('{"train": [0, 0], "test": [2]}', r"'train' repeats row indices \[0\]"),
        ('{"train": [0, "1"], "test": [2]}', "'train' must be a list of integer row indices"),
        ('{"train": [true], "test": [2]}', "'train' must be a list of integer row indices"),
        ('{"train": [0], "tset": [2]}', r"exactly the keys \"train\" and \"test\".*\['train', 'tset'\]"),
        ("[[0], [1]]", r"exactly the keys.*got list"),
        ('{"train": [0], ', "not valid JSON"),
    ],
)
def test_bad_split_files_are_refused_with_the_reason(clone: Path, content: str, error: str) -> None:
    path = clone / omni_math.SPLIT_FILENAME
    path.write_text(content)
    with pytest.raises(BenchmarkError, match=error):
        read_split_file(path, len(ROWS))
    with pytest.raises(BenchmarkError, match=r"omni_math_rule_split\.json"):
        load_benchmark("omni_math_rule_train", clone)


def test_a_different_file_names_both_hashes_and_how_to_get_the_pinned_one(clone: Path) -> None:
    path = clone / omni_math.FILENAME
    pinned = omni_math.SHA256
    path.write_text(path.read_text() + json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    with pytest.raises(BenchmarkError) as e:
        load_benchmark("omni_math_rule_test", clone)
    message = str(e.value)
    assert str(path) in message
    assert file_sha256(path) in message
    assert pinned in message
    assert f"git clone {omni_math.REPOSITORY}" in message
    assert f"checkout {omni_math.REVISION}" in message


def test_row_count_and_fields_are_checked(clone: Path) -> None:
    path = clone / omni_math.FILENAME
    with pytest.raises(BenchmarkError, match=r"has 8 rows, the pinned file 9"):
        read_rows(clone, sha256=file_sha256(path), rows=9)
    path.write_text(json.dumps({"problem": "p"}) + "\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"row 0 lacks \['answer'\]"):
        read_rows(clone, sha256=file_sha256(path), rows=1)


def test_a_missing_file_or_source_says_how_to_get_it(tmp_path: Path) -> None:
    for name in ("omni_math_rule", "omni_math_rule_train", "omni_math_rule_test"):
        with pytest.raises(
            BenchmarkError, match=r"not found: .*omni_math_rule\.jsonl; .*git clone .*checkout [0-9a-f]{40}"
        ):
            load_benchmark(name, tmp_path / "omni-math-rule")
        with pytest.raises(BenchmarkError, match=r"needs a source.*git clone"):
            load_benchmark(name)


def test_the_pinned_file_from_the_mirror(tmp_path: Path) -> None:
    if not MIRROR.is_dir():
        pytest.skip(f"no snapshot of KbsdJames/omni-math-rule at {MIRROR} (local-only)")
    blob = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"{omni_math.REVISION}:{omni_math.FILENAME}"],
        capture_output=True,
        check=True,
    ).stdout
    (tmp_path / omni_math.FILENAME).write_bytes(blob)
    everything = load_benchmark("omni_math_rule", tmp_path)
    train = load_benchmark("omni_math_rule_train", tmp_path)
    test = load_benchmark("omni_math_rule_test", tmp_path)
    assert everything.height == omni_math.ROWS == 2821
    assert (train.height, test.height) == (2000, 821)
    assert not set(train["problem_id"]) & set(test["problem_id"])
    assert sorted([*train["index"], *test["index"]]) == list(range(2821))
    assert everything["gold"].list.len().min() == 1
    assert everything["stratum"].null_count() == 0
