"""pass@k estimator: exactness against integer arithmetic, edge cases, errors, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.metrics import pass_at_k, per_problem_pass_at_k


def exact(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k)/C(n, k) from exact integers (int / int is correctly rounded), off by at most 1 ulp."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def product_form(n: int, c: int, k: int) -> float:
    """The estimator as the paper's code and human-eval write it."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@st.composite
def nck(draw, max_n: int = 2000):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


def test_scalar_returns_float_and_known_values():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-15)
    assert isinstance(pass_at_k(10, 3, 1), float)
    # C(2, 2) / C(4, 2) = 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6, abs=1e-15)
    assert pass_at_k(5, 0, 5) == 0.0
    assert pass_at_k(5, 1, 5) == 1.0
    assert pass_at_k(5, 3, 3) == 1.0  # n - c < k


def test_broadcasting_and_mixed_n():
    n = np.array([[10], [20], [128]])
    c = np.array([[0], [5], [64]])
    k = np.array([1, 2, 8])
    out = pass_at_k(n, c, k)
    assert out.shape == (3, 3)
    assert out.dtype == np.float64
    for i in range(3):
        for j in range(3):
            assert out[i, j] == pytest.approx(exact(int(n[i, 0]), int(c[i, 0]), int(k[j])), abs=1e-15)


@pytest.mark.parametrize(
    ("n", "c", "k", "needle"),
    [
        (10, 11, 1, "c = 11 exceeds n = 10"),
        (10, 3, 11, "k = 11 exceeds n = 10"),
        (10, -1, 1, "c must be non-negative, got c = -1"),
        (-5, 0, 1, "n must be at least 1, got n = -5"),
        (10, 3, 0, "k must be at least 1, got k = 0"),
        (10, 2.5, 1, "c must be integers, got 2.5"),
        (10.5, 2, 1, "n must be integers, got 10.5"),
        (10, 2, float("nan"), "k must be integers, got nan"),
        (10, True, 1, "c must be integers"),
    ],
)
def test_bad_values_raise_naming_the_value(n, c, k, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        pass_at_k(n, c, k)


def test_bad_value_in_array_names_its_index():
    with pytest.raises(ValueError, match=r"c = 12 exceeds n = 10 at index 2"):
        pass_at_k(np.array([10, 10, 10]), np.array([1, 2, 12]), 1)


def test_integral_floats_are_accepted():
    assert pass_at_k(10.0, 3.0, 2.0) == pytest.approx(exact(10, 3, 2), abs=1e-15)


def test_exact_for_large_n():
    """Agreement with exact integer arithmetic to 1e-12 for n up to 100,000, where it matters most."""
    rng = np.random.default_rng(1)
    cases = [(100_000, 1, 1), (100_000, 1, 99_999), (100_000, 99_999, 1), (100_000, 50, 2000), (100_000, 3, 30_000)]
    for _ in range(40):
        n = int(rng.integers(50_000, 100_001))
        scale = int(np.sqrt(n))
        cases.append((n, int(rng.integers(0, 4 * scale)), int(rng.integers(1, 4 * scale))))
        cases.append((n, int(rng.integers(0, n + 1)), int(rng.integers(1, 50))))
    n, c, k = (np.array(x) for x in zip(*cases, strict=True))
    got = pass_at_k(n, c, k)
    want = np.array([exact(*case) for case in cases])
    assert np.max(np.abs(got - want)) <= 1e-12


@settings(max_examples=300, deadline=None)
@given(nck())
def test_agrees_with_exact_comb(case):
    n, c, k = case
    assert abs(pass_at_k(n, c, k) - exact(n, c, k)) <= 1e-12


@settings(max_examples=40, deadline=None)
@given(nck(max_n=100_000))
def test_agrees_with_exact_comb_up_to_n_100000(case):
    n, c, k = case
    assert abs(pass_at_k(n, c, k) - exact(n, c, k)) <= 1e-12


@settings(max_examples=100, deadline=None)
@given(nck(max_n=600))
def test_recurrence_matches_estimator_and_properties(case):
    n, c, _ = case
    curve = per_problem_pass_at_k([n], [c], n)[0]
    ks = np.arange(1, n + 1)
    assert np.max(np.abs(curve - pass_at_k(n, c, ks))) <= 1e-12
    assert np.all(np.diff(curve) >= -1e-15), "pass@k must be non-decreasing in k"
    assert curve[0] == pytest.approx(c / n, abs=1e-15)
    assert curve[-1] == (1.0 if c > 0 else 0.0)
    assert np.all((curve >= 0) & (curve <= 1))


@settings(max_examples=60, deadline=None)
@given(nck(max_n=300))
def test_product_form_agreement(case):
    n, c, k = case
    assert abs(pass_at_k(n, c, k) - product_form(n, c, k)) <= 1e-12


def test_per_problem_matrix_shape_and_errors():
    out = per_problem_pass_at_k([4, 8], [1, 0], 4)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out[0], [0.25, 0.5, 0.75, 1.0], atol=1e-15)
    assert np.all(out[1] == 0.0)
    with pytest.raises(ValueError, match="k = 5 exceeds n = 4"):
        per_problem_pass_at_k([4, 8], [1, 0], 5)
    with pytest.raises(ValueError, match="one value per problem"):
        per_problem_pass_at_k([4, 8], [1], 2)
