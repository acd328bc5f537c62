"""Committed toy-world results: provenance, staleness, and the book page built from them."""

from __future__ import annotations

import json

import polars as pl
import pytest

from analysis import charts, pages
from analysis.toyworld.config import code_version
from analysis.toyworld.report import eval_code_version
from analysis.toyworld.results import RESULTS_DIR, load_results, provenance, write_meta


def _summary() -> pl.DataFrame:
    rows = []
    for share in (0.0, 0.5):
        for beta in (0.0, 0.05):
            rows.append(
                {
                    "temperature": 1.0,
                    "hard_share": share,
                    "beta": beta,
                    "step": 200,
                    "seeds": 2,
                    "paper_pattern_seeds": 2 if share == 0 else 0,
                    "expansion_seeds": 0 if share == 0 else 2,
                    "pass1_gain": 0.13 if share == 0 else 0.6,
                    "passmax_gain": -0.2 if share == 0 else 0.25,
                    "only_rl_mean": 0.5 if share == 0 else 40.0,
                }
            )
    return pl.DataFrame(rows)


def _seeds() -> pl.DataFrame:
    rows = []
    for model in ("rl-easy-seed0", "rl-easy-seed1", "rl-easy-seed2", "rl-easy-seed0@50", "rl-indist"):
        for t in (0.6, 1.0):
            rows.append(
                {
                    "model": model,
                    "temperature": t,
                    "pass@1": 0.5,
                    "base_pass@1": 0.37,
                    "only_model": 3 if model == "rl-easy-seed2" and t == 1.0 else 0,
                    "paper_pattern": not (model == "rl-easy-seed2" and t == 1.0) and model != "rl-indist",
                    "expansion": model == "rl-indist",
                }
            )
    return pl.DataFrame(rows)


def _write(folder, name, table, meta):
    folder.mkdir(parents=True, exist_ok=True)
    table.write_csv(folder / f"{name}.csv")
    write_meta(meta, folder / f"{name}.csv")


def test_provenance_records_config_hash_and_current_code_versions():
    meta = provenance({"a": 1}, "cmd", seconds={"total": 60.0})
    assert meta["training_code_version"] == code_version()
    assert meta["evaluation_code_version"] == eval_code_version()
    assert len(meta["config_hash"]) >= 12
    assert provenance({"a": 2}, "cmd")["config_hash"] != meta["config_hash"]
    assert meta["seconds"] == {"total": 60.0}


def test_results_made_by_other_code_are_marked_stale(tmp_path):
    meta = provenance({"a": 1}, "python -m analysis.toyworld phase --config x.yaml")
    _write(tmp_path, "fresh", _summary(), meta)
    _write(tmp_path, "old", _summary(), meta | {"training_code_version": "000000000000"})
    fresh, old = load_results("fresh", tmp_path), load_results("old", tmp_path)
    assert fresh.current
    assert "Stale" not in fresh.note()
    assert not old.current
    assert "Stale" in old.note()
    assert load_results("absent", tmp_path) is None


def test_toyworld_page_counts_seeds_and_draws_the_phase_diagram(tmp_path):
    meta = provenance({"phase": {}}, "python -m analysis.toyworld phase --config configs/toyworld/phase.yaml")
    _write(tmp_path, "phase_summary", _summary(), {})
    (tmp_path / "phase_summary.json").unlink()
    write_meta(meta, tmp_path / "phase_diagram.csv")
    _write(tmp_path, "seeds", _seeds(), provenance({"seeds": 5}, "evaluate"))
    page = pages.toyworld_page(None, str(tmp_path))
    assert page.phase_summary["outcome"].to_list() == ["P2/2", "P2/2", "E2/2", "E2/2"]
    assert len(page.phase_charts) == 2
    for chart in page.phase_charts:
        assert charts.chart_png(chart.to_dict())[:4] == b"\x89PNG"
    counts = {(r["run"], r["temperature"]): r for r in page.seed_counts.to_dicts()}
    assert counts[("rl-easy", 0.6)]["seeds"] == 3  # snapshots (model@step) are not seeds
    assert counts[("rl-easy", 0.6)]["paper_pattern"] == 3
    assert counts[("rl-easy", 1.0)]["paper_pattern"] == 2
    assert counts[("rl-easy", 1.0)]["max_only_rl"] == 3
    assert counts[("rl-indist", 1.0)]["expansion"] == 1


