"""The findings module: each outcome on counts built for it, the public MATH500 reproduction, the
phase boundary, and the answer text that must follow from the outcomes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.answer import answer_text, robustness_sentence
from analysis.config import ModelEntry
from analysis.findings import MAX_NEW_SHARE, Interval, compare_all, compare_pair, decide, findings_table, phase_boundary

N = 64


def _counts(base_c, other_c, *, n: int = N, temperature: float = 0.6) -> pl.DataFrame:
    ids = [f"p{i}" for i in range(len(base_c))]
    rows = []
    for model, cs in (("base", base_c), ("other", other_c)):
        rows += [
            {"model": model, "benchmark": "b", "temperature": temperature, "problem_id": p, "n": n, "c": int(c)}
            for p, c in zip(ids, cs, strict=True)
        ]
    return pl.DataFrame(rows)


def _mixture(rng, size, low, high):
    return rng.integers(low, high, size=size)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_worse_when_the_other_model_is_clearly_worse_everywhere(rng):
    base = _mixture(rng, 200, 20, 60)
    other = np.where(rng.random(200) < 0.3, 0, base // 4)  # lower accuracy and 30% of problems lost
    f = compare_pair(_counts(base, other), "base", "other", n_resamples=300)
    assert f.outcome == "worse"
    assert f.at_1.other_worse
    assert f.at_n.other_worse
    assert "worse at k = 1 and also worse" in f.reason


def test_expansion_when_the_other_solves_ten_percent_more_problems(rng):
    base = np.concatenate([_mixture(rng, 180, 5, 60), np.zeros(20, dtype=int)])
    other = np.concatenate([_mixture(rng, 180, 5, 60), np.full(20, 3)])  # 10% of problems only by the other
    f = compare_pair(_counts(base, other), "base", "other", n_resamples=300)
    assert f.outcome == "expansion"
    assert f.only_other == 20
    assert f.share_only_other == pytest.approx(0.10)


def test_sharpening_needs_all_three_conditions(rng):
    base = np.concatenate([_mixture(rng, 150, 8, 40), np.full(50, 1)])  # 50 problems the base rarely solves
    other = np.concatenate([np.minimum(base[:150] * 2, N), np.zeros(50, dtype=int)])
    f = compare_pair(_counts(base, other), "base", "other", n_resamples=300)
    assert f.outcome == "sharpening", f.reason
    assert f.at_1.other_better
    assert f.at_n.other_worse
    assert f.only_other == 0


def test_no_difference_for_the_same_counts(rng):
    base = _mixture(rng, 100, 0, N)
    f = compare_pair(_counts(base, base.copy()), "base", "other", n_resamples=200)
    assert f.outcome == "no_difference"
    assert f.at_1.lo <= 0 <= f.at_1.hi


def test_mixed_names_its_reason():
    at_1 = Interval(1, 0.5, 0.6, 0.1, 0.05, 0.15)  # better at k = 1
    at_n = Interval(64, 0.9, 0.9, 0.0, -0.01, 0.01)  # no difference at k = n
    outcome, reason = decide(at_1, at_n, only_other=1, only_base=4, problems=100)
    assert outcome == "mixed"
    assert "k = 1: better" in reason
    assert "k = 64: no difference" in reason


def test_outcome_order_and_the_threshold_is_one_constant():
    better = Interval(1, 0.5, 0.6, 0.1, 0.05, 0.15)
    base_better = Interval(64, 0.9, 0.8, -0.1, -0.15, -0.05)
    limit = int(MAX_NEW_SHARE * 1000)
    assert decide(better, base_better, limit, 50, 1000)[0] == "sharpening"
    assert decide(better, base_better, limit + 1, 50, 1000)[0] == "expansion"
    worse = Interval(1, 0.5, 0.4, -0.1, -0.15, -0.05)
    assert decide(worse, base_better, 0, 50, 1000)[0] == "worse"
    with pytest.raises(ValueError, match="at least one shared problem"):
        decide(better, base_better, 0, 0, 0)


def test_compare_pair_rejects_several_groups_and_missing_models(rng):
    two = pl.concat([_counts([1, 2], [2, 3]), _counts([1, 2], [2, 3], temperature=1.0)])
    with pytest.raises(ValueError, match="one benchmark and temperature"):
        compare_pair(two, "base", "other")
    with pytest.raises(ValueError, match="not in the counts"):
        compare_pair(_counts([1], [2]), "base", "nope")
    found = compare_all(two, [("base", "other")], n_resamples=50)
    assert [f.temperature for f in found] == [0.6, 1.0]
    assert findings_table(found, grader="exact")["grader"].to_list() == ["exact", "exact"]


@pytest.mark.shared
def test_sharpening_on_the_public_math500_reproduction(reference_dir: Path):
    raw = pl.read_csv(reference_dir / "math500-qwen2.5-7b-vs-simplerl" / "per_problem_correct_counts.csv")
    counts = pl.concat(
        raw.select(
            pl.lit(model).alias("model"),
            pl.lit("math500").alias("benchmark"),
            pl.lit(0.6).alias("temperature"),
            pl.col("idx").cast(pl.String).alias("problem_id"),
            pl.col("n_samples").alias("n"),
            pl.col(column).alias("c"),
        )
        for model, column in (("base", "base_correct"), ("simplerl", "simplerl_correct"))
    )
    f = compare_pair(counts, "base", "simplerl")
    assert f.outcome == "sharpening", f.reason
    assert (f.both, f.only_base, f.only_other, f.neither) == (462, 19, 3, 16)
    assert f.at_n.base == pytest.approx(0.962, abs=5e-4)
    assert f.at_n.other == pytest.approx(0.930, abs=5e-4)


def _models():
    return [
        ModelEntry(name="base", role="base", path="x", template="bare"),
        ModelEntry(name="a0", role="rl", base="base", path="x", template="bare", recipe="easy RL"),
        ModelEntry(name="a1", role="rl", base="base", path="x", template="bare", recipe="easy RL"),
        ModelEntry(name="w", role="rl", base="base", path="x", template="bare", recipe="bad RL"),
        ModelEntry(name="d", role="distill", base="base", path="x", template="bare", recipe="distilled"),
    ]


def _finding_rows(outcomes: dict[str, str], grader: str = "exact", primary: bool = True) -> pl.DataFrame:
    rows = []
    for other, outcome in outcomes.items():
        rows.append(
            {
                "benchmark": "b", "temperature": 0.6, "base": "base", "other": other, "n": 64, "problems": 100,
                "outcome": outcome, "reason": "r", "Δ pass@1": 0.1, "Δ pass@n": -0.1, "other only": 0,
                "base only": 3, "ci": 0.95, "grader": grader, "primary": primary,
            }
        )  # fmt: skip
    return pl.DataFrame(rows)


def test_answer_text_follows_the_outcomes_and_counts_no_votes():
    found = _finding_rows({"a0": "sharpening", "a1": "sharpening", "w": "worse", "d": "no_difference"})
    text = answer_text(found, _models())
    assert "`exact`" in text  # the grader is named
    assert "**easy RL** (RL-trained: `a0`, `a1`): sharpening (the paper's pattern) in 2 of 2" in text
    assert "**bad RL** (RL-trained: `w`): worse than the base in 1 of 1" in text
    assert "**distilled** (distilled: `d`): no detectable difference in 1 of 1" in text
    assert "easy RL → sharpening (the paper's pattern); bad RL → worse than the base" in text
    assert "supports" not in text
    assert "votes" not in text
    assert "no (base, other) pair" in answer_text(pl.DataFrame(), _models())


def test_answer_text_lists_both_outcomes_of_a_split_recipe():
    found = _finding_rows({"a0": "sharpening", "a1": "expansion"})
    text = answer_text(found, _models())
    assert "sharpening (the paper's pattern) in 1 of 2 (`a0`); expansion in 1 of 2 (`a1`)" in text
    assert "easy RL → sharpening (the paper's pattern) / expansion" in text


def test_grader_check_marks_outcomes_that_flip():
    primary = _finding_rows({"a0": "sharpening", "a1": "sharpening"}, grader="paper")
    other = _finding_rows({"a0": "sharpening", "a1": "mixed"}, grader="strict", primary=False)
    sentence = robustness_sentence(pl.concat([primary, other]))
    assert "1 of 2 outcomes hold under both `paper` and `strict`" in sentence
    assert "`a1` on b (T = 0.6): sharpening under `paper`, mixed under `strict`" in sentence
    same = robustness_sentence(
        pl.concat([primary, _finding_rows({"a0": "sharpening", "a1": "sharpening"}, "strict", False)])
    )
    assert "every outcome above is the same under `strict`" in same
    assert robustness_sentence(primary) is None


def test_phase_boundary_reads_the_grid():
    rows = []
    for share, pattern, expansion in ((0.0, 2, 0), (0.05, 2, 0), (0.15, 0, 2), (0.5, 0, 2)):
        for beta in (0.0, 0.2):
            rows.append(
                {"temperature": 0.6, "hard_share": share, "beta": beta, "step": 200, "seeds": 2,
                 "paper_pattern_seeds": pattern, "expansion_seeds": expansion}
            )  # fmt: skip
            rows.append(
                {"temperature": 0.6, "hard_share": share, "beta": beta, "step": 50, "seeds": 2,
                 "paper_pattern_seeds": 0, "expansion_seeds": 0}
            )  # fmt: skip
    (b,) = phase_boundary(pl.DataFrame(rows))
    assert (b.sharpening_up_to, b.expansion_from, b.step) == (0.05, 0.15, 200)
    assert "between 5% and 15%" in str(b)
