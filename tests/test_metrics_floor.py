"""The guessing floor: toy-world guess rates by enumeration, floor curves, the guessing flag."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.metrics.floor import (
    above_floor,
    explained_by_guessing,
    floor_from_answer_only,
    floor_pass_at_k,
    magnitude_window,
    toy_guess_rate,
)
from analysis.metrics.passk import pass_at_k


@pytest.mark.parametrize("n_digits", [1, 2, 3])
def test_guess_rates_are_one_over_the_answer_space(n_digits):
    hi = 10**n_digits
    a = np.arange(hi).repeat(hi)
    b = np.tile(np.arange(hi), hi)
    # uniform: every possible sum of two n-digit operands
    sums = set((a + b).tolist())
    assert toy_guess_rate(a[:5], b[:5], n_digits, "uniform") == pytest.approx(1 / len(sums))
    # magnitude: the window always holds the true sum, and its size sets the rate
    rate = toy_guess_rate(a, b, n_digits, "magnitude")
    step = max(1, hi * hi // 997)
    for x, y, g in zip(a[::step].tolist(), b[::step].tolist(), rate[::step].tolist(), strict=True):
        window = magnitude_window(x, y, n_digits)
        assert x + y in window
        assert g == pytest.approx(1 / len(window))
    with pytest.raises(ValueError, match="prior"):
        toy_guess_rate(a[:2], b[:2], n_digits, "psychic")  # type: ignore[arg-type]


def test_floor_curve_is_the_pass_at_k_of_a_guesser():
    g = np.array([0.0, 0.01, 0.2, 1.0])
    ks = [1, 2, 10, 100]
    got = floor_pass_at_k(g, ks)
    want = np.array([[1 - (1 - gi) ** k for k in ks] for gi in g])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_explained_by_guessing_is_a_binomial_tail_test():
    n = np.array([64, 64, 64, 64, 64])
    c = np.array([0, 1, 3, 9, 20])
    g = np.full(5, 1 / 19)
    flags = explained_by_guessing(n, c, g, alpha=0.05)
    for ni, ci, fi in zip(n.tolist(), c.tolist(), flags.tolist(), strict=True):
        tail = sum(math.comb(ni, j) * (1 / 19) ** j * (18 / 19) ** (ni - j) for j in range(ci, ni + 1))
        assert fi == (ci > 0 and tail >= 0.05)
    assert flags.tolist() == [False, True, True, False, False]


def test_above_floor_against_loops():
    rng = np.random.default_rng(0)
    n = np.full(30, 16)
    c = rng.integers(0, 17, size=30)
    g = rng.uniform(0, 0.2, size=30)
    ks = [1, 4, 16]
    table = above_floor(n, c, g, ks)
    for row in table.iter_rows(named=True):
        k = row["k"]
        p = [pass_at_k(16, int(ci), k) for ci in c]
        f = [1 - (1 - gi) ** k for gi in g]
        head = [max(pi - fi, 0) / (1 - fi) for pi, fi in zip(p, f, strict=True)]
        assert row["pass_at_k"] == pytest.approx(np.mean(p))
        assert row["floor"] == pytest.approx(np.mean(f))
        assert row["pass_above_floor"] == pytest.approx(np.mean(head))


def test_floor_from_answer_only_counts():
    counts = pl.DataFrame(
        {"model": ["m", "m"], "benchmark": ["math"] * 2, "problem_id": ["p1", "p2"], "n": [32, 32], "c": [0, 8]}
    )
    out = floor_from_answer_only(counts)
    assert out["guess_rate"].to_list() == pytest.approx([0.5 / 33, 8.5 / 33])
    assert floor_from_answer_only(counts, prior_strength=0.0)["guess_rate"].to_list() == pytest.approx([0.0, 0.25])
