"""Adaptive top-up (analysis.sampling.top_up) with the hf backend and a tiny local model, and the
statistics that make its samples usable: pass@k with unequal n per problem, pooled vs fresh."""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import binom

from analysis import schemas
from analysis.metrics import counts_from_grades, pass_at_k, pass_at_k_curve
from analysis.metrics.planner import unsolved_plan
from analysis.sampling import (
    SamplingConfig,
    SamplingError,
    load_samples,
    open_backend,
    read_run_config,
    run_sampling,
    topup,
    topup_lineage,
)
from analysis.sampling import fill as fill_module
from analysis.sampling import top_up as topup_module
from analysis.sampling.identity import run_hash
from analysis.sampling.top_up import resolve_extras, topup_seed
from analysis.store import MARKER_NAME
from analysis.tinymodel import build_tiny_model


def toy_problems(count: int) -> pl.DataFrame:
    rng = random.Random(0)
    rows = []
    for i in range(count):
        a, b = rng.randrange(100, 1000), rng.randrange(100, 1000)
        rows.append(("toy", f"toy/{i}", i, f"Q:{a}+{b}=", [str(a + b)], None, "{}"))
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


def cfg(model: Path, **over) -> SamplingConfig:
    base = {
        "backend": "hf",
        "model": str(model),
        "benchmark": "toy",
        "template": "plain",
        "n": 4,
        "seeds": (0, 1),
        "chunk_size": 3,
        "max_tokens": 12,
        "batch_size": 6,
        "device": "cpu",
    }
    base.update(over)
    return SamplingConfig(**base)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def problems() -> pl.DataFrame:
    return toy_problems(4)


@pytest.fixture(scope="module")
def parent(tiny, problems, tmp_path_factory) -> Path:
    """A finished pilot: 4 problems x 8 samples (n = 4, two seeds)."""
    return run_sampling(cfg(tiny), tmp_path_factory.mktemp("runs"), problems=problems, progress=False)


def table(*run_dirs: Path) -> pl.DataFrame:
    return load_samples(list(run_dirs)).collect().sort("problem_id", "sample_index")


def indices(frame: pl.DataFrame) -> dict[str, list[int]]:
    return {pid: part["sample_index"].to_list() for (pid,), part in frame.group_by("problem_id", maintain_order=True)}


class Loaded(Exception):
    """A tokenizer or model was loaded where nothing should be."""


