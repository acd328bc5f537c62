"""Omni-MATH-Rule, the paper's RL training and in-domain test set (section 4), as problems tables.

The data is one file of a GitHub repository, not a Hugging Face dataset: ``omni_math_rule.jsonl``
of ``KbsdJames/omni-math-rule`` (the rule-checkable subset of Omni-MATH), pinned below by commit,
SHA-256 and row count. ``source`` is a folder holding that file (a clone of the repository, e.g.
``../omni-math-rule`` next to this one) or the file itself. Get it with::

    git clone https://github.com/KbsdJames/omni-math-rule ../omni-math-rule
    git -C ../omni-math-rule checkout 4793415ef37d31c9cdb4e5b82dbe172f76f8cf08

Three benchmarks are registered in ``analysis.benchmarks``: ``omni_math_rule`` (all 2,821 rows),
``omni_math_rule_train`` and ``omni_math_rule_test``. The paper trained on 2,000 problems and tested
on 821, but never published WHICH problems went where. So the train/test split used here is NOT
the paper's split: it is the user's own split when the folder holds ``omni_math_rule_split.json``
(``{"train": [row indices], "test": [row indices]}``), and otherwise this project's deterministic
split (``project_split``: row indices ordered by the SHA-256 of the problem text, the first 821 are
the test set). Each problem's metadata records which split it came from.

A problem's id is ``omni_math_rule/<row index in the pinned file>`` and its ``index`` that row
index, whichever benchmark (all, train or test) it is loaded through, so results of the same
problem can be joined across them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.benchmarks import BenchmarkError, _read_jsonl
from analysis.store import file_sha256

log = logging.getLogger(__name__)

NAME = "omni_math_rule"
REPOSITORY = "https://github.com/KbsdJames/omni-math-rule"
REVISION = "4793415ef37d31c9cdb4e5b82dbe172f76f8cf08"
FILENAME = "omni_math_rule.jsonl"
SHA256 = "d566d5b5a9865a04b507fdc4c0669cf0ff391748e13f190ecc925e78b584b172"
ROWS = 2821
TRAIN_ROWS = 2000  # the paper's split sizes (section 4); its membership is unpublished
TEST_ROWS = 821
SPLIT_FILENAME = "omni_math_rule_split.json"
PROJECT_SPLIT = "this project's split (SHA-256 of the problem text; NOT the paper's split, which is unpublished)"


@dataclass(frozen=True)
class Split:
    """Row indices (ascending) of the train and test problems, and where the split came from."""

    train: tuple[int, ...]
    test: tuple[int, ...]
    origin: str


def how_to_get(folder: str = "../omni-math-rule") -> str:
    """The commands that put the pinned file in ``folder``."""
    return f"git clone {REPOSITORY} {folder} && git -C {folder} checkout {REVISION}"


def data_file(source: str | os.PathLike[str]) -> Path:
    """The data file ``source`` names: ``source`` itself, or ``<source>/omni_math_rule.jsonl`` for a folder."""
    path = Path(source).expanduser()
    return path / FILENAME if path.is_dir() or path.suffix != ".jsonl" else path


def read_rows(
    source: str | os.PathLike[str] | None, *, sha256: str | None = None, rows: int | None = None
) -> list[dict[str, Any]]:
    """The rows of the pinned file, after checking its SHA-256 and row count.

    ``sha256``/``rows`` default to the pins (``SHA256``, ``ROWS``). A missing or different file
    raises ``BenchmarkError`` with the commands that fetch the pinned one.
    """
    if source is None:
        msg = (
            f"benchmark {NAME!r} needs a source: a folder holding {FILENAME}, or the file; get it with: {how_to_get()}"
        )
        raise BenchmarkError(msg)
    path = data_file(source)
    if not path.is_file():
        msg = f"Omni-MATH-Rule file not found: {path}; get the pinned file with: {how_to_get()}"
        raise BenchmarkError(msg)
    expected = SHA256 if sha256 is None else sha256
    actual = file_sha256(path)
    if actual != expected:
        msg = (
            f"Omni-MATH-Rule: {path} has SHA-256 {actual}, but the pinned file ({REPOSITORY} at {REVISION}, "
            f"{FILENAME}) has {expected}; get the pinned file with: {how_to_get()}"
        )
        raise BenchmarkError(msg)
    data = _read_jsonl(path)
    count = ROWS if rows is None else rows
    if len(data) != count:
        msg = f"Omni-MATH-Rule: {path} has {len(data)} rows, the pinned file {count}; get it with: {how_to_get()}"
        raise BenchmarkError(msg)
    for i, row in enumerate(data):
        missing = [f for f in ("problem", "answer") if f not in row]
        if missing:
            msg = f"Omni-MATH-Rule: {path} row {i} lacks {missing} (fields: {sorted(row)})"
            raise BenchmarkError(msg)
    return data


def project_split(problems: Sequence[str], test_size: int | None = None) -> Split:
    """This project's deterministic train/test split: NOT the paper's (which was never published).

    Row indices are ordered by the SHA-256 of their problem text (ties, i.e. repeated texts, by
    row index); the first ``test_size`` (default ``TEST_ROWS``, the paper's 821) are the test set,
    the rest the training set. It depends only on the texts, so every copy of the pinned file
    splits the same way, and rows are not chosen by position in the file.
    """
    size = TEST_ROWS if test_size is None else test_size
    if not 0 <= size <= len(problems):
        msg = f"test_size {size} is outside 0..{len(problems)} (the number of problems)"
        raise BenchmarkError(msg)
    order = sorted(range(len(problems)), key=lambda i: (hashlib.sha256(problems[i].encode("utf-8")).hexdigest(), i))
    return Split(tuple(sorted(order[size:])), tuple(sorted(order[:size])), PROJECT_SPLIT)


def read_split_file(path: str | os.PathLike[str], n_rows: int) -> Split:
    """A user's split file, ``{"train": [row indices], "test": [row indices]}``, validated.

    Indices are 0-based rows of the pinned file, each below ``n_rows``, none repeated and none in
    both lists. The lists need not cover every row (a user may leave problems out of both).
    """
    path = Path(path)
    where = f"Omni-MATH-Rule split file {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        msg = f"{where}: not valid JSON ({e.msg}, line {e.lineno})"
        raise BenchmarkError(msg) from e
    if not isinstance(data, dict) or set(data) != {"train", "test"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        msg = f'{where}: expected an object with exactly the keys "train" and "test" (lists of row indices), got {keys}'
        raise BenchmarkError(msg)
    parts: dict[str, tuple[int, ...]] = {}
    for part in ("train", "test"):
        values = data[part]
        if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            msg = f"{where}: {part!r} must be a list of integer row indices"
            raise BenchmarkError(msg)
        bad = sorted({v for v in values if not 0 <= v < n_rows})
        if bad:
            msg = f"{where}: {part!r} has row indices outside 0..{n_rows - 1}: {bad[:10]}"
            raise BenchmarkError(msg)
        repeated = sorted(v for v, c in Counter(values).items() if c > 1)
        if repeated:
            msg = f"{where}: {part!r} repeats row indices {repeated[:10]}"
            raise BenchmarkError(msg)
        parts[part] = tuple(sorted(values))
    both = sorted(set(parts["train"]) & set(parts["test"]))
    if both:
        msg = f"{where}: {len(both)} row indices are in both train and test: {both[:10]}"
        raise BenchmarkError(msg)
    return Split(parts["train"], parts["test"], f"the user's split file {path} (not the paper's split)")


def split_for(source: str | os.PathLike[str], problems: Sequence[str]) -> Split:
    """The split of ``source``: its folder's ``omni_math_rule_split.json`` if there is one, else ``project_split``."""
    user = data_file(source).parent / SPLIT_FILENAME
    if user.is_file():
        return read_split_file(user, len(problems))
    log.info(
        "Omni-MATH-Rule: no %s next to the data; using %s, so train/test results are not the paper's",
        SPLIT_FILENAME,
        PROJECT_SPLIT,
    )
    return project_split(problems)


def problems_table(
    name: str, rows: Sequence[dict[str, Any]], indices: Sequence[int], extra: dict[str, str] | None = None
) -> pl.DataFrame:
    """The problems table of ``rows[i]`` for ``i`` in ``indices`` (ids and ``index``: the row in the file)."""
    records = []
    for i in indices:
        row = rows[i]
        difficulty = row.get("difficulty")
        meta = {k: v for k, v in row.items() if k != "problem"} | (extra or {})
        records.append(
            {
                "benchmark": name,
                "problem_id": f"{NAME}/{i}",
                "index": i,
                "question": str(row["problem"]),
                "gold": [str(row["answer"]).strip()],
                "stratum": None if difficulty is None else f"difficulty {float(difficulty):g}",
                "metadata": json.dumps(meta, ensure_ascii=False, sort_keys=True),
            }
        )
    return pl.DataFrame(records, schema=schemas.PROBLEMS)


def load_omni_math_rule(source: str | os.PathLike[str] | None) -> pl.DataFrame:
    """All 2,821 problems of the pinned file (``analysis.benchmarks`` loader)."""
    rows = read_rows(source)
    return problems_table(NAME, rows, range(len(rows)))


def _load_part(part: str, source: str | os.PathLike[str] | None) -> pl.DataFrame:
    rows = read_rows(source)
    assert source is not None  # read_rows refuses None
    split = split_for(source, [str(r["problem"]) for r in rows])
    indices = split.train if part == "train" else split.test
    return problems_table(f"{NAME}_{part}", rows, indices, {"split": part, "split_from": split.origin})


def load_omni_math_rule_train(source: str | os.PathLike[str] | None) -> pl.DataFrame:
    """The training problems: the user's split file's, or this project's split (NOT the paper's; see the module)."""
    return _load_part("train", source)


def load_omni_math_rule_test(source: str | os.PathLike[str] | None) -> pl.DataFrame:
    """The test problems: the user's split file's, or this project's split (NOT the paper's; see the module)."""
    return _load_part("test", source)
