"""maj@k: exact enumeration where small, seeded subsampling otherwise, against brute force."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import polars as pl
import pytest

from analysis.metrics import maj_at_k


def brute_force(answers: list[str | None], correct: list[bool], k: int) -> float:
    """Expected majority-vote credit over all k-subsets, ties split evenly, abstentions ignored."""
    right = {a for a, ok in zip(answers, correct, strict=True) if ok and a is not None}
    total = 0.0
    subsets = list(itertools.combinations(range(len(answers)), k))
    for subset in subsets:
        tally = Counter(answers[i] for i in subset if answers[i] is not None)
        if not tally:
            continue
        top = max(tally.values())
        winners = [a for a, v in tally.items() if v == top]
        total += sum(a in right for a in winners) / len(winners)
    return total / len(subsets)


def grades_of(problems: dict[str, tuple[list[str | None], list[bool]]], model: str = "m") -> pl.DataFrame:
    rows = []
    for pid, (answers, correct) in problems.items():
        for s, (a, ok) in enumerate(zip(answers, correct, strict=True)):
            rows.append(
                {"model": model, "benchmark": "x", "problem_id": pid, "sample_index": s, "extracted": a, "correct": ok}
            )
    return pl.DataFrame(rows, schema_overrides={"extracted": pl.String})


def test_hand_computed_case():
    grades = grades_of({"p": (["7", "7", "9"], [True, True, False])})
    out = maj_at_k(grades, [1, 2, 3])
    assert out.columns == ["model", "benchmark", "k", "maj_at_k"]
    # k=2: {7,7} right; {7,9} twice, a tie worth 1/2 each -> (1 + 1/2 + 1/2) / 3
    np.testing.assert_allclose(out["maj_at_k"].to_numpy(), [2 / 3, 2 / 3, 1.0], atol=1e-15)


def random_problems(seed: int, count: int, n: int) -> dict[str, tuple[list[str | None], list[bool]]]:
    rng = np.random.default_rng(seed)
    problems = {}
    for p in range(count):
        choices = rng.choice(["1", "2", "3", "4", None], size=n, p=[0.35, 0.25, 0.2, 0.1, 0.1]).tolist()
        right = str(int(rng.integers(1, 4)))
        problems[f"p{p}"] = (choices, [a == right for a in choices])
    return problems


def test_exact_enumeration_matches_brute_force():
    problems = random_problems(0, 6, 8)
    ks = [1, 2, 3, 5, 8]
    out = maj_at_k(grades_of(problems), ks, draws=100)  # C(8, k) <= 70 for all these k: exact
    for k, value in zip(out["k"], out["maj_at_k"], strict=True):
        want = np.mean([brute_force(a, c, k) for a, c in problems.values()])
        assert value == pytest.approx(want, abs=1e-12)


def test_subsampling_estimate_is_close_and_seeded():
    problems = random_problems(1, 20, 12)
    grades = grades_of(problems)
    out = maj_at_k(grades, [6], draws=400, seed=3)  # C(12, 6) = 924 > 400: subsampled
    want = np.mean([brute_force(a, c, 6) for a, c in problems.values()])
    assert out["maj_at_k"][0] == pytest.approx(want, abs=0.03)  # about 5 standard errors
    assert maj_at_k(grades, [6], draws=400, seed=3).equals(out)


def test_all_abstaining_scores_zero_and_grader_filter():
    grades = grades_of({"p": ([None, None, "5"], [False, False, True])}).with_columns(pl.lit("strict").alias("grader"))
    out = maj_at_k(grades, [1, 2], grader="strict")
    np.testing.assert_allclose(out["maj_at_k"].to_numpy(), [1 / 3, 2 / 3], atol=1e-15)
    with pytest.raises(ValueError, match="no rows for grader 'paper'"):
        maj_at_k(grades, [1], grader="paper")


def test_errors():
    grades = grades_of({"p": (["1", "2"], [True, False])})
    with pytest.raises(ValueError, match="k = 3 exceeds the 2 samples of problem 'p'"):
        maj_at_k(grades, [3])
    with pytest.raises(ValueError, match="ks must be positive integers"):
        maj_at_k(grades, [0])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['extracted'\]"):
        maj_at_k(grades.drop("extracted"), [1])
