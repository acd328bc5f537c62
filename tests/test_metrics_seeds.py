"""The interval over training seeds and problems (``analysis.metrics.seeds``)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.metrics import paired_difference, pass_at_k
from analysis.metrics.seeds import recipe_difference


def _counts(rng, models: dict[str, float], problems: int = 60, n: int = 16) -> pl.DataFrame:
    difficulty = rng.random(problems)
    rows = []
    for model, skill in models.items():
        cs = rng.binomial(n, np.clip(difficulty * skill, 0, 1))
        rows += [
            {"model": model, "benchmark": "b", "problem_id": f"p{i}", "n": n, "c": int(c)} for i, c in enumerate(cs)
        ]
    return pl.DataFrame(rows)


def test_point_estimate_is_the_mean_of_the_seeds_differences():
    rng = np.random.default_rng(1)
    counts = _counts(rng, {"base": 1.0, "s0": 1.3, "s1": 0.9, "s2": 1.1})
    out = recipe_difference(counts, "base", ["s0", "s1", "s2"], [1, 4, 16], n_resamples=100)
    for k, diff in zip(out["k"], out["diff"], strict=True):
        means = []
        for m in ("s0", "s1", "s2"):
            a = counts.filter(pl.col("model") == m)
            b = counts.filter(pl.col("model") == "base")
            means.append(np.mean(pass_at_k(a["n"], a["c"], k)) - np.mean(pass_at_k(b["n"], b["c"], k)))
        assert diff == pytest.approx(np.mean(means), abs=1e-12)


def test_one_seed_equals_the_problems_only_paired_bootstrap():
    rng = np.random.default_rng(2)
    counts = _counts(rng, {"base": 1.0, "s0": 1.2})
    ours = recipe_difference(counts, "base", ["s0"], [1, 2, 8], n_resamples=400, seed=5)
    ref = paired_difference(counts, "s0", "base", ks=[1, 2, 8], n_resamples=400, seed=5, by=("benchmark",))
    assert np.allclose(ours["diff"], ref["diff"])
    # the same resample draws: identical bounds
    assert np.allclose(ours["lo"], ref["lo"])
    assert np.allclose(ours["hi"], ref["hi"])


def test_resampling_seeds_widens_the_interval_when_seeds_disagree():
    rng = np.random.default_rng(3)
    counts = _counts(rng, {"base": 1.0, "s0": 1.6, "s1": 0.5, "s2": 1.0}, problems=200)
    kw = {"n_resamples": 500, "seed": 0}
    both = recipe_difference(counts, "base", ["s0", "s1", "s2"], [1], **kw)
    fixed = recipe_difference(counts, "base", ["s0", "s1", "s2"], [1], resample_seeds=False, **kw)
    assert (both["hi"][0] - both["lo"][0]) > 2 * (fixed["hi"][0] - fixed["lo"][0])


def test_bad_input_is_named():
    counts = _counts(np.random.default_rng(0), {"base": 1.0, "s0": 1.0})
    with pytest.raises(ValueError, match="at least one member"):
        recipe_difference(counts, "base", [], [1])
    with pytest.raises(ValueError, match="has no counts"):
        recipe_difference(counts, "base", ["nope"], [1])
    with pytest.raises(ValueError, match=r"k must lie in 1\.\.16"):
        recipe_difference(counts, "base", ["s0"], [32])
