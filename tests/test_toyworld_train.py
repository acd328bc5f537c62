"""End to end on the minimal config: training, caching, determinism, evaluation, phase diagram."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from analysis.store import is_complete
from analysis.toyworld.config import load_config
from analysis.toyworld.rl import snapshot_dir
from analysis.toyworld.train import train_all, train_one


@pytest.fixture(scope="module")
def minimal(repo):
    return repo / "configs" / "toyworld" / "minimal.yaml"


@pytest.fixture(scope="module")
def trained(minimal, tmp_path_factory):
    root = tmp_path_factory.mktemp("toyworld")
    torch.set_num_threads(1)
    return root, train_all(minimal, root, workers=1, progress=False)


def _weights(folder):
    return load_file(folder / "model.safetensors")


def test_train_all_writes_every_model(trained, minimal):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, folders = trained
    assert list(folders) == ["base", "rl-easy-seed0", "rl-easy-seed1", "rl-indist", "distill"]
    assert load_config(minimal).model_names() == list(folders)
    for folder in folders.values():
        assert is_complete(folder)
        assert (folder / "train_log.json").is_file()
        assert AutoModelForCausalLM.from_pretrained(folder).config.model_type == "llama"
        assert AutoTokenizer.from_pretrained(folder).eos_token == "</s>"
    assert is_complete(snapshot_dir(folders["rl-easy-seed0"], 2))
    log = json.loads((folders["rl-easy-seed0"] / "train_log.json").read_text())
    assert [e["step"] for e in log] == [1, 2, 3]
    assert {"reward", "loss", "kl", "share_L", "share_R", "share_S"} <= set(log[0])
    assert not list(root.glob(".tmp-*"))
    # the RL runs share the base and differ by seed
    info = [json.loads((folders[n] / "toyworld.json").read_text()) for n in ("rl-easy-seed0", "rl-easy-seed1")]
    assert info[0]["parent"] == info[1]["parent"]
    assert info[0]["seed"] != info[1]["seed"]


def test_second_run_reuses_the_checkpoints(trained, minimal):
    root, folders = trained
    stamp = {k: (v / "model.safetensors").stat().st_mtime_ns for k, v in folders.items()}
    again = train_all(minimal, root, workers=1, progress=False)
    assert again == folders
    assert {k: (v / "model.safetensors").stat().st_mtime_ns for k, v in again.items()} == stamp
    manifest = json.loads(next(root.glob("manifest-minimal-*.json")).read_text())
    assert manifest["trained_this_call"] == []


@pytest.mark.slow
def test_same_seed_same_checkpoints_in_worker_processes(trained, minimal, tmp_path):
    """A fresh run, here in two worker processes, reproduces every checkpoint bit for bit."""
    _, folders = trained
    other = train_all(minimal, tmp_path, workers=2, progress=False)
    for name, folder in folders.items():
        a, b = _weights(folder), _weights(other[name])
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    logs = [json.loads((folders[n] / "train_log.json").read_text()) for n in ("rl-easy-seed0", "rl-easy-seed1")]
    assert logs[0] != logs[1]  # the RL seed changes the rollouts


def test_train_one_gives_the_same_checkpoints_as_train_all(trained, minimal, tmp_path):
    """A workflow trains each model as its own job (train_one): the same bits as train_all."""
    _, folders = trained
    with pytest.raises(FileNotFoundError, match="train 'base' first"):
        train_one(minimal, "rl-indist", tmp_path, progress=False)
    with pytest.raises(KeyError, match="no model 'nope'"):
        train_one(minimal, "nope", tmp_path, progress=False)
    assert not list(tmp_path.glob("rl-*"))
    for name in ["base", "distill", "rl-indist"]:
        folder = train_one(minimal, name, tmp_path, progress=False)
        assert folder.name == folders[name].name
        a, b = _weights(folders[name]), _weights(folder)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    stamp = (tmp_path / folders["distill"].name / "model.safetensors").stat().st_mtime_ns
    train_one(minimal, "distill", tmp_path, progress=False)  # finished: reused, not retrained
    assert (tmp_path / folders["distill"].name / "model.safetensors").stat().st_mtime_ns == stamp


def test_grpo_updates_differ_by_seed(trained, minimal, monkeypatch):
    """With a reward that is sometimes 1, GRPO moves the weights, differently for each seed."""
    import numpy as np

    from analysis.toyworld import rl
    from analysis.toyworld.model import load_model

    _, folders = trained
    cfg = load_config(minimal)
    monkeypatch.setattr(rl, "rewards", lambda texts, golds: np.array([float(len(t) % 2) for t in texts]))
    run = cfg.rl["rl-easy"]
    base = load_model(folders["base"])
    start = {k: v.clone() for k, v in base.state_dict().items()}
    p0, log0 = rl.grpo(base, cfg, run, seed=0)
    p1, _ = rl.grpo(load_model(folders["base"]), cfg, run, seed=1)
    assert log0[0]["informative_groups"] > 0
    assert any(not torch.equal(start[k], v) for k, v in p0.state_dict().items())
    assert any(not torch.equal(a, b) for a, b in zip(p0.state_dict().values(), p1.state_dict().values(), strict=True))
    assert all(torch.equal(start[k], v) for k, v in base.state_dict().items())  # the base is not modified


def test_evaluation_table(trained, minimal):
    from analysis.toyworld.report import evaluate_config

    root, _ = trained
    table = evaluate_config(minimal, root, workers=1, progress=False)
    assert table["model"].to_list() == ["base", "rl-easy-seed0", "rl-easy-seed1", "rl-indist", "distill"]
    assert set(table["temperature"].to_list()) == {1.0}
    for col in ("pass@1", "pass@8", "only_model", "only_base", "valid_cot", "ppl_base_median", "paper_pattern"):
        assert col in table.columns
    base = table.row(0, named=True)
    assert base["only_model"] == base["only_base"] == 0
    assert len(list((root / "evals").glob("*.json"))) == 5


def test_phase_diagram_on_a_tiny_grid(trained, minimal, tmp_path):
    import polars as pl

    from analysis.toyworld.phase import hard_mixture, run_phase_diagram

    root, _ = trained
    config = tmp_path / "phase.yaml"
    config.write_text(
        f"extends: {minimal}\n"
        "name: tiny-phase\n"
        "rl: {_replace: true}\n"
        "distill: null\n"
        "phase:\n"
        "  hard_shares: [0.0, 0.5]\n"
        "  betas: [0.0]\n"
        "  seeds: [0]\n"
        "  rl: {steps: 2, snapshots: [1], prompts_per_step: 2, group_size: 4}\n"
        "  temperatures_all_steps: [1.0]\n"
        "  temperatures_final: [0.6]\n"
    )
    written = run_phase_diagram(config, root, tmp_path / "results", workers=1, progress=False)
    table = pl.read_csv(written["table"])
    # 2 runs x (snapshot at T=1, final at T=1 and T=0.6)
    assert table.height == 6
    assert set(table["hard_share"].to_list()) == {0.0, 0.5}
    assert sorted(set(table["step"].to_list())) == [1, 2]
    summary = pl.read_csv(written["summary"])
    assert summary.height == 6
    meta = json.loads(written["meta"].read_text())
    assert meta["rl_runs"] == 2
    assert len(meta["config_hash"]) == 16
    assert hard_mixture(0.3, 3) == pytest.approx({0: 0.7, 1: 0.1, 2: 0.1, 3: 0.1})
    with pytest.raises(ValueError, match="not in"):
        hard_mixture(1.5, 3)


@pytest.mark.slow
def test_training_notebook_runs_with_papermill(trained, minimal, repo, tmp_path):
    import nbformat
    import papermill as pm

    root, _ = trained
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(repo / "notebooks" / "train_toyworld.ipynb"),
        str(out),
        parameters={"config": str(minimal), "out_root": str(root), "workers": 1},
        cwd=str(repo),
        progress_bar=False,
        kernel_name="python3",
    )
    text = json.dumps(nbformat.read(out, as_version=4).cells[-1]["outputs"])
    assert "rl-easy-seed0" in text
    assert "distill" in text


def test_committed_notebook_has_no_outputs(repo):
    import nbformat

    nb = nbformat.read(repo / "notebooks" / "train_toyworld.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])


def test_probes_read_probabilities_at_the_decision_points(trained, minimal):
    from analysis.toyworld.model import load_model
    from analysis.toyworld.probe import carry_probe, format_probe
    from analysis.toyworld.tasks import count_carries, held_out_problems

    _, folders = trained
    problems = held_out_problems(load_config(minimal).task)
    probe = carry_probe(load_model(folders["base"]), problems)
    assert probe["real_slots"] == int(count_carries(problems.a, problems.b, 3).sum())
    assert probe["real_slots"] + probe["empty_slots"] == 3 * len(problems)
    assert 0 <= probe["p_keep_real_carry"] <= 1
    assert 0 <= probe["p_invent_carry"] <= 1
    shares = format_probe(load_model(folders["base"]), problems)
    assert set(shares) == {"L", "S", "R"}
    assert 0 < sum(shares.values()) <= 1
