"""pass@k curves, counts-table validation, and the bootstrap machinery."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import schemas
from analysis.metrics import bootstrap_weights, check_counts, pass_at_k, pass_at_k_curve


def make_counts(rows: list[tuple[str, str, str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["model", "benchmark", "problem_id", "n", "c"], orient="row")


@pytest.fixture
def counts() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for model in ("base", "rl"):
        for bench, size in (("a", 40), ("b", 25)):
            for i in range(size):
                n = int(rng.choice([16, 32]))
                rows.append((model, bench, f"{bench}{i}", n, int(rng.integers(0, n + 1))))
    return make_counts(rows)


def test_curve_is_mean_of_the_estimator_per_group(counts):
    curve = pass_at_k_curve(counts)
    schemas.check(curve, "curves")
    assert curve.columns == ["model", "benchmark", "k", "pass_at_k"]
    for (model, bench), group in counts.group_by(["model", "benchmark"]):
        got = curve.filter((pl.col("model") == model) & (pl.col("benchmark") == bench))
        k_max = int(group["n"].min())
        assert got["k"].to_list() == list(range(1, k_max + 1))
        want = [np.mean(pass_at_k(group["n"].to_numpy(), group["c"].to_numpy(), k)) for k in range(1, k_max + 1)]
        np.testing.assert_allclose(got["pass_at_k"].to_numpy(), want, atol=1e-13, rtol=0)


def test_given_ks_and_other_group_columns(counts):
    curve = pass_at_k_curve(counts, ks=[8, 1, 4, 4], by=("model",))
    assert curve.columns == ["model", "k", "pass_at_k"]
    assert curve.filter(pl.col("model") == "rl")["k"].to_list() == [1, 4, 8]
    pooled = counts.filter(pl.col("model") == "rl")
    want = np.mean(pass_at_k(pooled["n"].to_numpy(), pooled["c"].to_numpy(), 8))
    assert curve.filter((pl.col("model") == "rl") & (pl.col("k") == 8))["pass_at_k"][0] == pytest.approx(
        want, abs=1e-13
    )


def test_k_beyond_the_smallest_n_names_the_problem(counts):
    short = counts.with_columns(pl.when(pl.col("problem_id") == "a3").then(8).otherwise(pl.col("n")).alias("n"))
    short = short.with_columns(pl.min_horizontal("c", "n").alias("c"))
    with pytest.raises(ValueError, match=r"k = 16 exceeds the samples available for model='base', benchmark='a'"):
        pass_at_k_curve(short, ks=[1, 16])
    # without ks, the curve stops at the smallest n of the group
    assert pass_at_k_curve(short).filter(pl.col("benchmark") == "a")["k"].max() == 8


def test_ci_brackets_the_curve_and_is_seeded(counts):
    one = pass_at_k_curve(counts, ci=0.9, n_resamples=300, seed=7)
    two = pass_at_k_curve(counts, ci=0.9, n_resamples=300, seed=7)
    other = pass_at_k_curve(counts, ci=0.9, n_resamples=300, seed=8)
    assert one.columns == ["model", "benchmark", "k", "pass_at_k", "lo", "hi"]
    assert one.equals(two)
    assert not one.equals(other)
    assert (one["lo"] <= one["pass_at_k"] + 1e-12).all()
    assert (one["pass_at_k"] <= one["hi"] + 1e-12).all()
    assert (one["hi"] - one["lo"] > 0).any()


def test_ci_equals_a_plain_loop_bootstrap(counts):
    """The weights-matrix bootstrap gives the same resampled means as resampling problems in a loop."""
    group = counts.filter((pl.col("model") == "base") & (pl.col("benchmark") == "a")).sort("problem_id")
    n, c = group["n"].to_numpy(), group["c"].to_numpy()
    ks = [1, 2, 8]
    rng = np.random.default_rng(11)
    means = []
    for _ in range(200):
        idx = rng.integers(0, len(n), len(n))
        means.append([np.mean(pass_at_k(n[idx], c[idx], k)) for k in ks])
    lo, hi = np.quantile(np.array(means), [0.025, 0.975], axis=0)
    curve = pass_at_k_curve(group, ks=ks, ci=0.95, n_resamples=200, seed=11)
    np.testing.assert_allclose(curve["lo"].to_numpy(), lo, atol=1e-12)
    np.testing.assert_allclose(curve["hi"].to_numpy(), hi, atol=1e-12)


def test_bootstrap_weights_rows_are_resamples():
    w = bootstrap_weights(50, 400, seed=0)
    assert w.shape == (400, 50)
    assert (w.sum(axis=1) == 50).all()
    assert (w >= 0).all()
    assert abs(w.mean() - 1.0) < 1e-12
    np.testing.assert_array_equal(w, bootstrap_weights(50, 400, seed=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="n_resamples must be a positive integer, got 0"):
        bootstrap_weights(5, 0, seed=0)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda df: df.drop("c"), r"missing column\(s\) \['c'\]"),
        (lambda df: df.with_columns(pl.col("n").cast(pl.Float64)), "column 'n' has type Float64"),
        (
            lambda df: df.with_columns(pl.when(pl.col("problem_id") == "a5").then(99).otherwise("c").alias("c")),
            r"c = 99 exceeds n = \d+ for problem 'a5' \(model='base', benchmark='a'\)",
        ),
        (
            lambda df: df.with_columns(pl.when(pl.col("problem_id") == "b2").then(-1).otherwise("c").alias("c")),
            "c = -1 is negative for problem 'b2'",
        ),
        (
            lambda df: df.with_columns(pl.when(pl.col("problem_id") == "b2").then(0).otherwise("n").alias("n")),
            "n = 0 < 1 for problem 'b2'",
        ),
        (lambda df: pl.concat([df, df.head(1)]), "problem 'a0' .* appears 2 times"),
        (
            lambda df: df.with_columns(pl.when(pl.col("problem_id") == "a1").then(None).otherwise("c").alias("c")),
            "column 'c' is null for 2 row",
        ),
    ],
)
def test_bad_counts_raise(counts, change, needle):
    with pytest.raises(ValueError, match=needle):
        pass_at_k_curve(change(counts))


def test_check_counts_single_n(counts):
    with pytest.raises(ValueError, match=r"mixed n where a single n is required: problem '\w+' .* has n = \d+"):
        check_counts(counts, single_n=True)
    same = counts.with_columns(pl.lit(32).alias("n"))
    assert check_counts(same, single_n=True).height == counts.height


@pytest.mark.parametrize("ci", [0, 1, 1.5, -0.1, True])
def test_bad_ci_level(counts, ci):
    with pytest.raises(ValueError, match="ci must be a confidence level"):
        pass_at_k_curve(counts, ci=ci)


def test_lazyframe_input(counts):
    assert pass_at_k_curve(counts.lazy(), ks=[1, 2]).equals(pass_at_k_curve(counts, ks=[1, 2]))
