"""The six-algorithm experiment runner (analysis.toyworld.algo_grid) and its page."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis.findings import OUTCOMES
from analysis.pages.toyworld_algorithms import PAPER, paper_table, side_by_side, toyworld_algorithms_page, verdict
from analysis.toyworld.algo_grid import delta_se, load_algo_results, run_algo_grid, stale_reasons
from analysis.toyworld.algo_runs import family_code_version
from analysis.toyworld.config import code_version
from analysis.toyworld.results import RESULTS_DIR, load_results

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """The runner on the minimal world: three algorithms, two RL steps, n = 8 at T = 1."""
    tmp = tmp_path_factory.mktemp("algo_grid")
    config = tmp / "algos.yaml"
    config.write_text(
        f"extends: {REPO / 'configs/toyworld/minimal.yaml'}\n"
        "name: minimal-algos\nrl: {_replace: true}\ndistill: null\n"
        "algorithms:\n  algorithms: [grpo, ppo, dapo]\n"
        "  rl: {prompt_carries: {0: 3, 1: 1}, steps: 2, prompts_per_step: 2, group_size: 4, snapshots: []}\n"
        "  temperatures: [1.0]\n",
        encoding="utf-8",
    )
    run_algo_grid(config, tmp / "results" / "algorithms.csv", tmp / "runs", workers=1, progress=False)
    return tmp / "results"


def test_runner_writes_both_tables_with_provenance(grid):
    table = pl.read_csv(grid / "algorithms.csv")
    assert sorted(table["algorithm"]) == ["dapo", "grpo", "ppo"]
    assert set(table["outcome"]) <= set(OUTCOMES)
    assert (table["k_max"] == 8).all()
    curves = pl.read_csv(grid / "algorithms_curves.csv")
    assert curves.group_by("algorithm").len().sort("algorithm")["len"].to_list() == [2, 2, 2]
    assert {"reward", "length", "entropy", "kl"} <= set(curves.columns)
    meta = json.loads((grid / "algorithms.json").read_text(encoding="utf-8"))
    assert meta["training_code_version"] == code_version()
    assert meta["family_code_version"] == family_code_version()
    assert meta["config"]["algorithms"]["algorithms"] == ["grpo", "ppo", "dapo"]
    assert "--table" in meta["command"]
    assert json.loads((grid / "algorithms_curves.json").read_text(encoding="utf-8")) == meta
    assert not stale_reasons(load_algo_results("algorithms", grid))


def test_other_algorithm_code_marks_the_table_stale(grid):
    res = load_algo_results("algorithms", grid)
    res.meta["family_code_version"] = "000000000000"
    assert any("algorithm code" in r for r in stale_reasons(res))


def test_delta_se_is_base_pass_max_minus_pass1():
    t = pl.DataFrame({"pass@1": [0.3, 0.9], "base_pass_max": [0.8, 0.85]})
    assert delta_se(t).to_list() == pytest.approx([0.5, -0.05])


def test_verdict_follows_the_outcomes():
    rows = {"label": ["GRPO", "PPO"], "temperature": [0.6, 0.6], "pass@1": [0.5, 0.6], "pass_max": [0.7, 0.7]}
    same = pl.DataFrame(rows | {"base_pass_max": [0.8, 0.8], "delta_se": [0.3, 0.28], "outcome": ["sharpening"] * 2})
    assert "does not move the boundary" in verdict(same)
    assert "28.0 to 30.0" in verdict(same)
    assert "ΔSE 30.0 points" in verdict(same.with_columns(pl.Series("delta_se", [0.3, 0.3])))  # one number
    regime = verdict(same, {"beta": 0.05, "prompt_carries": {"0": 3, "1": 1}, "steps": 200})
    assert "weights 3:1 for 0–1 carries" in regime
    assert "β = 0.05 (the paper's runs used none)" in regime
    far = same.with_columns(pl.Series("delta_se", [0.1, 0.3]))
    assert "not the boundary itself" in verdict(far)
    mixed = same.with_columns(pl.Series("outcome", ["sharpening", "expansion"]))
    assert "does move the boundary" in verdict(mixed)


def test_paper_numbers_give_the_paper_delta_se():
    paper = dict(paper_table().select("label", "paper_delta_se").rows())
    assert paper["RLOO"] == pytest.approx(41.0)
    assert paper["GRPO"] == pytest.approx(44.0)
    assert set(paper) == set(PAPER)


def test_committed_table_is_current_and_its_delta_se_matches_its_definition():
    res = load_results("algorithms", RESULTS_DIR)
    if res is None:
        pytest.skip("no committed data/toyworld/algorithms.csv")
    assert not stale_reasons(res), stale_reasons(res)
    t = res.table
    assert t["delta_se"].to_list() == pytest.approx((t["base_pass_max"] - t["pass@1"]).to_list())
    assert (t["k_max"] == 256).all()
    assert t.height == 6 * t["temperature"].n_unique()


def test_page_builds_from_the_committed_tables():
    if load_results("algorithms", RESULTS_DIR) is None:
        pytest.skip("no committed data/toyworld/algorithms.csv")
    page = toyworld_algorithms_page()
    assert page.stale == []
    assert page.curves is not None
    assert page.table is not None
    assert page.table["paper_pass@1"].null_count() == 0
    assert page.table.columns[:3] == ["label", "seed", "temperature"]
    assert "Stale" not in page.note.data


def test_page_says_how_to_make_missing_results(tmp_path):
    page = toyworld_algorithms_page(None, str(tmp_path))
    assert page.table is None
    assert "algo_grid" in page.note.data


def test_side_by_side_shows_percent(grid):
    table = side_by_side(pl.read_csv(grid / "algorithms.csv"))
    assert {"paper_pass@1", "paper_delta_se", "delta_se"} <= set(table.columns)
