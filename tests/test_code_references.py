"""Every reference solution of HumanEval+ and MBPP+, graded on all its base and plus tests.

Each canonical solution is graded as a sample (in a fenced block, as a model answers) by the grade
stage's code path, ``grade_code_samples``: the expected outputs come from the canonical solution's
own run, one task at a time, then the samples run two at a time and every timeout is run once
more, one at a time (as a study grades). So a sample judged on its timing is always judged on a
run made alone: MBPP+'s "when run one at a time".

What the checks catch: a sandbox that changes what a program computes or how fast (limits,
namespaces, the warm interpreter), outputs that do not survive the trip to the parent (the value
encoding, the digests of huge outputs), and comparison rules that differ from EvalPlus's (float
tolerance, special oracles, MBPP+'s input conversion, HumanEval/32's root oracle, which evalplus
0.3.1 fails whatever the answer).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from analysis import schemas
from analysis.code.loaders import CodeTask, load_tasks
from analysis.code.samples import grade_code_samples

pytestmark = [pytest.mark.shared, pytest.mark.slow]

CODE_DIR = Path(os.environ.get("RLVR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks" / "code"


@pytest.fixture(scope="module")
def code_dir() -> Path:
    if not (CODE_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the code benchmark files are not at {CODE_DIR} (set RLVR_SHARED to their parent)")
    return CODE_DIR


def _grade_references(tasks: dict[str, CodeTask], benchmark: str) -> pl.DataFrame:
    samples = pl.DataFrame(
        {
            "run_hash": "references",
            "model": "canonical",
            "benchmark": benchmark,
            "problem_id": list(tasks),
            "sample_index": 0,
            "seed": 0,
            "text": [f"```python\n{t.canonical}\n```\nThe reference solution." for t in tasks.values()],
            "n_tokens": 0,
            "finish_reason": "stop",
        }
    )
    return grade_code_samples(schemas.conform(samples, "samples"), tasks, workers=2, progress=False)


def _failures(grades: pl.DataFrame) -> list[tuple[str, str, str]]:
    bad = grades.filter(~pl.col("correct"))
    return list(zip(bad["problem_id"], bad["outcome"], bad["detail"].str.slice(0, 200), strict=True))


def test_every_humaneval_plus_reference_solution_passes(code_dir: Path) -> None:
    tasks = load_tasks("humanevalplus", code_dir)
    assert len(tasks) == 164
    assert sum(len(t.inputs) - t.n_base for t in tasks.values()) == 122_683  # every plus input
    grades = _grade_references(tasks, "humanevalplus")
    assert grades.height == 164
    assert _failures(grades) == []
    assert grades["base_passed"].all()
    find_zero = grades.filter(pl.col("problem_id") == "HumanEval/32").row(0, named=True)
    assert (find_zero["outcome"], find_zero["correct"]) == ("passed", True)


def test_mbpp_plus_reference_solutions_pass(code_dir: Path) -> None:
    tasks = load_tasks("mbppplus", code_dir)
    assert len(tasks) == 378
    grades = _grade_references(tasks, "mbppplus")
    assert grades.height == 378
    failures = _failures(grades)
    assert len(failures) <= 378 // 100, failures  # at least 99% pass base and plus
    assert grades["base_passed"].sum() >= 375
