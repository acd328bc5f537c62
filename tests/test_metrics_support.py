"""Solution-level coverage and support metrics against Python sets; reasoning-checked counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.metrics.reasoning import VERDICTS, apply_verdicts, checked_counts, judge_queue, judge_subset
from analysis.metrics.support import (
    normalise_text,
    solution_coverage,
    strategy_retention,
    support_change,
)


def _solutions(seed: int = 0, problems: int = 12, n: int = 10) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, answers in (("base", "abcdef"), ("rl", "abx")):
        for p in range(problems):
            for j in range(n):
                ans = str(rng.choice(list(answers)))
                rows.append(
                    {
                        "model": model,
                        "benchmark": "b",
                        "problem_id": f"p{p}",
                        "sample_index": j,
                        "correct": bool(rng.random() < (0.3 if model == "base" else 0.6)) and p % 4 != 3,
                        "answer": ans,
                        "trajectory": f"{ans}-{int(rng.integers(3))}",
                        "strategy": "R" if ans in "ab" else "L",
                    }
                )
    return pl.DataFrame(rows)


def _sets(sol: pl.DataFrame, model: str, grain: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in sol.filter((pl.col("model") == model) & pl.col("correct")).iter_rows(named=True):
        out.setdefault(row["problem_id"], set()).add(row["problem_id"] if grain == "problem" else row[grain])
    return out


@pytest.mark.parametrize("grain", ["problem", "answer", "trajectory", "strategy"])
def test_support_change_matches_sets(grain):
    sol = _solutions()
    change = support_change(sol, "base", "rl", grain)
    b, o = _sets(sol, "base", grain), _sets(sol, "rl", grain)
    problems = sorted(set(sol["problem_id"]))
    kept = sum(len(b.get(p, set()) & o.get(p, set())) for p in problems)
    lost = sum(len(b.get(p, set()) - o.get(p, set())) for p in problems)
    new = sum(len(o.get(p, set()) - b.get(p, set())) for p in problems)
    assert (change.preserved, change.shrunk, change.expanded) == (kept, lost, new)
    assert change.srr == pytest.approx(kept / (kept + lost))
    assert change.ndr == pytest.approx(new / (kept + new))
    assert change.sds == pytest.approx(2 * change.srr * change.ndr / (change.srr + change.ndr))
    assert change.nscr == pytest.approx((new - lost) / (kept + lost + new))
    per = change.per_problem.sort("problem_id")
    assert per["shrunk"].to_list() == [len(b.get(p, set()) - o.get(p, set())) for p in sorted(per["problem_id"])]
    assert f"keeps {change.srr:.0%}" in change.reading()


def test_min_count_raises_the_bar():
    sol = _solutions()
    loose = support_change(sol, "base", "rl", "trajectory")
    strict = support_change(sol, "base", "rl", "trajectory", min_count=3)
    assert strict.preserved + strict.shrunk < loose.preserved + loose.shrunk


def test_solution_coverage_counts_distinct_correct_solutions():
    sol = _solutions()
    cov = solution_coverage(sol, ("answer", "trajectory"))
    for row in cov.iter_rows(named=True):
        part = sol.filter((pl.col("model") == row["model"]) & (pl.col("problem_id") == row["problem_id"]))
        right = part.filter(pl.col("correct"))
        assert row["n"] == part.height
        assert row["c"] == right.height
        assert row["distinct_answer"] == len(set(right["answer"]))
        assert row["distinct_trajectory"] == len(set(right["trajectory"]))


def test_strategy_retention_shows_the_dropped_strategy():
    sol = _solutions()
    table = strategy_retention(sol, "base", "rl")
    b, o = _sets(sol, "base", "strategy"), _sets(sol, "rl", "strategy")
    for row in table.iter_rows(named=True):
        s = row["strategy"]
        assert row["base_problems"] == sum(s in v for v in b.values())
        assert row["kept"] == sum(s in b.get(p, set()) and s in o.get(p, set()) for p in b)
        assert row["new"] == sum(s in v and s not in b.get(p, set()) for p, v in o.items())
    assert table.filter(pl.col("strategy") == "L")["kept"][0] > 0  # rl's "x" answers are strategy L too


def test_support_errors_and_normalisation():
    sol = _solutions()
    with pytest.raises(ValueError, match="no samples"):
        support_change(sol, "base", "ghost", "answer")
    with pytest.raises(ValueError, match="missing column"):
        support_change(sol.drop("answer"), "base", "rl", "answer")
    assert normalise_text("  $\\frac{1}{2}$\n ") == "\\frac{1}{2}"
    assert normalise_text("A  B") == normalise_text("a b")
    assert normalise_text(None) == ""


def test_checked_counts_and_the_judge_subset():
    sol = _solutions().with_columns(valid=pl.col("trajectory").str.ends_with("-0"))
    counts = checked_counts(sol)
    for row in counts.iter_rows(named=True):
        part = sol.filter((pl.col("model") == row["model"]) & (pl.col("problem_id") == row["problem_id"]))
        want = part["correct"] if row["check"] == "answer" else part["correct"] & part["valid"]
        assert row["c"] == int(want.sum())
    answer = counts.filter(pl.col("check") == "answer").drop("check")
    subset = judge_subset(answer, max_share=0.2)
    assert ((subset["c"] > 0) & (subset["c"] <= 0.2 * subset["n"])).all()
    grades = sol.select("model", "benchmark", "problem_id", "sample_index", "correct")
    queue = judge_queue(grades, subset)
    assert queue.height == int(subset["c"].sum())
    verdicts = pl.DataFrame(
        {
            **{col: queue[col] for col in ("model", "benchmark", "problem_id")},
            "sample_index": queue["sample_index"].cast(pl.Int32),
            "judge": "j",
            "judge_version": "v1",
            "reasoning_valid": [i % 2 == 0 for i in range(queue.height)],
            "rationale": "",
        },
        schema=VERDICTS,
    )
    merged = apply_verdicts(grades.with_columns(pl.col("sample_index").cast(pl.Int32)), verdicts, subset)
    judged = merged.join(subset.select("model", "benchmark", "problem_id"), on=["model", "benchmark", "problem_id"])
    assert judged.filter(pl.col("correct"))["valid"].sum() == sum(i % 2 == 0 for i in range(queue.height))
    assert merged.join(judged, on=["model", "problem_id", "sample_index"], how="anti")["valid"].all()
    mixed = pl.concat([verdicts, verdicts.with_columns(pl.lit("v2").alias("judge_version"))])
    with pytest.raises(ValueError, match="mix judge versions"):
        apply_verdicts(grades, mixed, subset)


def test_readings_of_empty_supports():
    sol = _solutions()
    nothing = sol.with_columns(pl.lit(False).alias("correct"))
    assert support_change(nothing, "base", "rl", "answer").reading() == (
        "Neither base nor rl has a correct solution at the answer level."
    )
    only_rl = sol.with_columns(pl.col("correct") & (pl.col("model") == "rl"))
    change = support_change(only_rl, "base", "rl", "problem")
    assert change.reading() == f"The base (base) has no solved problems; rl has {change.expanded}, all new."
    assert change.expanded == 9  # rl solves every problem but p3, p7, p11