def forbid_loading(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise Loaded("a tokenizer or model was loaded")

    monkeypatch.setattr(fill_module, "load_tokenizer", forbidden)
    monkeypatch.setattr(fill_module, "sample_chunks", forbidden)


# --- the engine -------------------------------------------------------------------------------------


def test_topup_continues_indices_and_names_its_run(tiny, problems, parent, monkeypatch):
    extras = {"toy/0": 5, "toy/2": 3}
    child = topup(parent, extras, problems=problems, progress=False)
    assert child.parent == parent.parent
    new = table(child)
    assert indices(new) == {"toy/0": list(range(8, 13)), "toy/2": list(range(8, 11))}
    assert new["run_hash"].unique().to_list() == [child.name]
    assert new["model"].unique().to_list() == ["tiny"]
    # chunks of 3 from the first new index, seeded by (root seed, problem, first index of the chunk)
    starts = new.filter(pl.col("sample_index").is_in([8, 11]))
    assert starts["seed"].to_list() == [
        topup_seed(0, pid, i) for pid, i in starts.select("problem_id", "sample_index").rows()
    ]
    assert not set(new["seed"]) & set(table(parent)["seed"])

    record = read_run_config(child)
    assert record["identity"] == {
        "format": topup_module.FORMAT,
        "parent": parent.name,
        "extra": [["toy/0", 5], ["toy/2", 3]],
    }
    assert child.name == run_hash(record["identity"])
    section = record["topup"]
    assert (section["parent"], section["root"], section["root_samples_per_problem"]) == (parent.name, parent.name, 8)
    assert section["first_index"] == {"toy/0": 8, "toy/2": 8}
    assert section["next_index"] == {"toy/0": 13, "toy/2": 11}
    assert json.loads((child / MARKER_NAME).read_text())["topup_of"] == parent.name

    # pooled with its parent: unequal n per problem, indices 0..n-1, and the counts table sees them
    pooled = table(*topup_lineage(child))
    assert {pid: len(ix) for pid, ix in indices(pooled).items()} == {"toy/0": 13, "toy/1": 8, "toy/2": 11, "toy/3": 8}
    assert all(ix == list(range(len(ix))) for ix in indices(pooled).values())
    grades = pooled.with_columns(pl.col("text").str.contains("1").alias("correct"))
    counts = counts_from_grades(grades)
    assert counts["n"].to_list() == [13, 8, 11, 8]
    assert counts["c"].to_list() == [
        int(grades.filter(pl.col("problem_id") == p)["correct"].sum()) for p in counts["problem_id"]
    ]

    # the same extras again: the same finished folder, nothing loaded; other extras: another run
    forbid_loading(monkeypatch)
    assert topup(parent, dict(reversed(extras.items())), problems=problems, progress=False) == child
    plan = pl.DataFrame(
        {
            "model": ["tiny", "tiny", "other"],
            "benchmark": "toy",
            "problem_id": ["toy/0", "toy/2", "toy/1"],
            "extra": [5, 3, 9],
        }
    )
    assert topup(parent, plan, problems=problems, progress=False) == child  # rows of another model are ignored
    with pytest.raises(Loaded):
        topup(parent, {"toy/0": 5, "toy/2": 4}, problems=problems, progress=False)


def test_a_topup_of_a_topup_continues_the_lineage(tiny, problems, parent):
    child = topup(parent, {"toy/0": 5, "toy/2": 3}, problems=problems, progress=False)
    grand = topup(child, {"toy/0": 2, "toy/1": 1, "toy/3": 3}, problems=problems, progress=False)
    assert indices(table(grand)) == {"toy/0": [13, 14], "toy/1": [8], "toy/3": [8, 9, 10]}
    assert topup_lineage(grand) == [parent, child, grand]
    assert read_run_config(grand)["topup"]["root"] == parent.name
    pooled = table(*topup_lineage(grand))
    assert {pid: len(ix) for pid, ix in indices(pooled).items()} == {"toy/0": 15, "toy/1": 9, "toy/2": 11, "toy/3": 11}
    assert all(ix == list(range(len(ix))) for ix in indices(pooled).values())
    # seeds follow the sample index, not the top-up: 3 then 3 more draws the seeds of 6 at once
    great = topup(grand, {"toy/3": 3}, problems=problems, progress=False)
    at_once = topup(parent, {"toy/3": 6}, problems=problems, progress=False)
    chained = pl.concat([table(grand), table(great)]).filter(pl.col("problem_id") == "toy/3").sort("sample_index")
    assert chained["seed"].to_list() == table(at_once)["seed"].to_list()
    # a parent moved away is found where it was when the child was made; a lost one is named
    moved = parent.parent.parent / "elsewhere" / child.name
    moved.parent.mkdir()
    shutil.copytree(child, moved)
    assert topup_lineage(moved) == [parent, moved]
    lost = parent.parent.parent / "alone" / grand.name  # copied from another machine, without its parents
    shutil.copytree(grand, lost)
    record = read_run_config(lost)
    record["topup"]["parent_dir"] = "/nowhere/" + child.name
    (lost / "config.json").write_text(json.dumps(record))
    with pytest.raises(SamplingError, match=f"tops up run {child.name}, found neither"):
        topup_lineage(lost)


class PowerCut:
    """The real backend, until the lights go out after ``calls`` generate calls."""

    def __init__(self, backend, calls: int) -> None:
        self.inner, self.calls = backend, calls
        self.name, self.engine_key = backend.name, backend.engine_key

    def generate(self, requests, params, progress=None):
        if self.calls == 0:
            raise RuntimeError("power cut")
        self.calls -= 1
        return self.inner.generate(requests, params, progress)

    def close(self) -> None:
        self.inner.close()


def test_an_interrupted_topup_resumes_to_the_uninterrupted_table(tiny, problems, parent, tmp_path):
    extras = {"toy/0": 7, "toy/1": 4, "toy/3": 9}  # 8 chunks of <= 3 in 4 parts of <= 6 samples
    reference = topup(parent, extras, tmp_path / "ref", problems=problems, progress=False)
    backend = PowerCut(open_backend(cfg(tiny)), calls=2)
    with pytest.raises(RuntimeError, match="power cut"):
        topup(parent, extras, tmp_path / "cut", problems=problems, backend=backend, progress=False)
    cut = tmp_path / "cut" / reference.name
    written = sorted(p.name for p in cut.glob("part-*.parquet"))
    assert len(written) == 2
    assert not (cut / MARKER_NAME).exists()
    (cut / ".part-0000005-0000006.parquet.x.tmp").write_bytes(b"half a file")  # a write killed midway
    with pytest.raises(SamplingError, match="is not a finished run"):
        load_samples(cut)
    with pytest.raises(SamplingError, match="not finished; finish it"):
        topup(cut, {"toy/0": 1}, problems=problems, progress=False)
    resumed = topup(parent, extras, tmp_path / "cut", problems=problems, progress=False)
    assert resumed == cut
    assert table(resumed).equals(table(reference))
    assert not list(cut.glob(".*.tmp"))
    marker = json.loads((cut / MARKER_NAME).read_text())
    assert marker["samples"] == 20
    assert marker["new_samples"] == 20 - sum(pl.read_parquet(cut / name).height for name in written)


def test_bad_input_fails_before_loading_and_writes_nothing(tiny, problems, parent, tmp_path, monkeypatch):
    forbid_loading(monkeypatch)
    out = tmp_path / "out"
    cases = [
        ({"toy/9": 3}, {}, r"has no problem\(s\) \['toy/9'\]"),
        ({"toy/0": -1}, {}, "extra samples of problem 'toy/0' must be a non-negative int, got -1"),
        ({"toy/0": 1.5}, {}, "must be a non-negative int, got 1.5"),
        ({"toy/0": 0}, {}, "nothing to top up"),
        ({"toy/0": 1}, {"at_least": -2}, "at_least must be a non-negative int"),
        (pl.DataFrame({"problem_id": ["toy/0"], "m": [1]}), {}, r"lacks column\(s\) \['extra'\]"),
        (pl.DataFrame({"problem_id": ["toy/0", "toy/0"], "extra": [1, 2]}), {}, "names problem 'toy/0' more than once"),
        (
            {"toy/0": 1},
            {"problems": problems.with_columns(pl.lit("Q:1+1=").alias("question"))},
            "not to the recorded run",
        ),
    ]
    for extra, kwargs, message in cases:
        kwargs = {"problems": problems, **kwargs}
        with pytest.raises(SamplingError, match=message):
            topup(parent, extra, out, progress=False, **kwargs)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(parent, unfinished)
    (unfinished / MARKER_NAME).unlink()
    with pytest.raises(SamplingError, match="is not finished"):
        topup(unfinished, {"toy/0": 1}, out, problems=problems, progress=False)
    with pytest.raises(SamplingError, match="not a sampling run folder"):
        topup(tmp_path, {"toy/0": 1}, out, problems=problems, progress=False)
    assert not out.exists()
    assert resolve_extras({"b": 2}, ["a", "b", "c"], at_least=1) == {"a": 1, "b": 2, "c": 1}


# --- pass@k with unequal n ----------------------------------------------------------------------------


def test_the_estimator_is_the_average_over_k_subsets():
    """Brute force: pass@k of (n, c) is the share of the k-subsets of the n samples that hold a success."""
    rng = random.Random(1)
    for n in range(1, 10):
        outcomes = [rng.random() < 0.3 for _ in range(n)]
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(outcomes, k))
            assert pass_at_k(n, sum(outcomes), k) == pytest.approx(sum(map(any, subsets)) / len(subsets), abs=1e-12)