def test_toyworld_page_says_how_to_make_missing_results(tmp_path):
    page = pages.toyworld_page(None, str(tmp_path))
    assert page.phase_summary is None
    assert page.phase_charts == []
    assert "python -m analysis.toyworld phase" in page.phase_note.data
    assert "--table data/toyworld/seeds.csv" in page.seeds_note.data


def test_committed_results_carry_their_provenance():
    if not (RESULTS_DIR / "phase_diagram.json").is_file():
        pytest.skip(f"no committed phase diagram in {RESULTS_DIR}")
    meta = json.loads((RESULTS_DIR / "phase_diagram.json").read_text())
    assert meta["command"].startswith("python -m analysis.toyworld phase")
    table = load_results("phase_diagram", RESULTS_DIR)
    summary = load_results("phase_summary", RESULTS_DIR, meta_name="phase_diagram")
    assert table is not None
    assert summary is not None
    assert summary.table["seeds"].sum() == table.table.height


def _world_dict(steps: int) -> dict:
    """The default toy world's config as a table records it, with ``steps`` of pretraining."""
    from analysis.toyworld.config import default_config_path, read_config_dict

    config = read_config_dict(default_config_path())
    config["pretrain"] = config["pretrain"] | {"steps": steps}
    return config


def test_a_table_says_whether_its_runs_start_from_the_studys_base(tmp_path):
    from analysis.toyworld.config import load_config

    steps = load_config().pretrain.steps
    same = provenance(_world_dict(steps), "python -m analysis.toyworld evaluate --table t.csv")
    other = provenance(_world_dict(2 * steps), "python -m analysis.toyworld evaluate --table t.csv")
    _write(tmp_path, "same", _seeds(), same)
    _write(tmp_path, "other", _seeds(), other)
    assert f"start from the study's base ({steps} pretraining steps)" in load_results("same", tmp_path).note()
    note = load_results("other", tmp_path).note()
    assert f"different base than the study's models:** pretrained for {2 * steps} steps" in note
    assert f"the study's base: {steps} steps" in note
    assert "the same task, corpus and model" in note
    assert load_results("other", tmp_path).current  # a different base is said, not stale by itself


def test_a_table_whose_config_file_now_gives_another_base_is_stale(tmp_path):
    config = tmp_path / "world.yaml"
    default = RESULTS_DIR.parents[1] / "configs" / "toyworld" / "default.yaml"
    config.write_text(f"extends: {default}\nname: w\npretrain: {{steps: 7}}\n")
    command = f"python -m analysis.toyworld evaluate --config {config} --table t.csv"
    _write(tmp_path, "now", _seeds(), provenance(_world_dict(7), command))
    _write(tmp_path, "before", _seeds(), provenance(_world_dict(8), command))
    assert load_results("now", tmp_path).current
    before = load_results("before", tmp_path)
    assert before.stale_reasons() == [f"`{config}` now gives a different base (7 pretraining steps)"]
    assert "Stale" in before.note()


def test_the_methods_page_states_the_default_recipe():
    """book/toyworld.md writes the default recipe's step counts in prose; they must be the config's."""
    import re

    from analysis.toyworld.config import load_config

    text = (RESULTS_DIR.parents[1] / "book" / "toyworld.md").read_text(encoding="utf-8")
    cfg = load_config()
    rl = next(iter(cfg.rl.values()))
    assert {r.steps for r in cfg.rl.values()} == {rl.steps}
    assert re.search(rf"corpus rows, {cfg.pretrain.steps} steps of {cfg.pretrain.batch_size} rows", text)
    assert re.search(rf"; {rl.steps} steps, with a snapshot after {rl.snapshots[0]}\.", text)
    assert len(rl.snapshots) == 1
    assert re.search(rf"traces for fresh train-pool problems .*?: {cfg.distill.steps} steps of", text, re.S)
