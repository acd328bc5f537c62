"""The boundary page on a tiny synthetic toy-world study built from the toy world's own simulator."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from analysis import boundary_data
from analysis.boundary_page import boundary_page
from analysis.metrics.band import simultaneous_band
from analysis.metrics.floor import magnitude_window
from analysis.metrics.planner import samples_to_rule_out
from analysis.toyworld.config import Strategy
from analysis.toyworld.tasks import answer, codes_to_strings, count_carries, simulate, valid_solution

N_DIGITS = 2
N_SAMPLES = 32


def _responses(rng, strategies, shares, a: int, b: int, n: int) -> list[str]:
    picks = rng.choice(len(strategies), size=n, p=shares)
    out = []
    for s, strategy in enumerate(strategies):
        m = int((picks == s).sum())
        if m:
            codes = simulate(strategy, np.full(m, a), np.full(m, b), N_DIGITS, rng)
            out += codes_to_strings(codes)
    rng.shuffle(out)
    return out


def _guesses(rng, a: int, b: int, m: int) -> list[str]:
    """Answer-only responses: a sum guessed in the ``magnitude`` window (no worked solution)."""
    window = magnitude_window(a, b, N_DIGITS)
    return [f"A:{int(x):0{N_DIGITS + 1}d}" for x in rng.choice(window, size=m)]


def _toy_samples(seed: int = 0, problems: int = 40) -> pl.DataFrame:
    """base mixes careful (forgets some carries), shortcut and sloppy students and a few guesses; rl is
    careful and exact on problems with at most one carry but always drops carries on two-carry problems."""
    rng = np.random.default_rng(seed)
    a = rng.integers(10, 100, size=problems)
    b = rng.integers(10, 100, size=problems)
    carries = count_carries(a, b, N_DIGITS)
    base_mix = [
        Strategy(name="careful", share=1.0, forget=0.5, slip=0.05),
        Strategy(name="shortcut", share=1.0),
        Strategy(name="sloppy", share=1.0),
    ]
    rows = []
    for i in range(problems):
        pid = f"toyworld/{a[i]:02d}+{b[i]:02d}"
        rl_mix = [Strategy(name="careful", share=1.0, forget=1.0 if carries[i] == 2 else 0.0, slip=0.02)]
        for model, mix, shares in (("base", base_mix, [0.3, 0.5, 0.2]), ("rl", rl_mix, [1.0])):
            texts = _responses(rng, mix, shares, int(a[i]), int(b[i]), N_SAMPLES)
            if model == "base":
                texts[: N_SAMPLES // 8] = _guesses(rng, int(a[i]), int(b[i]), N_SAMPLES // 8)
            for j, text in enumerate(texts):
                extracted = text.rsplit("A:", 1)[-1]
                rows.append(
                    {
                        "model": model,
                        "benchmark": "toyworld",
                        "temperature": 1.0,
                        "problem_id": pid,
                        "sample_index": j,
                        "text": text,
                        "extracted": extracted,
                        "correct": extracted == answer(int(a[i]), int(b[i]), N_DIGITS),
                    }
                )
    return pl.DataFrame(rows).with_columns(pl.col("sample_index").cast(pl.Int32))


class FakeStudy:
    """The part of ``analysis.study.Study`` the page reads."""

    def __init__(self, samples: pl.DataFrame) -> None:
        self._samples = samples
        analysis = SimpleNamespace(ci=0.95, resamples=200, seed=0)
        self.config = SimpleNamespace(analysis=analysis, pairs=lambda: [("base", "rl")])
        self.roles = {"base": "base", "rl": "rl"}
        self.has_texts = self.has_grades = True

    def grades(self) -> pl.LazyFrame:
        return self._samples.drop("text").lazy()

    def samples(self, columns: list[str] | None = None) -> pl.LazyFrame:
        lf = self._samples.lazy()
        return lf.select(columns).with_columns(pl.lit(1.0).alias("temperature")) if columns else lf

    def counts(self) -> pl.DataFrame:
        return (
            self._samples.group_by("model", "benchmark", "temperature", "problem_id")
            .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").sum().cast(pl.Int64).alias("c"))
            .sort("model", "problem_id")
        )


@pytest.fixture(scope="module")
def samples() -> pl.DataFrame:
    return _toy_samples()


@pytest.fixture(scope="module")
def page(samples):
    return boundary_page(FakeStudy(samples), pilot_n=16, plan_candidates=(32, 64), plan_sims=4)


def test_valid_column_matches_the_toy_checker(samples):
    sols = boundary_data.solutions_table(FakeStudy(samples))
    assert sols.height == samples.height
    for row in sols.sample(300, seed=1).iter_rows(named=True):
        a, b, nd = boundary_data.parse_toy_id(row["problem_id"])
        assert row["valid"] == valid_solution(row["text"], a, b, nd)
        assert row["strategy"] == (row["text"][0] if row["text"][0] in "RLS" else "?")
    # a valid solution always gives the right answer; a right answer need not come from a valid one
    assert sols.filter(pl.col("valid") & ~pl.col("correct")).is_empty()
    assert sols.filter(pl.col("correct") & ~pl.col("valid")).height > 0


def test_band_reading_follows_the_numbers(page, samples):
    summary = page.band_summary.row(0, named=True)
    band = simultaneous_band(
        FakeStudy(samples).counts(), "rl", "base", by=("benchmark", "temperature"), n_resamples=200
    )
    assert summary["crossing certified"] == band.certified.crossing
    reading = page.readings["band"][0]
    assert reading.startswith("rl − base (toyworld at T = 1)")
    if band.certified.first_loss is not None and band.certified.first_loss[1] is not None:
        lo, hi = band.certified.first_loss
        assert f"[{lo}, {hi}]" in reading
    decisions = page.bands.filter(pl.col("decision") == "other better")["k"].to_list()
    assert (summary["other better at k"] == "none") == (not decisions)


def test_reasoning_checked_counts_never_exceed_answer_counts(page):
    curves = page.checked_curves.pivot(on="check", index=["model", "benchmark", "temperature", "k"], values="pass_at_k")
    assert (curves["answer+reasoning"] <= curves["answer"] + 1e-12).all()
    # the base's shortcut and sloppy students get some answers right by invalid means
    base = curves.filter(pl.col("model") == "base")
    assert (base["answer+reasoning"] < base["answer"]).any()
    assert set(page.checked_crossovers["check"]) == {"answer", "answer+reasoning"}
    assert "counting only valid reasoning" in page.readings["reasoning"][0]
    for row in page.checked_crossovers.iter_rows(named=True):
        assert (
            f"{row['check']}: {'certified' if row['crossing certified'] else 'not certified'}"
            in (page.readings["reasoning"][0])
        )


def test_support_shows_the_strategy_rl_keeps(page):
    strategies = page.strategies.filter(pl.col("pair") == "rl − base")
    by = {r["strategy"]: r for r in strategies.iter_rows(named=True)}
    # rl writes only careful (R) solutions: every base shortcut (L) strategy is dropped, R is kept
    assert by["L"]["kept"] == 0
    assert by["L"]["dropped"] == by["L"]["base_problems"] > 0
    assert by["R"]["kept"] > 0
    numbers = re.findall(r"R on (\d+) of (\d+)", page.readings["support"][-1])
    assert numbers == [(str(by["R"]["kept"]), str(by["R"]["base_problems"]))]
    row = page.support.filter(pl.col("grain") == "strategy").row(0, named=True)
    assert row["SRR"] == pytest.approx(row["preserved"] / (row["preserved"] + row["shrunk"]))


def test_floor_and_gpass_and_plan(page):
    assert set(page.floor["model"]) == {"base", "rl"}
    assert (page.floor["floor"] <= 1.0).all()
    grows = page.floor.sort("model", "k").select((pl.col("floor").diff().over("model") >= 0).drop_nulls())
    assert grows.to_series().all()  # the floor grows with k
    assert page.readings["floor"][0].startswith("base (toyworld at T = 1): a guesser who knows the sum's size")
    assert "within k = 32 samples" in page.readings["floor"][0]
    per_model = [r for r in page.readings["floor"] if " of its " in r]
    assert len(per_model) == 2
    for reading in per_model:
        model = reading.split(" ")[0]
        flagged, solved = map(int, re.search(r"(\d+) of its (\d+) solved problems", reading).groups())
        rows = page.floor_problems.filter(pl.col("model") == model)
        assert flagged == int(rows["explained by guessing"].sum())
        assert solved == int((rows["c"] > 0).sum())
    # the base's guesses put some of its solved problems within reach of guessing; rl never guesses
    assert page.floor_problems.filter(pl.col("model") == "base")["explained by guessing"].any()
    # the pair's reading: of the problems only the base solves, how many are at guess level for it
    (pair,) = [r for r in page.readings["floor"] if r.startswith("rl − base")]
    flags = page.floor_problems.pivot(on="model", index="problem_id", values=["c", "explained by guessing"])
    only_base = flags.filter((pl.col("c_base") > 0) & (pl.col("c_rl") == 0))
    guessed = int(only_base["explained by guessing_base"].sum())
    assert 0 < guessed < only_base.height
    assert f"Of the {only_base.height} problems only base solves, {guessed} are at guess level for base" in pair
    assert f"the other {only_base.height - guessed} it solves more often than guessing explains" in pair
    mg = page.gpass.filter(pl.col("metric") == "mG-Pass")
    assert mg["value"].is_between(0.0, 1.0).all()
    assert set(page.plan["n"]) == {32, 64}
    assert page.plan["power"].is_between(0.0, 1.0).all()
    need = samples_to_rule_out(N_SAMPLES)
    assert f"takes {need:,} samples" in page.readings["plan"][-1]
    assert page.unsolved["open after pilot"].sum() == int(
        re.search(r"leaves (\d+)", page.readings["plan"][-1]).group(1)
    )
    assert set(page.charts) >= {"band", "reasoning", "support", "floor", "gpass", "plan"}
    for chart in page.charts.values():
        chart.to_dict()


def test_a_counts_only_study_gets_the_band_and_says_what_it_skips(samples):
    study = FakeStudy(samples)
    study.has_texts = study.has_grades = False
    page = boundary_page(study, plan_sims=2)
    assert not page.bands.is_empty()
    assert page.support.is_empty()
    assert page.readings["support"][0].startswith("Skipped: this study has per-problem counts only")