def test_unequal_fixed_n_is_unbiased_exactly():
    """E[mean over problems of pass@k(n_i, C_i, k)] = mean of 1 − (1 − p_i)^k, C_i ~ Binomial(n_i, p_i)."""
    p = np.array([0.0, 0.004, 0.03, 0.2, 0.55, 0.97])
    n = np.array([8, 13, 64, 9, 200, 33])
    for k in (1, 3, 8):
        expected = np.mean(
            [
                binom.pmf(np.arange(ni + 1), ni, pi) @ pass_at_k(ni, np.arange(ni + 1), k)
                for pi, ni in zip(p, n, strict=True)
            ]
        )
        assert expected == pytest.approx(np.mean(1 - (1 - p) ** k), abs=1e-12)


def _grades(rng: np.random.Generator, p: np.ndarray, n: np.ndarray) -> pl.DataFrame:
    """A grades table: problem i gets n[i] samples, each correct with probability p[i]."""
    pid = np.repeat(np.arange(p.size), n)
    return pl.DataFrame(
        {
            "model": "m",
            "benchmark": "b",
            "problem_id": [f"p{i:03d}" for i in pid],
            "sample_index": np.concatenate([np.arange(m) for m in n]).astype(np.int32),
            "correct": rng.random(pid.size) < p[pid],
        }
    )


