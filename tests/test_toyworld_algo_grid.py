"""The toy world's deep-analysis grid (analysis.toyworld.algo_grid), its tables
(analysis.pages.algorithm_tables) and its page."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from analysis.findings import OUTCOMES
from analysis.pages import algorithm_tables as T
from analysis.pages.toyworld_algorithms import toyworld_algorithms_page
from analysis.toyworld.algo_grid import (
    AlgoGridConfig,
    delta_se,
    grid_runs,
    load_algo_results,
    load_grid_config,
    run_algo_grid,
    stale_reasons,
)
from analysis.toyworld.algo_runs import family_code_version
from analysis.toyworld.config import code_version
from analysis.toyworld.results import RESULTS_DIR, load_results

REPO = Path(__file__).resolve().parents[1]
GRID = """
extends: {minimal}
name: minimal-algos
rl: {{_replace: true}}
distill: null
algorithms:
  algorithms: [grpo, ppo, dapo]
  seeds: [0, 1]
  rl: {{prompt_carries: {{0: 3, 1: 1}}, steps: 2, prompts_per_step: 2, group_size: 4, snapshots: [1]}}
  regimes:
    indist: {{}}
    easy: {{prompt_carries: {{0: 1}}}}
  variants:
    group2: {{rl: {{group_size: 2}}, seeds: [0]}}
    same: {{rl: {{group_size: 4}}, seeds: [0]}}
    steps3: {{kind: steps, rl: {{steps: 3, snapshots: [1, 2]}}, seeds: [0]}}
  temperatures: [1.0]
