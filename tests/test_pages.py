"""The report's chart builders on synthetic inputs (outcomes and answer text: tests/test_findings.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import charts
from analysis import metrics as M


@pytest.fixture(scope="module")
def counts() -> pl.DataFrame:
    rows = []
    for i in range(40):
        base_c = (i * 7) % 17
        rl_c = 16 if base_c > 4 else 0
        rows += [
            {"model": "base", "benchmark": "toy", "temperature": 1.0, "problem_id": f"p{i}", "n": 16, "c": base_c},
            {"model": "rl", "benchmark": "toy", "temperature": 1.0, "problem_id": f"p{i}", "n": 16, "c": rl_c},
        ]
    return pl.DataFrame(rows)


def test_chart_builders_render(counts, tmp_path):
    roles = {"base": "base", "rl": "rl"}
    curves = M.pass_at_k_curve(counts, by=("model", "benchmark", "temperature"), ci=0.9, n_resamples=50)
    diff = M.paired_difference(counts, "rl", "base", by=("benchmark", "temperature"), ci=0.9, n_resamples=50)
    hist = M.accuracy_histogram(counts, by=("model", "benchmark", "temperature"))
    upset = M.upset_table(counts, ["base", "rl"], by=("benchmark", "temperature"))
    built = [
        charts.passk_chart(curves, roles),
        charts.difference_chart(diff),
        charts.histogram_chart(hist, roles),
        charts.upset_chart(upset, ["base", "rl"]),
    ]
    for i, chart in enumerate(built):
        png = charts.save_png(chart, tmp_path / f"{i}.png").read_bytes()
        assert png[:4] == b"\x89PNG"


def test_log_spaced_ks_keep_small_ks_powers_of_two_and_the_end():
    ks = charts.log_spaced_ks(1024)
    assert ks[:16] == list(range(1, 17))
    assert {32, 64, 128, 256, 512, 1024} <= set(ks)
    assert len(ks) < 80
    assert charts.log_spaced_ks(5) == [1, 2, 3, 4, 5]


def test_perplexity_chart_ships_box_statistics_not_every_response(tmp_path):
    rng = np.random.default_rng(0)
    rows = 12_000  # more than Altair's 5000-row limit for embedded data
    scores = pl.DataFrame(
        {
            "benchmark": rng.choice(["a", "b"], rows),
            "scorer": "base",
            "generator": rng.choice(["base", "rl", "distill"], rows),
            "ppl": 1 + rng.exponential(0.5, rows),
        }
    )
    chart = charts.perplexity_chart(scores, {"base": "base", "rl": "rl", "distill": "distill"})
    spec = chart.to_dict()
    embedded = sum(len(v) for v in spec.get("datasets", {}).values())
    assert embedded == 6  # 2 benchmarks x 3 (scorer, generator) pairs
    (box,) = [r for v in spec["datasets"].values() for r in v if r["benchmark"] == "a" and r["generator"] == "rl"]
    sel = scores.filter((pl.col("benchmark") == "a") & (pl.col("generator") == "rl"))["ppl"].to_numpy()
    assert box["median"] == pytest.approx(np.median(sel))
    assert box["q1"] == pytest.approx(np.quantile(sel, 0.25))
    assert box["max"] == pytest.approx(sel.max())
    assert box["responses"] == len(sel)
    assert charts.save_png(chart, tmp_path / "ppl.png").read_bytes()[:4] == b"\x89PNG"
