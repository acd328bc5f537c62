"""The six RL algorithms of the paper's section 4: each advantage and loss on a hand-computed
example, the run keys, and a few steps of each on the minimal config (deterministic for a seed,
and GRPO equal to ``rl.grpo``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from analysis.store import is_complete, read_marker
from analysis.toyworld import algorithms as alg
from analysis.toyworld import rl, rl_family
from analysis.toyworld.algo_runs import (
    ALGORITHMS,
    FAMILY_MODULES,
    AlgorithmConfig,
    family_folder,
    family_job,
    family_key,
    resolve,
)
from analysis.toyworld.config import TRAINING_MODULES, code_version, load_config, rl_key

# ---------------------------------------------------------------------------------------------
# Shared pieces


def test_masked_whiten_uses_the_valid_entries_only():
    x = torch.tensor([[1.0, 2.0, 3.0], [99.0, 99.0, 99.0]])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    out = alg.masked_whiten(x, mask, eps=0.0)  # mean 2, sample variance 1
    assert out[0].tolist() == pytest.approx([-1.0, 0.0, 1.0])


def test_kl_estimators_and_outcome_rewards():
    logp, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert float(alg.kl_estimate(logp, ref, "k1")) == pytest.approx(np.log(2))
    assert float(alg.kl_estimate(logp, ref, "k3")) == pytest.approx(0.5 + np.log(2) - 1)  # r − log r − 1, r = ½
    mask = torch.tensor([[True, True, True], [True, False, False]])
    rewards = alg.outcome_token_rewards(torch.tensor([1.0, 0.5], dtype=torch.float64), mask)
    assert rewards.tolist() == [[0, 0, 1.0], [0.5, 0, 0]]


def test_loss_aggregation_token_level_and_per_response():
    per_token = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 7.0, 7.0, 7.0]])
    mask = torch.tensor([[True] * 4, [True, False, False, False]])
    assert float(alg.aggregate(per_token, mask, "token-mean")) == pytest.approx(8 / 5)  # DAPO's token-level loss
    assert float(alg.aggregate(per_token, mask, "seq-mean-token-mean")) == pytest.approx((1 + 4) / 2)


# ---------------------------------------------------------------------------------------------
# One hand-computed example per algorithm


def test_grpo_advantage_is_normalised_within_the_group():
    adv = alg.grpo_advantages(np.array([1, 0, 0, 0, 1, 1, 1, 1]), 4)
    std = np.sqrt(0.25 * 0.75)  # population std of (1, 0, 0, 0)
    assert adv[:4] == pytest.approx([0.75 / (std + 1e-4)] + [-0.25 / (std + 1e-4)] * 3)
    assert adv[4:] == pytest.approx([0, 0, 0, 0])


def test_rloo_baseline_leaves_the_response_out():
    adv = alg.rloo_advantages(np.array([1.0, 0.0, 1.0, 1.0]), 4)
    assert adv == pytest.approx([1 - 2 / 3, 0 - 1, 1 - 2 / 3, 1 - 2 / 3])
    # the same as VeRL's n/(n−1)·(r − group mean)
    assert adv == pytest.approx(4 / 3 * (np.array([1, 0, 1, 1]) - 0.75))
    with pytest.raises(ValueError, match="two responses"):
        alg.rloo_advantages(np.array([1.0]), 1)


def test_remax_subtracts_the_greedy_reward_from_the_reward_to_go():
    token_rewards = torch.tensor([[-0.1, -0.1, 0.9], [0.2, -0.3, 5.0]])  # 5.0 lies past row 2's end
    mask = torch.tensor([[True, True, True], [True, True, False]])
    adv = alg.remax_advantages(token_rewards, mask, torch.tensor([0.5, 0.0]))
    assert adv.tolist() == [pytest.approx([0.2, 0.3, 0.4]), pytest.approx([-0.1, -0.3, 0.0])]


def test_reinforce_pp_whitens_discounted_returns_over_the_batch():
    token_rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    # returns 1, 1, 1 | 0, 0 over the five valid tokens: mean 0.6, sample variance 0.3
    adv = alg.reinforce_pp_advantages(token_rewards, mask, gamma=1.0)
    hi, lo = 0.4 / np.sqrt(0.3), -0.6 / np.sqrt(0.3)
    assert adv.tolist() == [pytest.approx([hi, hi, hi], rel=1e-5), pytest.approx([lo, lo, 0.0], rel=1e-5)]
    # token-level KL in the reward, discounted: returns of row 1 with γ = ½
    with_kl = torch.tensor([[-0.1, 0.0, 1.0]])
    assert alg.reward_to_go(with_kl, torch.ones(1, 3, dtype=torch.bool), 0.5).tolist() == [
        pytest.approx([-0.1 + 0.25, 0.5, 1.0])
    ]


def test_ppo_gae_returns_and_clipped_value_loss():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 5.0]])
    values = torch.tensor([[0.5, 0.6, 0.8], [0.3, 0.4, 9.0]])  # 5.0 and 9.0 lie past row 2's end
    mask = torch.tensor([[True, True, True], [True, True, False]])
    adv, returns = alg.gae_advantages(rewards, values, mask, gamma=1.0, lam=0.5)
    # row 1: δ = (0.1, 0.2, 0.2), A = (0.1 + ½·0.3, 0.2 + ½·0.2, 0.2); row 2: δ = (0.1, 0.6), next V = 0 at the end
    raw = torch.tensor([[0.25, 0.3, 0.2], [0.1 + 0.5 * 0.6, 0.6, 0.0]])
    assert returns[0].tolist() == pytest.approx([0.75, 0.9, 1.0])
    assert returns[1, :2].tolist() == pytest.approx([0.7, 1.0])
    assert torch.allclose(adv, alg.masked_whiten(raw, mask) * mask)
    # value loss: token 1 clipped from 0.9 to 0.7 (error 0.3²), token 2 unclipped (0.6²)
    loss = alg.value_loss(
        torch.tensor([[0.9, 0.6]]), torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2), 0.2
    )
    assert float(loss) == pytest.approx(0.5 * (0.09 + 0.36) / 2)


def test_clipped_policy_loss_with_clip_higher_and_dual_clip():
    ratio = torch.tensor([[1.5, 1.1, 0.5, 5.0]])
    adv = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    logp = torch.log(ratio).requires_grad_(True)
    loss, acted = alg.policy_loss_tokens(logp, torch.zeros(1, 4), adv, 0.2, 0.2, dual_clip=3.0)
    assert loss.tolist() == [pytest.approx([-1.2, -1.1, 0.8, 3.0])]
    assert acted.tolist() == [[True, False, True, True]]
    loss.sum().backward()
    assert logp.grad.tolist() == [pytest.approx([0.0, -1.1, 0.0, 0.0])]  # clipped tokens get no gradient
    # DAPO's clip-higher: the upper bound alone is widened
    dapo, _ = alg.policy_loss_tokens(torch.log(ratio), torch.zeros(1, 4), adv, 0.2, 0.28, dual_clip=None)
    assert dapo.tolist() == [pytest.approx([-1.28, -1.1, 0.8, 5.0])]


def test_dapo_dynamic_sampling_filter_and_overlong_shaping():
    correct = np.array([1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    assert alg.mixed_groups(correct, 4).tolist() == [True, False, False]
    pen = alg.overlong_penalty(np.array([10, 29, 30, 31, 32]), max_length=32, buffer=3)
    assert pen == pytest.approx([0, 0, -1 / 3, -2 / 3, -1])
    assert alg.overlong_penalty(np.array([32]), 32, buffer=0).tolist() == [0.0]


# ---------------------------------------------------------------------------------------------
# Settings and keys


@pytest.fixture(scope="module")
def minimal(repo):
    return load_config(repo / "configs" / "toyworld" / "minimal.yaml")


def test_resolved_defaults_follow_each_recipe(minimal):
    run = minimal.rl["rl-easy"]
    dapo = resolve(AlgorithmConfig(algorithm="dapo"), run, minimal.task)
    assert (dapo.clip_high, dapo.dynamic_sampling, dapo.kl_placement) == (0.28, True, "loss")
    assert dapo.overlong_buffer == run.max_new_tokens - 29  # the careful 3-digit trace is 28 characters + EOS
    grpo = resolve(AlgorithmConfig(), run, minimal.task)
    assert (grpo.clip_high, grpo.dynamic_sampling, grpo.overlong_buffer, grpo.kl_placement) == (0.2, False, 0, "loss")
    for name in ("ppo", "reinforce_pp", "rloo", "remax"):
        assert resolve(AlgorithmConfig(algorithm=name), run, minimal.task).kl_placement == "reward"


def test_run_keys(minimal, monkeypatch):
    from analysis.toyworld import algo_runs

    run = minimal.rl["rl-easy"]
    keys = {name: family_key(minimal, run, AlgorithmConfig(algorithm=name), 0) for name in ALGORITHMS}
    assert len(set(keys.values())) == len(ALGORITHMS)
    assert keys["grpo"] != rl_key(minimal, run, 0)  # rl.grpo's checkpoints keep their own keys
    assert family_key(minimal, run, AlgorithmConfig(), 1) != keys["grpo"]
    # a default written out hashes as the default
    explicit = AlgorithmConfig(algorithm="dapo", clip_high=0.28, dynamic_sampling=True, overlong_buffer=3)
    assert family_key(minimal, run, explicit, 0) == keys["dapo"]
    assert family_key(minimal, run, AlgorithmConfig(algorithm="dapo", clip_high=0.3), 0) != keys["dapo"]
    # the trainer's own code is in its keys, and not in the training modules' version
    assert not set(FAMILY_MODULES) & set(TRAINING_MODULES)
    before = code_version()
    monkeypatch.setattr(algo_runs, "family_code_version", lambda: "edited")
    assert family_key(minimal, run, AlgorithmConfig(), 0) != keys["grpo"]
    assert code_version() == before
    assert family_folder(minimal, run, AlgorithmConfig(algorithm="ppo"), 0, "/x").name.startswith("rl-ppo-")


# ---------------------------------------------------------------------------------------------
# A few steps of each algorithm on the minimal config


@pytest.fixture(scope="module")
def base(minimal):
    from analysis.toyworld.pretrain import pretrain

    torch.set_num_threads(1)
    model, _ = pretrain(minimal, None)
    return model


def _odd_length_reward(texts, golds):
    """A reward that is sometimes 1 (the minimal base never answers right)."""
    return np.array([float(len(t) % 2) for t in texts])


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_grpo_with_defaults_equals_rl_grpo(minimal, base, monkeypatch):
    monkeypatch.setattr(rl, "rewards", _odd_length_reward)
    monkeypatch.setattr(rl_family, "rewards", _odd_length_reward)
    run = minimal.rl["rl-easy"]  # beta 0.05: the KL loss is on
    a, log_a = rl.grpo(base, minimal, run, 0)
    b, log_b = rl_family.train_family(base, minimal, run, AlgorithmConfig(), 0)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert [e["loss"] for e in log_a] == [e["loss"] for e in log_b]
    assert [e["kl"] for e in log_a] == [e["kl"] for e in log_b]


@pytest.mark.parametrize("name", ALGORITHMS)
def test_each_algorithm_trains_deterministically(name, minimal, base, monkeypatch):
    monkeypatch.setattr(rl_family, "rewards", _odd_length_reward)
    run = minimal.rl["rl-indist"].model_copy(update={"steps": 3, "beta": 0.05})
    algo = AlgorithmConfig(algorithm=name, minibatches=2)
    start = _state(base)
    p1, log1 = rl_family.train_family(base, minimal, run, algo, 0)
    p2, log2 = rl_family.train_family(base, minimal, run, algo, 0)
    assert all(torch.equal(x, y) for x, y in zip(p1.state_dict().values(), p2.state_dict().values(), strict=True))
    drop_time = [{k: v for k, v in e.items() if k != "time"} for e in log1]
    assert drop_time == [{k: v for k, v in e.items() if k != "time"} for e in log2]
    assert any(not torch.equal(start[k], v) for k, v in p1.state_dict().items())  # it learned something
    assert all(torch.equal(start[k], v) for k, v in base.state_dict().items())  # the base is untouched
    assert [e["step"] for e in log1] == [1, 2, 3]
    assert {"reward", "loss", "kl", "entropy", "length", "clip_frac"} <= set(log1[0])
    assert log1[1]["kl"] > 0  # measured against the base after the first update
    assert (log1[0]["value_loss"] is not None) == (name == "ppo")
    if name == "dapo":
        assert all(e["kept_groups"] <= run.prompts_per_step for e in log1)
        assert all(1 <= e["gen_batches"] <= 4 for e in log1)
    else:
        assert all(e["gen_batches"] == 1 and e["kept_groups"] == run.prompts_per_step for e in log1)


def test_a_run_job_writes_a_keyed_checkpoint_and_reuses_it(minimal, base, tmp_path):
    from analysis.toyworld.model import save_model
    from analysis.toyworld.train import run_jobs

    base_folder = save_model(base, tmp_path / "base-0123456789abcdef")
    run = minimal.rl["rl-easy"].model_copy(update={"steps": 2, "snapshots": (1,)})
    algo = AlgorithmConfig(algorithm="rloo")
    folder = family_folder(minimal, run, algo, 0, tmp_path)
    job = family_job(minimal, "rloo-seed0", run, algo, 0, base_folder, folder)
    assert run_jobs([job], 1, show_progress=False) == {"rloo-seed0": str(folder)}
    assert is_complete(folder)
    assert is_complete(rl.snapshot_dir(folder, 1))
    marker = read_marker(folder)
    assert marker["algorithm"]["algorithm"] == "rloo"
    assert marker["key"] == folder.name.rsplit("-", 1)[-1]
    assert [e["step"] for e in json.loads((folder / "train_log.json").read_text())] == [1, 2]
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    run_jobs([job], 1, show_progress=False)
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