"""


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """The runner on the minimal world: three algorithms, two seeds, two regimes, three variants."""
    tmp = tmp_path_factory.mktemp("algo_grid")
    config = tmp / "algos.yaml"
    config.write_text(GRID.format(minimal=REPO / "configs/toyworld/minimal.yaml"), encoding="utf-8")
    run_algo_grid(config, tmp / "results" / "algorithms.csv", tmp / "runs", workers=1, progress=False)
    return tmp / "results"


def test_runs_follow_the_config():
    grid = AlgoGridConfig.model_validate(
        {
            "algorithms": ["grpo", "rloo"],
            "seeds": [0, 1],
            "rl": {"beta": 0.05, "prompt_carries": {0: 3, 1: 1}},
            "regimes": {"indist": {}, "easy": {"prompt_carries": {0: 1}}},
            "variants": {"kl0": {"rl": {"beta": 0.0}, "seeds": [0]}, "long": {"kind": "steps", "rl": {"steps": 9}}},
        }
    )
    runs = grid_runs(grid)
    assert len(runs) == 2 * (2 * 2 + 1 + 2)  # regimes × (algorithms × seeds + kl0 + long's two seeds)
    assert [r.name for r in runs[:5]] == [
        "indist/six/grpo/seed0",
        "indist/six/grpo/seed1",
        "indist/six/rloo/seed0",
        "indist/six/rloo/seed1",
        "indist/kl0/grpo/seed0",
    ]
    easy = [r for r in runs if r.regime == "easy"]
    assert all(r.rl.prompt_carries == {0: 1} for r in easy)
    assert {r.rl.beta for r in runs if r.variant == "kl0"} == {0.0}
    assert {r.kind for r in runs} == {"algorithms", "ablation", "steps"}
    assert {r.rl.steps for r in runs if r.kind == "steps"} == {9}


@pytest.mark.parametrize(
    "bad",
    [{"regimes": {}}, {"variants": {"six": {}}}, {"variants": {"x": {"kind": "other"}}}, {"seeds": [0], "oops": 1}],
)
def test_bad_grid_configs_are_refused(bad):
    with pytest.raises(ValidationError):
        AlgoGridConfig.model_validate(bad)


def test_runner_writes_both_tables_with_provenance(grid):
    table = pl.read_csv(grid / "algorithms.csv")
    # per regime: 3 algorithms × 2 seeds × 2 steps, group2 and same × 2 steps, steps3 × 3 steps
    assert table.height == 2 * (12 + 2 + 2 + 3)
    assert table["regime"].unique(maintain_order=True).to_list() == ["indist", "easy"]  # the config's order
    assert set(table["outcome"]) <= set(OUTCOMES)
    assert (table["k_max"] == 8).all()
    assert {f"base_pass@{k}" for k in (1, 2, 8)} <= set(table.columns)
    assert table["delta_se"].to_list() == pytest.approx((table["base_pass_max"] - table["pass@1"]).to_list())
    steps = table.filter(pl.col("kind") == "steps")
    assert sorted(set(steps["step"])) == [1, 2, 3]
    curves = pl.read_csv(grid / "algorithms_curves.csv")
    assert curves.filter((pl.col("variant") == "six") & (pl.col("regime") == "easy")).height == 3 * 2 * 2
    assert {"regime", "variant", "kind", "reward", "length", "entropy", "kl"} <= set(curves.columns)
    meta = json.loads((grid / "algorithms.json").read_text(encoding="utf-8"))
    assert meta["training_code_version"] == code_version()
    assert meta["family_code_version"] == family_code_version()
    assert meta["config"]["algorithms"]["algorithms"] == ["grpo", "ppo", "dapo"]
    assert "--table" in meta["command"]
    assert json.loads((grid / "algorithms_curves.json").read_text(encoding="utf-8")) == meta
    assert not stale_reasons(load_algo_results("algorithms", grid))


def test_an_arm_equal_to_a_default_run_is_the_same_checkpoint(grid):
    runs = json.loads((grid / "algorithms.json").read_text(encoding="utf-8"))["runs"]
    assert runs["indist/same/grpo/seed0"] == runs["indist/six/grpo/seed0"]
    assert runs["indist/group2/grpo/seed0"] != runs["indist/six/grpo/seed0"]
    table = pl.read_csv(grid / "algorithms.csv").filter(pl.col("regime") == "indist", pl.col("seed") == 0)
    same = table.filter(pl.col("variant") == "same").select("step", "pass@1", "outcome")
    six = table.filter(pl.col("variant") == "six", pl.col("algorithm") == "grpo").select("step", "pass@1", "outcome")
    assert same.equals(six)


def test_other_algorithm_code_marks_the_table_stale(grid):
    res = load_algo_results("algorithms", grid)
    res.meta["family_code_version"] = "000000000000"
    assert any("algorithm code" in r for r in stale_reasons(res))


def test_delta_se_is_base_pass_max_minus_pass1():
    t = pl.DataFrame({"pass@1": [0.3, 0.9], "base_pass_max": [0.8, 0.85]})
    assert delta_se(t).to_list() == pytest.approx([0.5, -0.05])


def _rows(outcomes: dict[str, list[str]], dse: dict[str, list[float]], regime: str = "indist") -> pl.DataFrame:
    """A synthetic final-step table: one row per (algorithm, seed)."""
    rows = []
    for label, outs in outcomes.items():
        for seed, (o, d) in enumerate(zip(outs, dse[label], strict=True)):
            rows.append(
                {"regime": regime, "variant": "six", "kind": "algorithms", "algorithm": label.lower(), "label": label,
                 "seed": seed, "step": 200, "temperature": 0.6, "pass@1": 0.8 - d, "pass_max": 0.9,
                 "base_pass_max": 0.8, "delta_se": d, "outcome": o}
            )  # fmt: skip
    return pl.DataFrame(rows)


def test_seed_ranges_are_mean_lowest_and_highest():
    t = _rows({"GRPO": ["sharpening"] * 3}, {"GRPO": [0.1, 0.2, 0.4]})
    row = T.table2(t).row(0, named=True)
    assert row["delta_se"] == "23.3 [10.0 to 40.0]"
    assert row["outcomes"] == "3× sharpening"
    assert row["base_pass_max"] == pytest.approx(80.0)
    assert row["paper_delta_se"] == pytest.approx(44.0)


def test_verdict_follows_the_outcomes_and_the_seed_spread():
    same = _rows({"GRPO": ["expansion"] * 2, "PPO": ["expansion"] * 2}, {"GRPO": [0.1, 0.12], "PPO": [0.2, 0.21]})
    said = T.algorithm_verdict(same, "indist")
    assert "does not move the boundary" in said
    assert "spread 9.5" in said
    assert "differ by up to 2.0" in said
    assert "Grader:" in said
    moved = _rows({"GRPO": ["expansion"] * 2, "PPO": ["sharpening"] * 2}, {"GRPO": [0.1, 0.1], "PPO": [0.1, 0.1]})
    assert "does move the boundary" in T.algorithm_verdict(moved, "indist")
    assert "PPO sharpening" in T.algorithm_verdict(moved, "indist")
    noisy = _rows({"GRPO": ["expansion", "mixed"], "PPO": ["expansion"] * 2}, {"GRPO": [0.1, 0.1], "PPO": [0.1, 0.1]})
    assert "the training seed moves the outcome" in T.algorithm_verdict(noisy, "indist")


def test_regime_answer_compares_regimes():
    a = _rows({"GRPO": ["expansion"] * 2}, {"GRPO": [0.1, 0.1]}, "indist")
    b = _rows({"GRPO": ["sharpening"] * 2}, {"GRPO": [0.3, 0.3]}, "easy")
    said = T.regime_answer(pl.concat([a, b]))
    assert "The regime decides, not the algorithm" in said
    assert "67.0–69.7% pass@256 against its base's 69.1%" in said
    assert "the miniature's runs end in expansion, so here the miniature disagrees with the paper" in said
    sharp = a.with_columns(pl.lit("sharpening").alias("outcome"))
    agrees = T.regime_answer(pl.concat([sharp, b.with_columns(pl.lit("expansion").alias("outcome"))]))
    assert "also stay at its base's ceiling" in agrees
    assert "Neither regime nor algorithm" in T.regime_answer(
        pl.concat([a, a.with_columns(pl.lit("easy").alias("regime"))])
    )
    c = _rows({"GRPO": ["sharpening", "mixed"]}, {"GRPO": [0.3, 0.3]}, "easy")
    assert "varies within a regime" in T.regime_answer(pl.concat([a, c]))
    assert "Only one" in T.regime_answer(a)


def test_step_and_ablation_tables(grid):
    table = pl.read_csv(grid / "algorithms.csv")
    steps = T.step_table(table)
    assert set(steps["run"]) == {"2-step run", "3-step run"}
    assert steps.filter(pl.col("run") == "3-step run")["step"].to_list() == [1, 2, 3, 1, 2, 3]
    abl = T.ablation_table(table)
    assert set(abl["variant"]) == {"default", "group2", "same"}
    assert dict(abl.filter(pl.col("regime") == "easy").select("variant", "seeds").rows()) == {
        "default": 2,  # every seed of the default: its range is the yardstick
        "group2": 1,
        "same": 1,
    }
    said = T.ablation_sentence(table, "indist")
    assert "the default (2 seeds" in said
    assert "group2:" in said


def test_ablation_sentence_places_a_variant_against_the_default_seed_range():
    six = _rows({"GRPO": ["expansion"] * 3}, {"GRPO": [0.10, 0.12, 0.14]})
    near = six.filter(pl.col("seed") == 0).with_columns(
        pl.lit("kl0").alias("variant"), pl.lit("ablation").alias("kind"), pl.lit(0.13).alias("delta_se")
    )
    far = near.with_columns(
        pl.lit("group8").alias("variant"), pl.lit(0.3).alias("delta_se"), pl.lit("mixed").alias("outcome")
    )
    said = T.ablation_sentence(pl.concat([six, near, far]), "indist")
    assert "ΔSE 10.0 to 14.0" in said
    assert "kl0: expansion, ΔSE 13.0 (+1.0 points from the default's mean, inside its seeds' range)" in said
    assert "group8: mixed, ΔSE 30.0 (+18.0 points from the default's mean, outside its seeds' range)" in said
    assert T.ablation_sentence(six, "indist") == ""


def test_settings_sentence_reads_the_record(grid):
    meta = json.loads((grid / "algorithms.json").read_text(encoding="utf-8"))
    said = T.settings_sentence(meta["config"])
    assert "2 steps of 2 prompts × 4 responses" in said
    assert "group2: grpo with group_size 2 (seeds 0)" in said
    assert "no KL" in T.settings_sentence({"algorithms": {"rl": {"beta": 0.0}}})


def test_page_builds_from_a_grid(grid):
    page = toyworld_algorithms_page(None, str(grid))
    assert page.stale == []
    assert len(page.verdicts) == 2
    assert page.steps is not None
    assert page.ablations is not None
    assert set(page.dynamics) == {"indist", "easy"}
    for chart in (page.passk, page.steps_chart, page.ablations_chart, *page.dynamics.values()):
        assert chart.to_dict()


def test_committed_table_is_current_and_complete():
    res = load_results("algorithms", RESULTS_DIR)
    if res is None:
        pytest.skip("no committed data/toyworld/algorithms.csv")
    assert not stale_reasons(res), stale_reasons(res)
    t = res.table
    assert t["delta_se"].to_list() == pytest.approx((t["base_pass_max"] - t["pass@1"]).to_list())
    assert (t["k_max"] == 256).all()
    _, grid, _ = load_grid_config(REPO / res.meta["command"].split("--config ")[1].split()[0])
    evaluated = sum(len(r.rl.snapshots) + 1 for r in grid_runs(grid))
    assert t.height == evaluated * len(grid.temperatures)


def test_page_builds_from_the_committed_tables():
    if load_results("algorithms", RESULTS_DIR) is None:
        pytest.skip("no committed data/toyworld/algorithms.csv")
    page = toyworld_algorithms_page()
    assert page.stale == []
    assert page.table2 is not None
    for chart in (page.passk, page.steps_chart, page.ablations_chart, *page.dynamics.values()):
        assert chart.to_dict()  # within the chart library's row limit
    assert page.table2["paper_pass@1"].null_count() == 0
    assert "Stale" not in page.note.data


def test_page_says_how_to_make_missing_results(tmp_path):
    page = toyworld_algorithms_page(None, str(tmp_path))
    assert page.table2 is None
    assert "algo_grid" in page.note.data
