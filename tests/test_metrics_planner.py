"""The sample-budget planner: the rule-out bound, unbiasedness with unequal n, crossover budgets."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.metrics.planner import (
    crossover_budget,
    estimator,
    expected_estimate,
    fit_pilot_prior,
    pass_at_k_upper_bound,
    samples_to_rule_out,
    unsolved_plan,
)


@pytest.mark.parametrize(("k", "epsilon", "confidence"), [(1, 0.05, 0.95), (64, 0.05, 0.95), (256, 0.1, 0.9)])
def test_rule_out_budget_is_the_smallest_sufficient_n(k, epsilon, confidence):
    n = samples_to_rule_out(k, epsilon=epsilon, confidence=confidence)
    assert pass_at_k_upper_bound(n, k, confidence=confidence) <= epsilon + 1e-12
    assert n == k or pass_at_k_upper_bound(n - 1, k, confidence=confidence) > epsilon
    # the bound is the Clopper–Pearson one: at p = 1 − α^{1/n}, n failures in a row have probability α
    p = 1 - (1 - confidence) ** (1 / n)
    assert (1 - p) ** n == pytest.approx(1 - confidence)
    assert samples_to_rule_out(256) == 14952


def test_unsolved_plan_counts_what_is_missing():
    pilot = pl.DataFrame(
        {"model": ["m"] * 3, "benchmark": ["b"] * 3, "problem_id": ["a", "b", "c"], "n": 32, "c": [0, 3, 0]}
    )
    plan = unsolved_plan(pilot, 16)
    assert plan["status"].to_list() == ["open", "solved", "open"]
    assert plan["extra"].to_list() == [samples_to_rule_out(16) - 32, 0, samples_to_rule_out(16) - 32]


@pytest.mark.parametrize("n", [4, 9, 16, 33])
def test_unbiased_for_any_fixed_n(n):
    for p in (0.0, 0.03, 0.4):
        for k in (1, 2, 4):
            exact = sum(math.comb(n, c) * p**c * (1 - p) ** (n - c) * estimator(n, c, k) for c in range(n + 1))
            assert exact == pytest.approx(1 - (1 - p) ** k, abs=1e-12)


def test_pilot_dependent_budgets_need_fresh_samples():
    """More samples where the pilot saw no success: pooling the pilot is biased upwards, using only the
    samples drawn after the pilot is not."""
    k, pilot_n = 4, 8

    def budget(c0: int) -> int:
        return 24 if c0 == 0 else 8

    for p in (0.02, 0.1, 0.3):
        truth = 1 - (1 - p) ** k
        fresh = expected_estimate(p, k, pilot_n, budget, pool_pilot=False)
        pooled = expected_estimate(p, k, pilot_n, budget, pool_pilot=True)
        assert fresh == pytest.approx(truth, abs=1e-12)
        assert pooled > truth + 1e-4
    # a budget fixed in advance may pool the pilot
    assert expected_estimate(0.1, k, pilot_n, lambda c0: 8, pool_pilot=True) == pytest.approx(1 - 0.9**k, abs=1e-12)


def test_pilot_prior_recovers_a_point_mass_at_zero():
    rng = np.random.default_rng(0)
    p = np.where(rng.random(3000) < 0.3, 0.0, rng.beta(1.0, 3.0, size=3000))
    prior = fit_pilot_prior(np.full(3000, 32), rng.binomial(32, p))
    assert prior.zero == pytest.approx(0.3, abs=0.04)
    assert prior.alpha / (prior.alpha + prior.beta) == pytest.approx(0.25, abs=0.04)


def _pilot(p_base: np.ndarray, p_rl: np.ndarray, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, p in (("base", p_base), ("rl", p_rl)):
        for i, c in enumerate(rng.binomial(n, p)):
            rows.append({"model": model, "benchmark": "b", "problem_id": f"p{i}", "n": n, "c": int(c)})
    return pl.DataFrame(rows)


def test_crossover_budget_finds_a_real_crossover_and_not_a_fake_one():
    rng = np.random.default_rng(1)
    p_base = rng.beta(0.3, 1.0, size=200)
    p_rl = np.where(p_base > 0.05, np.minimum(1.0, 2.0 * p_base + 0.1), 0.0)
    real = crossover_budget(_pilot(p_base, p_rl, 32, 0), "rl", "base", candidates=(8, 128), n_sims=8, n_resamples=200)
    assert real.filter(pl.col("n") == 128)["power"][0] >= 0.75
    assert real.filter(pl.col("n") == 8)["power"][0] <= real.filter(pl.col("n") == 128)["power"][0]
    same = crossover_budget(_pilot(p_base, p_base, 32, 0), "rl", "base", candidates=(128,), n_sims=8, n_resamples=200)
    assert same["power"][0] <= 0.25
    with pytest.raises(ValueError, match="at least 2"):
        crossover_budget(_pilot(p_base[:1], p_rl[:1], 32, 0), "rl", "base")


def test_a_pilot_with_every_sample_right_still_plans():
    """Found by the toy study: a distilled model right on every pilot sample drove the fitted beta
    shape to 0 and numpy's beta sampler refused it."""
    import polars as pl

    from analysis.metrics.planner import crossover_budget

    rows = []
    for i in range(40):
        rows.append({"model": "base", "benchmark": "b", "problem_id": f"p{i}", "n": 32, "c": i % 33})
        rows.append({"model": "other", "benchmark": "b", "problem_id": f"p{i}", "n": 32, "c": 32})
    plan = crossover_budget(pl.DataFrame(rows), "other", "base", candidates=(64,), n_sims=3, n_resamples=50)
    assert plan.height == 1