def test_counts_tables_with_unequal_n_are_unbiased_monte_carlo():
    """Known law of success rates, unequal n fixed in advance; the whole path grades -> counts -> curve."""
    rng = np.random.default_rng(7)
    p = np.where(rng.random(60) < 0.3, 0.0, rng.beta(0.4, 2.0, 60))
    n = np.tile([8, 16, 40, 11], 15)
    ks = [1, 4, 8]
    truth = np.array([np.mean(1 - (1 - p) ** k) for k in ks])
    reps = []
    for _ in range(300):
        counts = counts_from_grades(_grades(rng, p, n))
        assert counts["n"].to_list() == n.tolist()
        reps.append(pass_at_k_curve(counts, ks)["pass_at_k"].to_numpy())
    reps = np.array(reps)
    se = reps.std(axis=0, ddof=1) / math.sqrt(len(reps))
    assert np.all(np.abs(reps.mean(axis=0) - truth) < 4 * se), (reps.mean(axis=0), truth, se)
    with pytest.raises(ValueError, match=r"k = 9 exceeds the samples available.*has n = 8"):
        pass_at_k_curve(counts, [9])


def test_planner_extras_bias_pooled_estimates_and_fresh_ones_stay_unbiased():
    """Pilot of 8, then the planner's extras (more where the pilot saw no success), at least k for all.

    From the top-up alone (n_i = its extra, fixed once the pilot is known) pass@k is unbiased;
    pooled with the pilot it is biased upwards. Monte Carlo on a known law of success rates.
    """
    rng = np.random.default_rng(3)
    size, pilot_n, k = 200, 8, 8
    p = np.where(rng.random(size) < 0.2, 0.0, rng.beta(0.3, 3.0, size))
    ids = [f"p{i:03d}" for i in range(size)]
    truth = float(np.mean(1 - (1 - p) ** k))
    fresh, pooled = [], []
    for _ in range(150):
        c0 = rng.binomial(pilot_n, p)
        pilot = pl.DataFrame({"model": "m", "benchmark": "b", "problem_id": ids, "n": pilot_n, "c": c0})
        plan = unsolved_plan(pilot, k, epsilon=0.3, confidence=0.8)
        extras = resolve_extras(plan, ids, model="m", benchmark="b", at_least=k)
        m = np.array([extras[i] for i in ids])
        assert set(m.tolist()) == {k, 37 - pilot_n}  # 37 = samples_to_rule_out(8, epsilon=0.3, confidence=0.8)
        c1 = rng.binomial(m, p)
        fresh.append(np.mean(pass_at_k(m, c1, k)))
        pooled.append(np.mean(pass_at_k(pilot_n + m, c0 + c1, k)))
    fresh, pooled = np.array(fresh), np.array(pooled)
    se_fresh, se_pooled = (x.std(ddof=1) / math.sqrt(x.size) for x in (fresh, pooled))
    assert abs(fresh.mean() - truth) < 4 * se_fresh, (fresh.mean(), truth, se_fresh)
    assert pooled.mean() - truth > 6 * se_pooled, (pooled.mean(), truth, se_pooled)
