"""G-Pass@k_τ and mG-Pass@k against brute-force enumeration of k-subsets and the OpenCompass formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from analysis.metrics.gpass import g_pass_at_k, g_pass_table, mg_pass_at_k, threshold_count
from analysis.metrics.passk import pass_at_k


def _brute(n: int, c: int, k: int, m: int) -> float:
    """Share of the k-subsets of n samples (the first c correct) holding at least m correct ones."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(sum(samples[i] for i in s) >= m for s in subsets) / len(subsets)


def _opencompass_mg(n: int, c: int, k: int) -> float:
    """mG-Pass@k as OpenCompass's ``compute_mg_pass_at_k`` writes it (float τ = i/k, m = max(ceil(k·τ), 1))."""
    total = 0.0
    for i in range(math.ceil(k * 0.5) + 1, k + 1):
        m = max(math.ceil(k * (i / k)), 1)
        total += _brute(n, c, k, m) if m <= min(c, k) else 0.0
    return 2 * total / k


@pytest.mark.parametrize("n", [1, 4, 7, 9])
def test_g_pass_matches_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            for tau in (0.0, 0.25, 0.5, 0.75, 1.0):
                m = threshold_count(k, tau)
                got = float(g_pass_at_k(np.array([n]), np.array([c]), k, tau)[0])
                assert got == pytest.approx(_brute(n, c, k, m), abs=1e-12), (n, c, k, tau)


def test_low_threshold_is_pass_at_k_and_full_threshold_is_all_correct():
    n, c = np.array([20, 20, 20, 20]), np.array([0, 3, 10, 20])
    for k in (1, 5, 20):
        np.testing.assert_allclose(g_pass_at_k(n, c, k, 0.0), pass_at_k(n, c, k), atol=1e-12)
        all_right = [math.comb(int(ci), k) / math.comb(20, k) for ci in c]
        np.testing.assert_allclose(g_pass_at_k(n, c, k, 1.0), all_right, atol=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(8, 5, 4), (9, 4, 5), (7, 7, 7), (6, 1, 3), (8, 6, 1), (10, 6, 6)])
def test_mg_pass_matches_opencompass(n, c, k):
    assert float(mg_pass_at_k(np.array([n]), np.array([c]), k)[0]) == pytest.approx(_opencompass_mg(n, c, k), abs=1e-12)


def test_threshold_count_is_exact_for_i_over_k():
    for k in range(1, 200):
        for i in range(1, k + 1):
            assert threshold_count(k, i / k) == i
    assert threshold_count(8, 0.0) == 1
    with pytest.raises(ValueError, match="tau"):
        threshold_count(4, 1.5)


def test_table_averages_problems_per_group():
    counts = pl.DataFrame(
        {
            "model": ["a", "a", "b", "b"],
            "benchmark": ["x"] * 4,
            "problem_id": ["p1", "p2", "p1", "p2"],
            "n": [8, 8, 8, 6],
            "c": [2, 8, 4, 3],
        }
    )
    table = g_pass_table(counts, ks=[1, 4, 8], taus=(0.5, 1.0))
    row = table.filter((pl.col("model") == "a") & (pl.col("k") == 4) & (pl.col("tau") == 0.5))
    assert row["value"][0] == pytest.approx((_brute(8, 2, 4, 2) + 1.0) / 2)
    # k = 8 exceeds model b's smallest n (6): left out for b only
    assert table.filter((pl.col("model") == "b") & (pl.col("k") == 8)).is_empty()
    mg = table.filter((pl.col("model") == "a") & (pl.col("metric") == "mG-Pass") & (pl.col("k") == 4))
    assert mg["value"][0] == pytest.approx((_opencompass_mg(8, 2, 4) + 1.0) / 2)
    with pytest.raises(ValueError, match="exceeds"):
        g_pass_at_k(np.array([3]), np.array([1]), 4, 0.5)
