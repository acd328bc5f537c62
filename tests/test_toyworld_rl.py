"""GRPO pieces: the verifiable reward, group advantages, masks, the loss and its gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.toyworld import rl
from analysis.toyworld.evaluate import pass_curve


def test_reward_is_exact_match_of_the_final_answer():
    golds = ["0842"] * 5
    responses = [
        "R750>12;581>14;431>08;A:0842",  # right
        "L43>7;58>3;75>2;A:0732",  # wrong answer
        "A:0842",  # right answer, no worked solution: still rewarded (only the answer is checked)
        "R750>12;A:0842;A:0841",  # the last A: counts
        "R750>12;581>14",  # no answer
    ]
    assert rl.rewards(responses, golds).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]


def test_group_advantages_are_normalised_within_groups():
    r = np.array([1, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    adv = rl.group_advantages(r, 4)
    assert adv[:4].sum() == pytest.approx(0, abs=1e-9)
    assert adv[0] > 0 > adv[1]
    assert adv[:4].std() == pytest.approx(1, abs=1e-3)
    assert np.allclose(adv[4:], 0)  # no signal in a group where every answer is right


def test_response_mask_keeps_tokens_up_to_the_first_eos():
    out = torch.tensor([[5, 6, 2, 0, 0], [5, 6, 7, 8, 9], [2, 0, 0, 0, 0]])
    assert rl.response_mask(out, eos=2).tolist() == [
        [True, True, True, False, False],
        [True, True, True, True, True],
        [True, False, False, False, False],
    ]


def test_grpo_loss_raises_rewarded_tokens_and_penalises_divergence():
    logits = torch.zeros(2, 3, requires_grad=True)
    logp = torch.log_softmax(logits, -1)[:, :1].expand(2, 2)  # both sequences: token 0 twice
    mask = torch.ones(2, 2, dtype=torch.bool)
    loss, kl = rl.grpo_loss(logp, None, torch.tensor([1.0, 1.0]), mask, beta=0.0)
    loss.backward()
    assert kl == 0
    assert (logits.grad[:, 0] < 0).all()  # gradient descent raises the rewarded token's logit
    same = torch.log(torch.full((2, 2), 0.3))
    _, kl_same = rl.grpo_loss(same, same, torch.zeros(2), mask, beta=0.1)
    assert kl_same == pytest.approx(0, abs=1e-7)
    _, kl_diff = rl.grpo_loss(same, torch.log(torch.full((2, 2), 0.6)), torch.zeros(2), mask, beta=0.1)
    assert kl_diff > 0


def test_pass_curve_averages_the_unbiased_estimator():
    assert pass_curve(np.array([0, 4]), 4, [1, 4]) == {1: 0.5, 4: 0.5}
    assert pass_curve(np.array([1, 3]), 4, [1, 2]) == {1: 0.5, 2: pytest.approx((0.5 + 1.0) / 2)}
