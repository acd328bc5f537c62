"""Paired differences, win counts, crossover k and ΔSE."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import polars as pl
import pytest

from analysis.metrics import (
    Crossover,
    crossover,
    delta_se,
    first_sign_change,
    paired_difference,
    pass_at_k,
    pass_at_k_curve,
)


def counts_of(model: str, cs: list[int], n: int | list[int], bench: str = "b", prefix: str = "p") -> pl.DataFrame:
    ns = n if isinstance(n, list) else [n] * len(cs)
    return pl.DataFrame(
        {
            "model": [model] * len(cs),
            "benchmark": [bench] * len(cs),
            "problem_id": [f"{prefix}{i:03d}" for i in range(len(cs))],
            "n": ns,
            "c": cs,
        }
    )


@pytest.fixture
def sharp_vs_broad() -> pl.DataFrame:
    """'sharp' is good at k = 1 but never solves 20 of 200 problems; 'broad' solves all, rarely."""
    sharp = counts_of("sharp", [48] * 180 + [0] * 20, 64)
    broad = counts_of("broad", [8] * 200, 64)
    return pl.concat([sharp, broad])


def test_difference_equals_difference_of_curves(sharp_vs_broad):
    diff = paired_difference(sharp_vs_broad, "sharp", "broad", ci=None)
    curve = pass_at_k_curve(sharp_vs_broad)
    a = curve.filter(pl.col("model") == "sharp")["pass_at_k"].to_numpy()
    b = curve.filter(pl.col("model") == "broad")["pass_at_k"].to_numpy()
    np.testing.assert_allclose(diff["diff"].to_numpy(), a - b, atol=1e-13, rtol=0)
    np.testing.assert_allclose(diff["pass_at_k_a"].to_numpy(), a, atol=1e-13, rtol=0)
    assert "lo" not in diff.columns
    assert diff["n_problems"].unique().to_list() == [200]
    assert (diff["a_wins"] + diff["b_wins"] + diff["ties"] == 200).all()


def test_crossover_matches_a_direct_scan(sharp_vs_broad):
    ks = np.arange(1, 65)
    a = np.array([0.9 * pass_at_k(64, 48, k) for k in ks])
    b = np.array([pass_at_k(64, 8, k) for k in ks])
    expected = int(ks[np.argmax(b > a)])
    assert a[0] > b[0]
    result = crossover(sharp_vs_broad, "sharp", "broad", n_resamples=300)
    assert isinstance(result, Crossover)
    assert result.crossed
    assert result.k == expected
    assert result.sign_at_1 == 1
    assert result.k_max == 64
    assert result.lo is not None
    assert result.hi is not None
    assert result.lo <= result.k <= result.hi
    assert result.share_no_crossover == 0.0
    assert f"at k = {expected}" in str(result)


def test_no_crossover_is_reported_explicitly():
    counts = pl.concat([counts_of("strong", [10] * 30, 32), counts_of("weak", [5] * 30, 32)])
    result = crossover(counts, "strong", "weak", n_resamples=200)
    assert result.k is None
    assert not result.crossed
    assert result.share_no_crossover == 1.0
    assert result.lo is None
    assert result.hi is None
    assert "no crossover up to k = 32" in str(result)
    assert "100.0% of them without a crossover" in str(result)


def test_crossover_without_ci():
    counts = pl.concat([counts_of("strong", [10] * 30, 32), counts_of("weak", [5] * 30, 32)])
    result = crossover(counts, "strong", "weak", ci=None)
    assert result.share_no_crossover is None
    assert result.n_resamples == 0


def test_crossover_needs_one_benchmark(sharp_vs_broad):
    other = sharp_vs_broad.with_columns(pl.lit("other").alias("benchmark"))
    with pytest.raises(ValueError, match=r"hold 2 values of 'benchmark' \(\['b', 'other'\]\)"):
        crossover(pl.concat([sharp_vs_broad, other]), "sharp", "broad")


@pytest.mark.parametrize(
    ("row", "k", "ref"),
    [
        ([1.0, 0.0, -1.0], 3, 1),
        ([0.0, 0.0, 2.0, -1.0], 4, 1),
        ([0.0, 0.0, 0.0], 0, 0),
        ([-1.0, -2.0, 3.0, -1.0], 3, -1),
        ([0.5, 0.2, 1e-13, 0.1], 0, 1),
    ],
)
def test_first_sign_change(row, k, ref):
    got_k, got_ref = first_sign_change(np.array([row]))
    assert (int(got_k[0]), int(got_ref[0])) == (k, ref)


def test_only_shared_problems_are_paired():
    a = counts_of("a", [3, 4, 5, 6], 8)
    b = counts_of("b", [1, 2, 3], 8).with_columns(pl.format("q{}", pl.col("problem_id")).alias("problem_id"))
    b = pl.concat([b, counts_of("b", [7], 8)])  # shares only p000 with a
    diff = paired_difference(pl.concat([a, b]), "a", "b", ks=[1], ci=None)
    assert diff["n_problems"][0] == 1
    assert diff["diff"][0] == pytest.approx((3 - 7) / 8)


def test_errors_name_the_problem():
    a = counts_of("a", [1, 2], 4)
    b = counts_of("b", [1, 2], 4, prefix="x")
    with pytest.raises(ValueError, match="models 'a' and 'b' share no problem"):
        paired_difference(pl.concat([a, b]), "a", "b")
    with pytest.raises(
        ValueError, match=r"model 'c' \(given as b\) is not in the counts table; models present: \['a', 'b'\]"
    ):
        paired_difference(pl.concat([a, b]), "a", "c")
    with pytest.raises(ValueError, match="two different models"):
        paired_difference(a, "a", "a")
    mixed = pl.concat([a, counts_of("b", [1, 2], [4, 2])])
    with pytest.raises(
        ValueError, match=r"k = 4 exceeds the samples available for models 'a' and 'b' .*'p001' has n = 2"
    ):
        paired_difference(mixed, "a", "b", ks=[4])


def test_win_counts_are_exact_with_zero_tolerance():
    rng = np.random.default_rng(5)
    n = 40
    ca = rng.integers(0, n + 1, 120).tolist()
    cb = rng.integers(0, n + 1, 120).tolist()
    counts = pl.concat([counts_of("a", ca, n), counts_of("b", cb, n)])
    ks = [1, 5, 20, 35, 40]
    diff = paired_difference(counts, "a", "b", ks=ks, ci=None, tie_tol=0.0)
    for row in diff.iter_rows(named=True):
        k = row["k"]
        exact = [
            Fraction(math.comb(n - y, k), math.comb(n, k)) - Fraction(math.comb(n - x, k), math.comb(n, k))
            for x, y in zip(ca, cb, strict=True)
        ]
        assert row["a_wins"] == sum(d > 0 for d in exact)
        assert row["b_wins"] == sum(d < 0 for d in exact)


def test_paired_ci_equals_a_plain_loop_bootstrap(sharp_vs_broad):
    rng = np.random.default_rng(2)
    ca = np.array([48] * 180 + [0] * 20)
    cb = np.array([8] * 200)
    ks = [1, 4, 32]
    draws = []
    for _ in range(250):
        idx = rng.integers(0, 200, 200)
        draws.append([np.mean(pass_at_k(64, ca[idx], k) - pass_at_k(64, cb[idx], k)) for k in ks])
    lo, hi = np.quantile(np.array(draws), [0.05, 0.95], axis=0)
    got = paired_difference(sharp_vs_broad, "sharp", "broad", ks=ks, ci=0.9, n_resamples=250, seed=2)
    np.testing.assert_allclose(got["lo"].to_numpy(), lo, atol=1e-12)
    np.testing.assert_allclose(got["hi"].to_numpy(), hi, atol=1e-12)


def test_groups_by_benchmark(sharp_vs_broad):
    other = sharp_vs_broad.with_columns(pl.lit("z").alias("benchmark"))
    both = paired_difference(pl.concat([sharp_vs_broad, other]), "sharp", "broad", ks=[1, 64], ci=None)
    assert both["benchmark"].to_list() == ["b", "b", "z", "z"]
    assert both["diff"][0] == both["diff"][2]


def test_delta_se(sharp_vs_broad):
    result = delta_se(sharp_vs_broad, "broad", "sharp", n_resamples=400)
    assert result.k == 64
    assert result.base_pass_at_k == pytest.approx(1.0)
    assert result.other_pass_at_1 == pytest.approx(0.9 * 48 / 64)
    assert result.delta == pytest.approx(1.0 - 0.9 * 48 / 64)
    assert result.lo is not None
    assert result.hi is not None
    assert result.lo <= result.delta <= result.hi
    at_8 = delta_se(sharp_vs_broad, "broad", "sharp", k=8, ci=None)
    assert at_8.delta == pytest.approx(pass_at_k(64, 8, 8) - 0.9 * 48 / 64)
    assert at_8.lo is None
    with pytest.raises(ValueError, match="k = 65 exceeds the samples of base model 'broad' on problem 'p000'"):
        delta_se(sharp_vs_broad, "broad", "sharp", k=65)
