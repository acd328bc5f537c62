"""Grading a samples table: grades schema, the persistent cache, exact mode, summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

from analysis import schemas
from analysis.grading import GradeResult, grade_samples, grader_version, mode_disagreement, summarize_grades
from analysis.grading import samples as samples_module
from analysis.grading.cache import CACHE_FILE, GradeCache
from analysis.grading.pool import PoolStats

HUNG = r"So it is $\boxed{9^{9^{9^{9}}}}$."


def make_problems(golds: dict[str, list[str]], benchmark: str = "toy") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "benchmark": [benchmark] * len(golds),
            "problem_id": list(golds),
            "index": list(range(len(golds))),
            "question": ["q"] * len(golds),
            "gold": list(golds.values()),
            "stratum": [None] * len(golds),
            "metadata": ["{}"] * len(golds),
        },
        schema=schemas.PROBLEMS,
    )


def make_samples(rows: list[tuple[str, str | None, str]], benchmark: str = "toy", model: str = "m") -> pl.DataFrame:
    """rows: (problem_id, text, finish_reason)."""
    counter: dict[str, int] = {}
    index = []
    for pid, _, _ in rows:
        index.append(counter.get(pid, 0))
        counter[pid] = index[-1] + 1
    return pl.DataFrame(
        {
            "run_hash": ["run1"] * len(rows),
            "model": [model] * len(rows),
            "benchmark": [benchmark] * len(rows),
            "problem_id": [r[0] for r in rows],
            "sample_index": index,
            "seed": [0] * len(rows),
            "text": [r[1] for r in rows],
            "n_tokens": [10] * len(rows),
            "finish_reason": [r[2] for r in rows],
        },
        schema=schemas.SAMPLES,
    )


PROBLEMS = make_problems({"p1": ["5"], "p2": [r"\frac{1}{2}"], "p3": ["1,3,5"]})
SAMPLES = make_samples(
    [
        ("p1", r"so $\boxed{5}$", "stop"),
        ("p1", r"so $\boxed{6}$", "stop"),
        ("p1", "I keep going and going", "length"),
        ("p2", r"$\boxed{0.5}$", "stop"),
        ("p2", r"$\boxed{0.5}$", "stop"),  # a duplicate: graded once
        ("p3", r"$\boxed{5, 3, 1}$", "stop"),
        ("p3", None, "stop"),
    ]
)


class FakePool:
    """Stands in for GradingPool: grades in-process and records what it was asked."""

    calls: ClassVar[list[int]] = []
    fail_after: ClassVar[int | None] = None

    def __init__(self, workers: int, deadline_s: float, **_: object) -> None:
        self.stats = PoolStats()

    def __enter__(self) -> FakePool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def grade_iter(
        self, items: Sequence[tuple[str | None, Sequence[str], str | None]], mode: str
    ) -> Iterator[tuple[int, GradeResult]]:
        from analysis.grading import grade_response

        FakePool.calls.append(len(items))
        for i, (response, gold, benchmark) in enumerate(items):
            if FakePool.fail_after is not None and i >= FakePool.fail_after:
                raise RuntimeError("simulated failure in the middle of a run")
            yield i, grade_response(response, gold, mode, benchmark)


class NoGrading:
    def __init__(self, *_: object, **__: object) -> None:
        raise AssertionError("a cached run must not start a grading pool")


@pytest.fixture
def fake_pool(monkeypatch: pytest.MonkeyPatch) -> type[FakePool]:
    FakePool.calls = []
    FakePool.fail_after = None
    monkeypatch.setattr(samples_module, "GradingPool", FakePool)
    return FakePool


def test_grades_table_with_a_real_pool(tmp_path: Path) -> None:
    grades = grade_samples(SAMPLES, PROBLEMS, "strict", deadline_s=5.0, progress=False)
    schemas.check(grades, "grades")
    assert grades.columns[: len(schemas.GRADES)] == list(schemas.GRADES)
    assert grades["correct"].to_list() == [True, False, False, True, True, True, False]
    assert grades["status"].to_list() == ["ok", "ok", "no_answer", "ok", "ok", "ok", "no_answer"]
    assert grades["extracted"].to_list()[:2] == ["5", "6"]
    assert grades["finish_reason"].to_list() == SAMPLES["finish_reason"].to_list()
    assert set(grades["grader"]) == {"strict"}
    assert set(grades["grader_version"]) == {grader_version("strict")}
    assert grades.select("problem_id", "sample_index").rows() == SAMPLES.select("problem_id", "sample_index").rows()


def test_lazy_input_and_paper_mode(fake_pool: type[FakePool]) -> None:
    grades = grade_samples(SAMPLES.lazy(), PROBLEMS.lazy(), "paper", progress=False)
    # paper: the list 5, 3, 1 is out of order; the run cut at the token limit has no number
    assert grades["correct"].to_list() == [True, False, False, True, True, False, False]
    assert fake_pool.calls == [6]  # seven samples, one duplicate


def test_paper_mode_grades_each_sample_by_its_benchmarks_rules(tmp_path: Path) -> None:
    # Unit words are deleted everywhere but in Minerva (the official evaluator's skip_unit), so
    # the same response and gold get different verdicts, and different cache keys.
    text = r"The answer is $\boxed{12 cm}$."
    verdicts = {}
    for bench in ("math500", "minerva_math"):
        problems = make_problems({"p": ["12"]}, benchmark=bench)
        samples = make_samples([("p", text, "stop")], benchmark=bench)
        grades = grade_samples(samples, problems, "paper", deadline_s=5.0, cache_dir=tmp_path, progress=False)
        verdicts[bench] = (grades["correct"][0], grades["extracted"][0])
    assert verdicts == {"math500": (True, "12"), "minerva_math": (False, "12cm")}
    with GradeCache(tmp_path) as cache:
        assert len(cache) == 2


def test_exact_mode_for_the_toy_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact mode cannot hang, so it is graded in this process: no worker pool is started."""
    monkeypatch.setattr(samples_module, "GradingPool", NoGrading)
    problems = make_problems({"t1": ["579"], "t2": ["1110"]}, benchmark="toy_add")
    samples = make_samples(
        [
            ("t1", "Q:123+456= A:579", "stop"),
            ("t1", "A:578", "stop"),
            ("t2", "A:1110 A:1111", "stop"),
            ("t2", "", "stop"),
        ],
        benchmark="toy_add",
    )
    grades = grade_samples(samples, problems, "exact", cache_dir=tmp_path, progress=False)
    assert grades["correct"].to_list() == [True, False, False, False]
    assert grades["status"].to_list() == ["ok", "ok", "ok", "no_answer"]
    assert set(grades["grader"]) == {"exact"}
    with GradeCache(tmp_path) as cache:  # the verdicts are cached as the pool's are
        assert len(cache) == 4
    assert grade_samples(samples, problems, "exact", cache_dir=tmp_path, progress=False).equals(grades)


