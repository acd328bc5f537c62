"""The simultaneous band: brute-force resampling, coverage, certification, and passk-inference agreement."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.metrics.band import band_from_rows, certify, quantile_mc_interval, ranges_text, simultaneous_band
from analysis.metrics.bootstrap import bootstrap_weights
from analysis.metrics.passk import pass_at_k


@pytest.fixture(scope="module")
def pki():
    """passk-inference 0.3.1 (the dev extra): the reference implementation of the band."""
    return pytest.importorskip("passk_inference", reason="passk-inference (the dev extra) is the cross-check reference")


def _counts(c_base, c_other, n) -> pl.DataFrame:
    rows = []
    for i, (cb, co) in enumerate(zip(c_base, c_other, strict=True)):
        rows.append({"model": "base", "benchmark": "b", "problem_id": f"p{i:04d}", "n": int(n), "c": int(cb)})
        rows.append({"model": "rl", "benchmark": "b", "problem_id": f"p{i:04d}", "n": int(n), "c": int(co)})
    return pl.DataFrame(rows)


def _crossing_counts(seed: int = 0, problems: int = 300, n: int = 64):
    """RL sharpens: higher rate where the base is decent, zero on the base's hard problems."""
    rng = np.random.default_rng(seed)
    p_base = rng.beta(0.4, 1.2, size=problems)
    p_rl = np.where(p_base > 0.08, np.minimum(1.0, p_base * 1.8 + 0.05), 0.0)
    return rng.binomial(n, p_base), rng.binomial(n, p_rl), n


def test_resampling_matches_a_brute_force_loop():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(37, 5))
    ks = np.arange(1, 6)
    core = band_from_rows(rows, ks, n_resamples=300, seed=11)
    # brute force: the same draws (batches of 128 from one generator), one resample at a time
    gen = np.random.default_rng(11)
    mean = rows.mean(axis=0)
    se = rows.std(axis=0, ddof=1) / np.sqrt(37)
    maxima = []
    for start in range(0, 300, 128):
        for w in bootstrap_weights(37, min(128, 300 - start), gen):
            resampled = np.repeat(rows, w, axis=0).mean(axis=0)
            maxima.append(np.max(np.abs(resampled - mean) / se))
    np.testing.assert_allclose(core.maxima, maxima, rtol=1e-10)
    assert core.critical == pytest.approx(np.quantile(maxima, 0.95))
    np.testing.assert_allclose(core.lo, mean - core.critical * se)


def test_distinct_rows_give_the_same_band_as_one_row_per_problem():
    rng = np.random.default_rng(5)
    distinct = rng.normal(size=(6, 4))
    inverse = rng.integers(0, 6, size=50)
    for method in ("bootstrap", "multiplier"):
        grouped = band_from_rows(distinct, np.arange(1, 5), inverse=inverse, n_resamples=200, seed=2, method=method)
        full = band_from_rows(distinct[inverse], np.arange(1, 5), n_resamples=200, seed=2, method=method)
        np.testing.assert_allclose(grouped.maxima, full.maxima, rtol=1e-10)
        np.testing.assert_allclose(grouped.hi, full.hi, rtol=1e-10)


def test_band_covers_the_true_curve_jointly():
    """Problems drawn from a known population: the whole population difference curve lies inside the
    band in about ``level`` of the studies, while the pointwise 95% intervals miss somewhere along the
    curve more often."""
    rng = np.random.default_rng(0)
    problems, n, ks = 150, 32, np.arange(1, 33)

    def rates(size):
        p_b = rng.beta(0.5, 1.5, size=size)
        return p_b, np.where(p_b > 0.1, np.minimum(1.0, 1.5 * p_b), 0.5 * p_b)

    big_b, big_o = rates(1_000_000)
    truth = np.array([np.mean((1 - big_b) ** k - (1 - big_o) ** k) for k in ks])
    inside = pointwise = 0
    reps = 80
    for rep in range(reps):
        p_b, p_o = rates(problems)
        cb, co = rng.binomial(n, p_b), rng.binomial(n, p_o)
        rows = pass_at_k(n, co[:, None], ks[None, :]) - pass_at_k(n, cb[:, None], ks[None, :])
        core = band_from_rows(rows, ks, n_resamples=400, seed=rep)
        inside += bool(np.all((core.lo <= truth) & (truth <= core.hi)))
        pointwise += bool(np.all(np.abs(core.diff - truth) <= 1.96 * core.se))
    assert inside / reps >= 0.85
    assert pointwise < inside


def test_certify_reads_gains_losses_and_the_first_loss():
    ks = np.arange(1, 9)
    lo = np.array([0.1, 0.05, 0.01, -0.02, -0.1, -0.2, -0.3, -0.3])
    hi = np.array([0.3, 0.2, 0.1, 0.05, 0.02, -0.01, -0.05, -0.1])
    c = certify(ks, lo, hi)
    assert c.gains == [1, 2, 3]
    assert c.losses == [6, 7, 8]
    assert c.crossing
    assert c.first_loss == (4, 6)
    none = certify(ks, lo, np.abs(hi) + 1)
    assert none.first_loss == (4, None)
    assert not none.crossing
    sparse = certify(np.array([1, 2, 4, 8]), lo[:4], hi[:4])
    assert sparse.first_loss is None
    assert ranges_text([1, 2, 3, 6, 8, 9]) == "1–3, 6, 8–9"


