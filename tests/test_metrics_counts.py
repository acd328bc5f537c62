"""Counts from the grades table: lazy parquet reading, grouping, and the checks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import schemas
from analysis.metrics import counts_from_grades, pass_at_k_curve


def grades_frame(seed: int = 0, graders: tuple[str, ...] = ("strict",)) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for grader in graders:
        for model, p in (("base", 0.3), ("rl", 0.6)):
            for bench in ("math500", "aime24"):
                for problem in range(6):
                    for s in range(8):
                        rows.append(
                            {
                                "run_hash": f"run-{model}",
                                "model": model,
                                "benchmark": bench,
                                "problem_id": f"{bench}-{problem}",
                                "sample_index": s,
                                "grader": grader,
                                "grader_version": "1",
                                "correct": bool(rng.random() < p),
                                "extracted": str(int(rng.integers(0, 3))),
                                "status": "ok",
                            }
                        )
    return schemas.conform(pl.DataFrame(rows), "grades")


def expected_counts(grades: pl.DataFrame) -> dict[tuple[str, str, str], tuple[int, int]]:
    out: dict[tuple[str, str, str], list[int]] = {}
    for row in grades.iter_rows(named=True):
        key = (row["model"], row["benchmark"], row["problem_id"])
        out.setdefault(key, [0, 0])
        out[key][0] += 1
        out[key][1] += int(row["correct"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def as_dict(counts: pl.DataFrame) -> dict[tuple[str, str, str], tuple[int, int]]:
    return {(r["model"], r["benchmark"], r["problem_id"]): (r["n"], r["c"]) for r in counts.iter_rows(named=True)}


def test_counts_from_frame_and_parquet(tmp_path):
    grades = grades_frame()
    counts = counts_from_grades(grades)
    schemas.check(counts, "counts")
    assert counts.columns == ["model", "benchmark", "problem_id", "n", "c"]
    assert as_dict(counts) == expected_counts(grades)
    assert counts.height == 24
    # split over files: a glob, a folder, and a list all give the same table
    for i, part in enumerate(grades.partition_by("model")):
        part.write_parquet(tmp_path / f"part-{i}.parquet")
    files = sorted(tmp_path.glob("*.parquet"))
    assert counts_from_grades(str(tmp_path / "*.parquet")).equals(counts)
    assert counts_from_grades(tmp_path).equals(counts)
    assert counts_from_grades(files).equals(counts)
    assert counts_from_grades(grades.lazy()).equals(counts)
    pass_at_k_curve(counts)  # the result feeds the metrics directly


def test_grader_filter_and_extra_group_columns():
    grades = grades_frame(graders=("strict", "paper"))
    with pytest.raises(ValueError, match=r"grades mix several graders \(\['paper', 'strict'\]\)"):
        counts_from_grades(grades)
    strict = counts_from_grades(grades, grader="strict")
    assert as_dict(strict) == expected_counts(grades.filter(pl.col("grader") == "strict"))
    both = counts_from_grades(grades, by=("grader",))
    assert both.columns == ["model", "benchmark", "problem_id", "n", "c", "grader"]
    assert both.height == 48
    with pytest.raises(ValueError, match="grades table has no rows for grader 'nope'"):
        counts_from_grades(grades, grader="nope")


def test_duplicate_samples_are_refused():
    grades = grades_frame()
    doubled = pl.concat([grades, grades.filter(pl.col("problem_id") == "aime24-2")])
    with pytest.raises(ValueError, match=r"has 16 rows but its sample_index values \(from 0 to 7\) repeat"):
        counts_from_grades(doubled)
    # two runs kept apart by run_hash are fine
    second = grades.with_columns(pl.lit("run-2").alias("run_hash"))
    by_run = counts_from_grades(pl.concat([grades, second]), by=("run_hash",))
    assert by_run.height == 48
    assert (
        counts_from_grades(doubled, check_duplicates=False).filter(pl.col("problem_id") == "aime24-2")["n"].max() == 16
    )


@pytest.mark.parametrize(
    ("indices", "repeated"),
    [
        ([0, 1, 2, 3], False),
        ([3, 1, 0, 2], False),
        ([0, 1, 1, 3], True),  # full range, wrong sum
        ([0, 3, 3, 0], True),  # full range, sum right by chance, squares not
        ([0, 0, 1], True),  # more rows than values in [0, 1]
        ([0, 2, 5], False),  # gaps are allowed (a dropped sample)
        ([5, 6, 7], False),
    ],
)
def test_repeat_detection(indices, repeated):
    grades = pl.DataFrame(
        {
            "model": "m",
            "benchmark": "b",
            "problem_id": "p",
            "sample_index": pl.Series(indices, dtype=pl.Int32),
            "correct": [True] * len(indices),
        }
    )
    if repeated:
        with pytest.raises(ValueError, match="repeat"):
            counts_from_grades(grades)
    else:
        assert counts_from_grades(grades)["n"].to_list() == [len(indices)]


def test_null_and_missing_columns():
    grades = grades_frame()
    nulled = grades.with_columns(
        pl.when((pl.col("problem_id") == "math500-1") & (pl.col("sample_index") == 3))
        .then(None)
        .otherwise(pl.col("correct"))
        .alias("correct")
    )
    with pytest.raises(ValueError, match="'correct' is null for 1 sample"):
        counts_from_grades(nulled)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['benchmark'\]"):
        counts_from_grades(grades.drop("benchmark"))
    with pytest.raises(ValueError, match="'correct' has type Int64"):
        counts_from_grades(grades.with_columns(pl.col("correct").cast(pl.Int64)))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="grades file not found"):
        counts_from_grades(tmp_path / "absent.parquet")
    with pytest.raises(FileNotFoundError, match="grades file"):
        counts_from_grades([tmp_path / "absent.parquet"])