def test_the_second_run_grades_nothing(
    tmp_path: Path, fake_pool: type[FakePool], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = grade_samples(SAMPLES, PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    assert fake_pool.calls == [6]
    with GradeCache(tmp_path) as cache:
        assert len(cache) == 6
    monkeypatch.setattr(samples_module, "GradingPool", NoGrading)
    second = grade_samples(SAMPLES, PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    assert second.equals(first)
    # another mode is another key: it is graded
    monkeypatch.setattr(samples_module, "GradingPool", FakePool)
    grade_samples(SAMPLES, PROBLEMS, "paper", cache_dir=tmp_path, progress=False)
    assert fake_pool.calls == [6, 6]


def test_cache_key_covers_response_and_gold(tmp_path: Path, fake_pool: type[FakePool]) -> None:
    grade_samples(SAMPLES, PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    changed_gold = PROBLEMS.with_columns(
        pl.when(pl.col("problem_id") == "p1").then(pl.lit(["6"])).otherwise(pl.col("gold")).alias("gold")
    )
    grades = grade_samples(SAMPLES, changed_gold, "strict", cache_dir=tmp_path, progress=False)
    assert fake_pool.calls == [6, 3]  # only p1's three samples are new keys
    assert grades["correct"].to_list()[:2] == [False, True]


def test_an_interrupted_run_keeps_what_it_graded(tmp_path: Path, fake_pool: type[FakePool]) -> None:
    fake_pool.fail_after = 4
    with pytest.raises(RuntimeError, match="simulated failure"):
        grade_samples(SAMPLES, PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    with GradeCache(tmp_path) as cache:
        assert len(cache) == 4
    fake_pool.fail_after = None
    grade_samples(SAMPLES, PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    assert fake_pool.calls == [6, 2]  # the resumed run grades only the rest


def test_timeouts_are_cached_per_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems = make_problems({"p": ["5"]})
    samples = make_samples([("p", HUNG, "stop"), ("p", r"\boxed{5}", "stop")])
    grades = grade_samples(samples, problems, "strict", deadline_s=1.0, cache_dir=tmp_path, progress=False)
    assert grades["status"].to_list() == ["timeout", "ok"]
    with GradeCache(tmp_path) as cache:
        assert cache.path == tmp_path / CACHE_FILE
        assert len(cache) == 2
    monkeypatch.setattr(samples_module, "GradingPool", NoGrading)
    again = grade_samples(samples, problems, "strict", deadline_s=1.0, cache_dir=tmp_path, progress=False)
    assert again.equals(grades)
    FakePool.calls = []
    FakePool.fail_after = 0  # a longer deadline retries the timeout (and only it)
    monkeypatch.setattr(samples_module, "GradingPool", FakePool)
    with pytest.raises(RuntimeError, match="simulated failure"):
        grade_samples(samples, problems, "strict", deadline_s=2.0, cache_dir=tmp_path, progress=False)
    assert FakePool.calls == [1]


def test_an_empty_samples_table_gives_an_empty_grades_table(fake_pool: type[FakePool]) -> None:
    grades = grade_samples(SAMPLES.head(0), PROBLEMS, "strict", progress=False)
    schemas.check(grades, "grades")
    assert grades.height == 0
    assert fake_pool.calls == []


def test_missing_gold_and_bad_tables_are_named() -> None:
    stray = make_samples([("nope", r"\boxed{1}", "stop")])
    with pytest.raises(ValueError, match=r"no gold answer.*'nope'"):
        grade_samples(stray, PROBLEMS, "strict", progress=False)
    with pytest.raises(schemas.SchemaError, match="missing column 'text'"):
        grade_samples(SAMPLES.drop("text"), PROBLEMS, "strict", progress=False)
    with pytest.raises(ValueError, match="unknown grading mode"):
        grade_samples(SAMPLES, PROBLEMS, "loose", progress=False)
    with pytest.raises(ValueError, match="duplicate"):
        grade_samples(SAMPLES, pl.concat([PROBLEMS, PROBLEMS]), "strict", progress=False)


# --- summaries --------------------------------------------------------------------------------


def _grades(mode: str, correct: list[bool], status: list[str], samples: pl.DataFrame) -> pl.DataFrame:
    return samples.select(
        "run_hash",
        "model",
        "benchmark",
        "problem_id",
        "sample_index",
        pl.lit(mode).alias("grader"),
        pl.lit("v").alias("grader_version"),
        pl.Series("correct", correct),
        pl.Series("extracted", [None] * len(correct), dtype=pl.String),
        pl.Series("status", status),
    )


def test_summary_counts_statuses_and_truncation() -> None:
    grades = _grades(
        "strict",
        [True, False, True, True, True, False, False],
        ["ok", "ok", "ok", "ok", "ok", "timeout", "no_answer"],
        SAMPLES,
    )
    summary = summarize_grades(grades, SAMPLES)
    row = summary.row(0, named=True)
    assert (row["model"], row["benchmark"], row["grader"]) == ("m", "toy", "strict")
    assert (row["n"], row["n_correct"]) == (7, 4)
    assert row["accuracy"] == pytest.approx(4 / 7)
    assert (row["n_ok"], row["n_no_answer"], row["n_timeout"], row["n_error"]) == (5, 1, 1, 0)
    assert (row["n_truncated"], row["n_truncated_correct"]) == (1, 1)  # the "length" sample was correct here
    assert row["accuracy_complete"] == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="pass the samples table"):
        summarize_grades(grades)
    with_reason = grades.with_columns(SAMPLES["finish_reason"])
    assert summarize_grades(with_reason).equals(summary)


def test_mode_disagreement_per_benchmark_with_examples() -> None:
    other = make_samples([("q1", r"\boxed{1}", "stop"), ("q1", "2", "stop")], benchmark="other")
    both_samples = pl.concat([SAMPLES, other])
    strict = _grades("strict", [True, False, False, True, True, True, False, True, False], ["ok"] * 9, both_samples)
    paper = _grades("paper", [True, False, False, True, True, False, False, True, True], ["ok"] * 9, both_samples)
    result = mode_disagreement(pl.concat([strict, paper]), both_samples, n_examples=5)
    by_benchmark = {r["benchmark"]: r for r in result.summary.iter_rows(named=True)}
    assert by_benchmark["toy"]["n"] == 7
    assert by_benchmark["toy"]["n_disagree"] == 1
    assert by_benchmark["toy"]["strict_only"] == 1
    assert by_benchmark["toy"]["paper_only"] == 0
    assert by_benchmark["toy"]["rate"] == pytest.approx(1 / 7)
    assert by_benchmark["other"]["paper_only"] == 1
    assert by_benchmark["other"]["accuracy_paper"] == 1.0
    examples = result.examples
    assert examples.height == 2
    assert set(examples.columns) >= {"correct_strict", "correct_paper", "extracted_strict", "text"}
    assert examples.filter(pl.col("benchmark") == "toy")["text"].to_list() == [r"$\boxed{5, 3, 1}$"]


def test_cache_file_is_sqlite_with_audit_columns(tmp_path: Path, fake_pool: type[FakePool]) -> None:
    import sqlite3

    grade_samples(SAMPLES.head(1), PROBLEMS, "strict", cache_dir=tmp_path, progress=False)
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        row = db.execute("SELECT gold, mode, grader_version, correct, status FROM verdicts").fetchone()
    assert row == (json.dumps(["5"]), "strict", grader_version("strict"), 1, "ok")
