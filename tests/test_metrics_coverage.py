"""Coverage split, UpSet table, accuracy histogram and cover@τ."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.metrics import (
    ACCURACY_BINS,
    CoverageSplit,
    accuracy_histogram,
    cover_at_tau,
    coverage_split,
    pass_at_k,
    upset_table,
)

# PAPER.md section 4.2, v2 Table 4: AIME24 problems (0-based) solved at least once in 1024 samples.
AIME24_BASE = {0, 1, 4, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 18, 19, 22, 23, 24, 25, 26, 27, 28, 29}
AIME24_RL = {0, 1, 6, 7, 8, 9, 12, 14, 15, 16, 18, 22, 23, 24, 25, 26, 27, 28, 29}


def solved_counts(model: str, solved: set[int], total: int, n: int = 1024, seed: int = 0) -> pl.DataFrame:
    """A counts table where exactly the problems in ``solved`` have c > 0."""
    rng = np.random.default_rng(seed)
    cs = [int(rng.integers(1, n + 1)) if i in solved else 0 for i in range(total)]
    return pl.DataFrame(
        {"model": model, "benchmark": "aime24", "problem_id": [str(i) for i in range(total)], "n": n, "c": cs}
    )


def test_aime24_index_sets_split_19_4_0_7():
    counts = pl.concat([solved_counts("base", AIME24_BASE, 30), solved_counts("rl", AIME24_RL, 30, seed=1)])
    split = coverage_split(counts, "base", "rl")
    assert isinstance(split, CoverageSplit)
    assert split.sizes() == {"both": 19, "only_a": 4, "only_b": 0, "neither": 7}
    assert {int(i) for i in split.only_a} == {4, 11, 17, 19}
    assert {int(i) for i in split.neither} == {2, 3, 5, 10, 13, 20, 21}
    frame = split.to_frame()
    assert frame["count"].to_list() == [19, 4, 0, 7]
    np.testing.assert_allclose(frame["percent"].to_numpy(), [63.333333, 13.333333, 0.0, 23.333333], atol=1e-5)
    # the other way round swaps the one-sided groups
    assert coverage_split(counts, "rl", "base").sizes() == {"both": 19, "only_a": 0, "only_b": 4, "neither": 7}


def test_split_at_k_uses_the_pass_at_k_threshold():
    counts = pl.DataFrame(
        {
            "model": ["a"] * 4 + ["b"] * 4,
            "benchmark": "x",
            "problem_id": ["p0", "p1", "p2", "p3"] * 2,
            "n": 16,
            "c": [1, 8, 0, 16, 3, 1, 0, 2],
        }
    )
    k = 4
    split = coverage_split(counts, "a", "b", k=k)
    solved_a = {p for p, c in zip(["p0", "p1", "p2", "p3"], [1, 8, 0, 16], strict=True) if pass_at_k(16, c, k) >= 0.5}
    solved_b = {p for p, c in zip(["p0", "p1", "p2", "p3"], [3, 1, 0, 2], strict=True) if pass_at_k(16, c, k) >= 0.5}
    assert set(split.both) == solved_a & solved_b
    assert set(split.only_a) == solved_a - solved_b
    assert set(split.only_b) == solved_b - solved_a
    assert split.threshold == 0.5
    # at k = n any threshold gives the split at n
    at_n = coverage_split(counts, "a", "b")
    for threshold in (0.01, 0.5, 1.0):
        assert coverage_split(counts, "a", "b", k=16, threshold=threshold).sizes() == at_n.sizes()
    with pytest.raises(ValueError, match=r"k = 17 exceeds the samples of model 'a' on problem 'p0' \(n = 16\)"):
        coverage_split(counts, "a", "b", k=17)
    with pytest.raises(ValueError, match="threshold must be in"):
        coverage_split(counts, "a", "b", k=2, threshold=0)


def test_split_at_n_refuses_mixed_n_and_reports_unshared():
    a = solved_counts("a", {0, 1}, 4, n=8)
    b = solved_counts("b", {1, 2}, 4, n=8).with_columns(
        pl.when(pl.col("problem_id") == "3").then(4).otherwise("n").alias("n")
    )
    b = b.with_columns(pl.min_horizontal("c", "n").alias("c"))
    with pytest.raises(ValueError, match=r"mixed n where a single n is required\): model 'b' has n = 4 on problem '3'"):
        coverage_split(pl.concat([a, b]), "a", "b")
    assert coverage_split(pl.concat([a, b]), "a", "b", k=4).n_problems == 4
    extra = pl.concat([a, solved_counts("b", {1, 2}, 3, n=8)])
    split = coverage_split(extra, "a", "b")
    assert split.unshared == ("3",)
    assert split.n_problems == 3


def test_upset_table_partitions_problems():
    total = 40
    rng = np.random.default_rng(9)
    sets = {m: {i for i in range(total) if rng.random() < p} for m, p in (("m1", 0.7), ("m2", 0.5), ("m3", 0.3))}
    counts = pl.concat([solved_counts(m, s, total, n=32) for m, s in sets.items()])
    table = upset_table(counts)
    assert table.columns == ["models", "degree", "count", "problem_ids"]
    assert table["count"].sum() == total
    assert table["count"].to_list() == sorted(table["count"].to_list(), reverse=True)
    seen: set[str] = set()
    for row in table.iter_rows(named=True):
        ids = {int(p) for p in row["problem_ids"]}
        assert not (seen & {str(i) for i in ids})
        seen |= {str(i) for i in ids}
        for i in ids:
            assert [m for m in ("m1", "m2", "m3") if i in sets[m]] == row["models"]
        assert row["degree"] == len(row["models"])
        assert row["count"] == len(ids)
    two = upset_table(counts, ["m2", "m1"])
    split = coverage_split(counts, "m2", "m1")
    by_models = {tuple(r["models"]): r["count"] for r in two.iter_rows(named=True)}
    assert by_models.get(("m2", "m1"), 0) == len(split.both)
    assert by_models.get(("m2",), 0) == len(split.only_a)
    assert by_models.get((), 0) == len(split.neither)
    with pytest.raises(ValueError, match=r"model\(s\) \['zz'\] are not in the counts table"):
        upset_table(counts, ["m1", "zz"])


def counts_with(cs: list[int], n: int | list[int]) -> pl.DataFrame:
    ns = n if isinstance(n, list) else [n] * len(cs)
    return pl.DataFrame(
        {"model": "m", "benchmark": "x", "problem_id": [f"p{i}" for i in range(len(cs))], "n": ns, "c": cs}
    )


def test_histogram_bin_edges_are_exact():
    # accuracies: 0, 0.1, 0.1+, 0.3 (edge), 0.9 (edge), 0.95, 1, and 1/3 with n = 3
    counts = counts_with([0, 1, 11, 3, 9, 19, 10, 1], [10, 10, 100, 10, 10, 20, 10, 3])
    hist = accuracy_histogram(counts)
    assert hist.columns == ["model", "benchmark", "bin", "count", "percent"]
    assert hist["bin"].to_list() == list(ACCURACY_BINS)
    got = dict(zip(hist["bin"], hist["count"], strict=True))
    assert got == {
        "0": 1,
        "(0, 0.1]": 1,
        "(0.1, 0.2]": 1,
        "(0.2, 0.3]": 1,
        "(0.3, 0.4]": 1,
        "(0.4, 0.5]": 0,
        "(0.5, 0.6]": 0,
        "(0.6, 0.7]": 0,
        "(0.7, 0.8]": 0,
        "(0.8, 0.9]": 1,
        "(0.9, 1)": 1,
        "1": 1,
    }
    assert hist["percent"].sum() == pytest.approx(100.0)


def test_histogram_one_block_per_group():
    counts = pl.concat([counts_with([0, 5], 10), counts_with([10], 10).with_columns(pl.lit("k").alias("model"))])
    hist = accuracy_histogram(counts, by="model")
    assert hist.height == 24
    assert hist.filter(pl.col("model") == "k")["count"].to_list() == [0] * 11 + [1]
    assert hist.filter(pl.col("model") == "m")["percent"].to_list()[0] == 50.0


def test_cover_at_tau():
    counts = counts_with([0, 1, 4, 8, 8], 8)
    cover = cover_at_tau(counts, [0.0, 1 / 8, 0.5, 1.0, 0.9])
    assert cover.columns == ["model", "benchmark", "tau", "cover"]
    got = dict(zip(cover["tau"], cover["cover"], strict=True))
    assert got == {0.0: 1.0, 0.125: 0.8, 0.5: 0.6, 0.9: 0.4, 1.0: 0.4}
    assert cover["tau"].to_list() == sorted(cover["tau"].to_list())
    with pytest.raises(ValueError, match="tau must be in"):
        cover_at_tau(counts, [1.5])
    with pytest.raises(ValueError, match="tau must be in"):
        cover_at_tau(counts, [float("nan")])