def test_constant_columns_get_the_known_bounds():
    counts = _counts([8] * 10, [8] * 10, 8)  # every problem always solved: the difference is 0 at every k
    band = simultaneous_band(counts, "rl", "base", n_resamples=100)
    assert (band.table["lo"] == -1.0).all()
    assert (band.table["hi"] == 1.0).all()
    assert band.reading().startswith("The simultaneous 95% band certifies no sign")


def test_input_errors():
    with pytest.raises(ValueError, match="at least 2 problems"):
        band_from_rows(np.ones((1, 3)), np.arange(1, 4))
    with pytest.raises(ValueError, match="method"):
        band_from_rows(np.ones((3, 3)), np.arange(1, 4), method="jackknife")  # type: ignore[arg-type]
    two_benchmarks = pl.concat(
        [_counts([1, 2], [2, 1], 4), _counts([1, 2], [2, 1], 4).with_columns(benchmark=pl.lit("x"))]
    )
    with pytest.raises(ValueError, match="filter the table first"):
        simultaneous_band(two_benchmarks, "rl", "base")


def _pki(pki, c_base, c_other, n, **kw):
    return pki.compare(np.asarray(c_base), np.full(len(c_base), n), np.asarray(c_other), np.full(len(c_base), n), **kw)


def _agree(band, ref) -> None:
    """Same certified decisions under the same multiplier draws, band edges equal to rounding."""
    np.testing.assert_allclose(band.table["diff"].to_numpy(), ref["mean"], atol=1e-12)
    np.testing.assert_allclose(band.table["lo"].to_numpy(), ref["lower"], atol=1e-9)
    np.testing.assert_allclose(band.table["hi"].to_numpy(), ref["upper"], atol=1e-9)
    c = band.certified
    assert c.crossing == ref["certified_crossing"]
    assert c.gains == ref["certified_positive_budgets"]
    assert c.losses == ref["certified_negative_budgets"]
    assert list(c.first_loss or []) == list(ref["first_loss_interval"] or [])


def _within_mc(boot, mult) -> None:
    """The paired-bootstrap band and the multiplier band differ by no more than Monte Carlo error:
    the critical values' Monte Carlo intervals overlap, and decisions agree wherever the edge is
    further from 0 than the critical-value spread times the standard error."""
    (b_lo, b_hi), (m_lo, m_hi) = boot.critical_mc, mult.critical_mc
    assert b_lo <= m_hi, (boot.critical_mc, mult.critical_mc)
    assert m_lo <= b_hi, (boot.critical_mc, mult.critical_mc)
    spread = max(b_hi, m_hi) - min(b_lo, m_lo)
    se = boot.table["se"].to_numpy()
    diff = boot.table["diff"].to_numpy()
    clear = np.abs(np.abs(diff) - boot.critical * se) > spread * se
    same = boot.table["decision"].to_numpy() == mult.table["decision"].to_numpy()
    assert same[clear].all()
    assert clear.mean() > 0.5


def test_agrees_with_passk_inference_on_synthetic_counts(pki):
    cb, co, n = _crossing_counts()
    counts = _counts(cb, co, n)
    mult = simultaneous_band(counts, "rl", "base", n_resamples=2000, seed=4, method="multiplier")
    _agree(mult, _pki(pki, cb, co, n, bootstrap=2000, seed=4))
    assert mult.certified.crossing
    boot = simultaneous_band(counts, "rl", "base", n_resamples=2000, seed=4)
    _within_mc(boot, mult)


def _math500(reference_dir):
    folder = reference_dir / "math500-qwen2.5-7b-vs-simplerl"
    path = folder / "per_problem_correct_counts.csv"
    if not path.is_file():
        pytest.skip(f"the MATH500 per-problem counts are not at {path}")
    return pl.read_csv(path).sort("unique_id")


def test_math500_band_and_first_loss_agree_with_passk_inference(reference_dir, pki):
    df = _math500(reference_dir)
    counts = pl.concat(
        [
            df.select(
                pl.lit(model).alias("model"),
                pl.lit("math500").alias("benchmark"),
                pl.col("unique_id").alias("problem_id"),
                pl.col("n_samples").alias("n"),
                pl.col(column).alias("c"),
            )
            for model, column in (("base", "base_correct"), ("simplerl", "simplerl_correct"))
        ]
    )
    n = int(df["n_samples"][0])
    ref = _pki(pki, df["base_correct"].to_numpy(), df["simplerl_correct"].to_numpy(), n, bootstrap=4000, seed=0)
    mult = simultaneous_band(counts, "simplerl", "base", n_resamples=4000, seed=0, method="multiplier")
    _agree(mult, ref)
    boot = simultaneous_band(counts, "simplerl", "base", n_resamples=4000, seed=0)
    _within_mc(boot, mult)
    # SimpleRL-Zoo is certified better at small k and the base at large k; the first loss is bracketed
    lo, hi = boot.first_loss
    assert boot.certified.crossing
    assert 1 < lo <= hi < n
    assert boot.certified.gains[0] == 1
    assert boot.certified.losses[-1] == n
    assert f"the first loss lies in [{lo}, {hi}]" in boot.reading()


def test_quantile_mc_interval_brackets_the_quantile():
    draws = np.random.default_rng(0).normal(size=4000)
    lo, hi = quantile_mc_interval(draws, 0.95)
    assert lo < np.quantile(draws, 0.95) < hi
    assert lo < 1.645 < hi
