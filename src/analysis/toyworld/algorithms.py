"""Advantages and losses of the six RL algorithms of the paper's section 4, on one rollout batch.

Every function here is a pure function of the same rollout data: per-response scores (the 0/1
verifiable reward, plus any shaping), the response mask ``(B, T)`` (True up to and including
EOS), log-probabilities of the sampled tokens under the policy, the rollout policy and the
reference, and, for PPO, the critic's values. Responses come in consecutive groups of
``group_size`` per prompt. The formulas follow each algorithm's paper and VeRL's ``core_algos``
(the implementation the paper trained with), written anew for this CPU loop:

* GRPO (Shao et al. 2024): (r − group mean) / (group std + eps), the toy world's own
  :func:`analysis.toyworld.rl.group_advantages` (population std, eps 1e-4; VeRL uses the
  sample std and eps 1e-6).
* RLOO (Ahmadian et al. 2024): r minus the mean of the *other* responses to the same prompt.
* ReMax (Li et al. 2023): reward-to-go minus the reward of the prompt's greedy response.
* Reinforce++ (Hu 2025): discounted reward-to-go of token-level rewards (the outcome at the
  last token, −β·KL at every token), whitened over the whole batch (no per-prompt baseline).
* PPO (Schulman et al. 2017): GAE over a critic's values, whitened over the batch; returns =
  advantages + values train the critic with a clipped squared error.
* DAPO (Yu et al. 2025): GRPO's advantage with clip-higher (a wider upper clip ratio), dynamic
  sampling (only groups whose rewards differ are trained on: :func:`mixed_groups`), the
  token-level loss (:func:`aggregate` ``"token-mean"``) and soft overlong punishment
  (:func:`overlong_penalty`).

The policy loss of all six is the clipped surrogate of :func:`policy_loss_tokens` (asymmetric
clip range, dual clip for negative advantages as in VeRL), aggregated by :func:`aggregate`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from analysis.toyworld.rl import group_advantages

LossAgg = Literal["token-mean", "seq-mean-token-mean"]
KLEstimator = Literal["k1", "k3"]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the True entries of ``mask``."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum()


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / sqrt(var + eps) over the masked entries (sample variance, as VeRL's)."""
    m = mask.to(x.dtype)
    n = m.sum()
    mean = (x * m).sum() / n
    var = (((x - mean) ** 2) * m).sum() / (n - 1).clamp(min=1)
    return (x - mean) * torch.rsqrt(var + eps)


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: KLEstimator) -> torch.Tensor:
    """Per-token estimate of KL(π ‖ π_ref) from the sampled tokens' log-probabilities.

    ``k1``: log π − log π_ref (the estimator put into the reward by PPO, Reinforce++, RLOO and
    ReMax). ``k3``: exp(d) − d − 1 with d = log π_ref − log π (always ≥ 0; GRPO's KL loss),
    unclamped as in ``rl.grpo`` (VeRL clamps it to ±10).
    """
    if kind == "k1":
        return logp - ref_logp
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def outcome_token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` rewards: each response's score on its last valid token, zero elsewhere."""
    rewards = torch.zeros(mask.shape, dtype=scores.dtype)
    last = (mask.long().sum(1) - 1).clamp(min=0)  # a response mask always holds its first token
    rewards[torch.arange(len(scores)), last] = scores
    return rewards


def grpo_advantages(scores: np.ndarray, group_size: int) -> np.ndarray:
    """GRPO's group-normalised advantage per response (see :mod:`analysis.toyworld.rl`)."""
    return group_advantages(np.asarray(scores, dtype=float), group_size)


def rloo_advantages(scores: np.ndarray, group_size: int) -> np.ndarray:
    """RLOO: r_i − mean_{j ≠ i} r_j within each group (the leave-one-out baseline)."""
    if group_size < 2:
        msg = f"RLOO needs at least two responses per prompt, got group_size {group_size}"
        raise ValueError(msg)
    r = np.asarray(scores, dtype=float).reshape(-1, group_size)
    others = (r.sum(1, keepdims=True) - r) / (group_size - 1)
    return (r - others).reshape(-1)


def reward_to_go(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """G_t = Σ_{s ≥ t} γ^{s−t} r_s over each response's valid tokens (0 after its end)."""
    r = token_rewards * mask.to(token_rewards.dtype)
    out = torch.zeros_like(r)
    running = torch.zeros(r.shape[0], dtype=r.dtype)
    for t in reversed(range(r.shape[1])):
        running = r[:, t] + gamma * running
        out[:, t] = running
    return out * mask.to(r.dtype)


def remax_advantages(token_rewards: torch.Tensor, mask: torch.Tensor, greedy_scores: torch.Tensor) -> torch.Tensor:
    """ReMax: reward-to-go minus the score of the same prompt's greedy response, per token."""
    m = mask.to(token_rewards.dtype)
    return reward_to_go(token_rewards, mask) - greedy_scores[:, None].to(token_rewards.dtype) * m


def reinforce_pp_advantages(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Reinforce++: the discounted reward-to-go, whitened over every valid token of the batch."""
    returns = reward_to_go(token_rewards, mask, gamma)
    return masked_whiten(returns, mask) * mask.to(returns.dtype)


def gae_advantages(
    token_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's generalised advantage estimate: (whitened advantages, returns), both ``(B, T)``.

    δ_t = r_t + γ V_{t+1} − V_t, A_t = δ_t + γλ A_{t+1}, with V = 0 after a response's last
    token (the episode ends there); returns = A + V are the critic's targets, computed before
    the advantages are whitened over the batch's valid tokens.
    """
    m = mask.to(values.dtype)
    r = token_rewards.to(values.dtype) * m
    v = values * m
    adv = torch.zeros_like(v)
    last = torch.zeros(v.shape[0], dtype=v.dtype)
    for t in reversed(range(v.shape[1])):
        next_v = v[:, t + 1] if t + 1 < v.shape[1] else torch.zeros_like(last)
        last = (r[:, t] + gamma * next_v - v[:, t] + gamma * lam * last) * m[:, t]
        adv[:, t] = last
    returns = adv + v
    return masked_whiten(adv, mask) * m, returns


def policy_loss_tokens(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None = 3.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token clipped surrogate loss and where clipping acted, both ``(B, T)``.

    max(−A·ρ, −A·clip(ρ, 1 − clip_low, 1 + clip_high)) with ρ = π/π_old; where A < 0 the loss
    is further capped at −A·``dual_clip`` (dual-clip PPO, Ye et al. 2020), as in VeRL.
    """
    ratio = torch.exp(logp - old_logp)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    acted = clipped > unclipped
    if dual_clip is not None:
        if dual_clip <= 1:
            msg = f"dual_clip must be > 1, got {dual_clip}"
            raise ValueError(msg)
        cap = -adv * dual_clip
        capped = torch.minimum(loss, cap)
        acted = acted | ((adv < 0) & (loss > cap))
        loss = torch.where(adv < 0, capped, loss)
    return loss, acted


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, mode: LossAgg = "token-mean") -> torch.Tensor:
    """Reduce a ``(B, T)`` loss to a scalar.

    ``token-mean``: over all valid tokens of the batch (DAPO's token-level loss; VeRL's default
    for every algorithm). ``seq-mean-token-mean``: per response, then over responses (the
    GRPO paper's sample-level loss).
    """
    m = mask.to(per_token.dtype)
    if mode == "token-mean":
        return (per_token * m).sum() / m.sum()
    if mode == "seq-mean-token-mean":
        return ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).mean()
    msg = f"unknown loss aggregation {mode!r}"
    raise ValueError(msg)


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float
) -> torch.Tensor:
    """PPO's clipped value loss: ½ · token-mean of max((V − R)², (clip(V, V_old ± clip) − R)²)."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    per_token = torch.maximum((values - returns) ** 2, (clipped - returns) ** 2)
    return 0.5 * masked_mean(per_token, mask)


def mixed_groups(correct: np.ndarray, group_size: int) -> np.ndarray:
    """DAPO's dynamic-sampling filter: True for each group whose responses are not all equal."""
    r = np.asarray(correct, dtype=float).reshape(-1, group_size)
    return r.max(1) > r.min(1)


def overlong_penalty(lengths: np.ndarray, max_length: int, buffer: int, factor: float = 1.0) -> np.ndarray:
    """DAPO's soft overlong punishment of responses of ``lengths`` tokens (EOS counted).

    0 up to ``max_length − buffer`` tokens, then falling linearly to −``factor`` at
    ``max_length`` (a response cut off at the limit gets the full −``factor``). ``buffer`` 0:
    no shaping.
    """
    lengths = np.asarray(lengths, dtype=float)
    if buffer <= 0:
        return np.zeros_like(lengths)
    excess = lengths - (max_length - buffer)
    return np.minimum(-excess / buffer * factor, 0.0)
