"""One RL trainer for the six algorithms of the paper's section 4: GRPO, PPO, Reinforce++, RLOO,
ReMax and DAPO (advantages and losses in :mod:`analysis.toyworld.algorithms`).

A step is :func:`analysis.toyworld.rl.grpo`'s step with the algorithm's pieces swapped in. It
draws ``prompts_per_step`` RL-pool prompts and ``group_size`` responses each with the same
sampler, reward (:func:`~analysis.toyworld.rl.rewards`) and mask
(:func:`~analysis.toyworld.rl.response_mask`); DAPO draws further batches until it holds
``prompts_per_step`` groups with mixed rewards (at most ``max_gen_batches``), ReMax adds one
greedy response per prompt as its baseline, and PPO evaluates a critic (the base's transformer
with a zero-initialised scalar head, its own Adam). Then ``epochs`` × ``minibatches`` clipped
updates; with the defaults (one update per batch, as the paper's runs: PPO mini-batch = prompt
batch) the ratio is 1 and no clip acts. The KL against the frozen base goes where the
algorithm's reference recipe puts it (``kl_placement: auto``): GRPO and DAPO as a k3 loss, the
others as −β·k1 per token in the reward (summed per response where the advantage is
per response). With ``algorithm: grpo`` and the defaults the run equals ``rl.grpo`` step for
step (tests/test_toyworld_algorithms.py). The log adds per-step entropy and KL to the base
(always measured), DAPO's generated batches and kept groups, the clipped share and PPO's value
loss.

Settings, cache keys and jobs of these runs: :mod:`analysis.toyworld.algo_runs`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from analysis.toyworld import algorithms as alg
from analysis.toyworld.algo_runs import AlgorithmConfig, resolve
from analysis.toyworld.config import RLConfig, ToyWorldConfig
from analysis.toyworld.corpus import prompt_codes
from analysis.toyworld.model import forward, vocab
from analysis.toyworld.pretrain import Progress
from analysis.toyworld.rl import response_mask, rewards
from analysis.toyworld.sampler import sample
from analysis.toyworld.tasks import answer, response_format, sample_problems


class Critic(torch.nn.Module):
    """PPO's value model: a copy of the base's transformer and a scalar head, zero at the start.

    The head is named ``lm_head`` so that :func:`analysis.toyworld.model.forward` runs the
    critic unchanged and returns ``(B, T, 1)`` values.
    """

    def __init__(self, base: Any) -> None:
        super().__init__()
        self.config = base.config
        self.model = copy.deepcopy(base.model)
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.lm_head = torch.nn.Linear(base.config.hidden_size, 1, bias=False)
        torch.nn.init.zeros_(self.lm_head.weight)


def _draw(
    policy: Any, cfg: ToyWorldConfig, rl: RLConfig, rng: np.random.Generator, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """One generation batch: prompts ``(B, P)``, continuations ``(B, T)``, gold answers."""
    v, nd, g = vocab(), cfg.task.n_digits, rl.group_size
    a, b = sample_problems(rng, rl.prompts_per_step, "rl", rl.prompt_carries, cfg.task)
    prompts = v.lookup[torch.from_numpy(prompt_codes(a, b, nd).astype(np.int64))].repeat_interleave(g, dim=0)
    golds = [answer(int(x), int(y), nd) for x, y in zip(a, b, strict=True) for _ in range(g)]
    out = sample(
        policy,
        prompts,
        max_new_tokens=rl.max_new_tokens,
        temperature=rl.temperature,
        top_p=rl.top_p,
        generator=gen,
        eos_id=v.eos,
        pad_id=v.pad,
    )
    return prompts, out, golds


def rollout(
    policy: Any,
    cfg: ToyWorldConfig,
    rl: RLConfig,
    algo: AlgorithmConfig,
    rng: np.random.Generator,
    gen: torch.Generator,
) -> dict[str, Any]:
    """The step's training batch; with dynamic sampling, only groups whose rewards differ."""
    g = rl.group_size
    kept: list[tuple[torch.Tensor, torch.Tensor, list[str], np.ndarray]] = []
    texts_all: list[str] = []
    correct_all: list[np.ndarray] = []
    rounds = 0
    while True:
        rounds += 1
        prompts, out, golds = _draw(policy, cfg, rl, rng, gen)
        texts = vocab().decode_batch(out)
        correct = rewards(texts, golds)
        texts_all += texts
        correct_all.append(correct)
        if not algo.dynamic_sampling:
            kept.append((prompts, out, golds, correct))
            break
        rows = np.flatnonzero(np.repeat(alg.mixed_groups(correct, g), g))
        if len(rows):
            kept.append((prompts[rows], out[rows], [golds[i] for i in rows], correct[rows]))
        if sum(len(k[3]) for k in kept) >= rl.prompts_per_step * g or rounds >= algo.max_gen_batches:
            break
    n = rl.prompts_per_step * g
    return {
        "texts": texts_all,
        "generated": np.concatenate(correct_all),
        "gen_batches": rounds,
        "prompts": torch.cat([k[0] for k in kept])[:n] if kept else None,
        "out": torch.cat([k[1] for k in kept])[:n] if kept else None,
        "golds": [x for k in kept for x in k[2]][:n],
        "correct": np.concatenate([k[3] for k in kept])[:n] if kept else np.zeros(0),
    }


def _greedy_scores(policy: Any, prompts: torch.Tensor, golds: list[str], rl: RLConfig) -> torch.Tensor:
    """ReMax's baseline: the reward of each prompt's greedy response, repeated over its group."""
    v, g = vocab(), rl.group_size
    out = sample(
        policy,
        prompts[::g],
        max_new_tokens=rl.max_new_tokens,
        temperature=0.0,
        generator=torch.Generator(),  # greedy: never drawn from
        eos_id=v.eos,
        pad_id=v.pad,
    )
    score = rewards(v.decode_batch(out), golds[::g])
    return torch.from_numpy(score).repeat_interleave(g)


def _logprobs(model: Any, ids: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities ``(B, T)`` of the response tokens after ``p`` prompt tokens, and the full
    log-softmax (for the entropy). The same arithmetic as ``model.token_logprobs``."""
    full = torch.log_softmax(forward(model, ids)[:, :-1].float(), dim=-1)
    return full.gather(-1, ids[:, 1:, None]).squeeze(-1)[:, p - 1 :], full[:, p - 1 :]


def advantages(
    algo: AlgorithmConfig,
    scores: np.ndarray,
    token_rewards: torch.Tensor,
    mask: torch.Tensor,
    group_size: int,
    *,
    greedy: torch.Tensor | None = None,
    values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(advantages ``(B, T)``, PPO's returns or None) of ``algo`` for one batch.

    ``scores``: each response's outcome score; ``token_rewards``: the same on each response's
    last token, minus β·KL per token where the KL goes into the reward.
    """
    name = algo.algorithm
    seq = token_rewards.sum(1).numpy() if algo.kl_placement == "reward" else np.asarray(scores, dtype=float)
    if name in ("grpo", "dapo", "rloo"):
        fn = alg.rloo_advantages if name == "rloo" else alg.grpo_advantages
        adv = torch.from_numpy(fn(seq, group_size)).float()
        return adv[:, None].expand(mask.shape), None
    if name == "remax":
        if greedy is None:
            msg = "ReMax needs the greedy responses' scores"
            raise ValueError(msg)
        return alg.remax_advantages(token_rewards, mask, greedy).float(), None
    if name == "reinforce_pp":
        return alg.reinforce_pp_advantages(token_rewards, mask, algo.gamma).float(), None
    if values is None:
        msg = "PPO needs the critic's values"
        raise ValueError(msg)
    adv, returns = alg.gae_advantages(token_rewards.float(), values, mask, algo.gamma, algo.lam)
    return adv, returns


def train_family(
    base_model: Any,
    cfg: ToyWorldConfig,
    rl: RLConfig,
    algo: AlgorithmConfig,
    seed: int,
    *,
    progress: Progress | None = None,
    on_snapshot: Callable[[int, Any], None] | None = None,
    log_every: int = 5,
) -> tuple[Any, list[dict[str, Any]]]:
    """Train a copy of ``base_model`` with ``algo``; return (policy, per-step log)."""
    algo = resolve(algo, rl, cfg.task)
    policy = copy.deepcopy(base_model)
    for p in policy.parameters():
        p.requires_grad_(True)
    ref = base_model  # used under no_grad only: the KL is always logged, and penalised where beta > 0
    opt = torch.optim.Adam(policy.parameters(), lr=rl.lr)
    critic = Critic(base_model) if algo.algorithm == "ppo" else None
    critic_opt = torch.optim.Adam(critic.parameters(), lr=algo.critic_lr) if critic is not None else None
    rng = np.random.default_rng([seed, 2])
    gen = torch.Generator().manual_seed(seed)
    g = rl.group_size
    log: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for step in range(1, rl.steps + 1):
        policy.eval()
        batch = rollout(policy, cfg, rl, algo, rng, gen)
        generated = batch["generated"]
        entry: dict[str, Any] = {
            "step": step,
            "reward": float(generated.mean()),
            "informative_groups": float(alg.mixed_groups(generated, g).mean()),
            "gen_batches": batch["gen_batches"],
            "kept_groups": len(batch["correct"]) // g,
        }
        if batch["out"] is not None:
            entry |= _update(policy, ref, critic, opt, critic_opt, batch, rl, algo)
        else:  # dynamic sampling found no group with mixed rewards: nothing to learn from
            entry |= dict.fromkeys(("loss", "kl", "entropy", "length", "clip_frac", "value_loss"))
        texts = batch["texts"]
        formats = [response_format(t) for t in texts]
        entry |= {"time": time.perf_counter() - t0}
        entry |= {f"share_{f}": formats.count(f) / len(formats) for f in ("L", "S", "R", "?")}
        log.append(entry)
        if progress is not None and (step % log_every == 0 or step == rl.steps):
            recent = log[-log_every:]
            progress(
                step,
                rl.steps,
                {k: _mean([e[k] for e in recent]) for k in ("reward", "loss", "kl", "entropy")},
            )
        if on_snapshot is not None and step in rl.snapshots:
            policy.eval()
            on_snapshot(step, policy)
    policy.eval()
    return policy, log


def _mean(values: list[float | None]) -> float:
    known = [x for x in values if x is not None]
    return float(np.mean(known)) if known else float("nan")


def _update(
    policy: Any,
    ref: Any,
    critic: Critic | None,
    opt: torch.optim.Optimizer,
    critic_opt: torch.optim.Optimizer | None,
    batch: dict[str, Any],
    rl: RLConfig,
    algo: AlgorithmConfig,
) -> dict[str, float | None]:
    """Score, advantages and the clipped updates of one batch; the step's log fields."""
    v = vocab()
    prompts, out = batch["prompts"], batch["out"]
    mask = response_mask(out, v.eos)
    width = int(mask.sum(1).max())
    out, mask = out[:, :width], mask[:, :width]
    ids = torch.cat([prompts, out], dim=1)
    p = prompts.shape[1]
    lengths = mask.sum(1)
    with torch.no_grad():
        old_logp, full = _logprobs(policy, ids, p)
        ref_logp, _ = _logprobs(ref, ids, p)
        entropy = float(alg.masked_mean(-(full.exp() * full).sum(-1), mask))
        kl = float(alg.masked_mean(alg.kl_estimate(old_logp, ref_logp, "k3"), mask))
        old_values = forward(critic, ids)[:, p - 1 : -1, 0] if critic is not None else None
    scores = batch["correct"] + alg.overlong_penalty(
        lengths.numpy(), rl.max_new_tokens, algo.overlong_buffer or 0, algo.overlong_factor
    )
    token_rewards = alg.outcome_token_rewards(torch.from_numpy(scores), mask)
    if algo.kl_placement == "reward" and rl.beta > 0:
        token_rewards = token_rewards - rl.beta * alg.kl_estimate(old_logp, ref_logp, "k1").double() * mask
    greedy = _greedy_scores(policy, prompts, batch["golds"], rl) if algo.algorithm == "remax" else None
    adv, returns = advantages(algo, scores, token_rewards, mask, rl.group_size, greedy=greedy, values=old_values)
    policy.train()
    losses, clipped, value_losses = [], [], []
    splits = torch.tensor_split(torch.arange(len(ids)), min(algo.minibatches, len(ids)))
    for _ in range(algo.epochs):
        for rows in splits:
            logp, _ = _logprobs(policy, ids[rows], p)
            per_token, acted = alg.policy_loss_tokens(
                logp, old_logp[rows], adv[rows], algo.clip_low, algo.clip_high or algo.clip_low, algo.dual_clip
            )
            if algo.kl_placement == "loss" and rl.beta > 0:
                per_token = per_token + rl.beta * alg.kl_estimate(logp, ref_logp[rows], "k3")
            loss = alg.aggregate(per_token, mask[rows], algo.loss_agg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), rl.grad_clip)
            opt.step()
            losses.append(float(loss.detach()))
            clipped.append(float(alg.masked_mean(acted.float(), mask[rows])))
            if critic is not None and critic_opt is not None and returns is not None and old_values is not None:
                values = forward(critic, ids[rows])[:, p - 1 : -1, 0]
                vloss = alg.value_loss(values, old_values[rows], returns[rows], mask[rows], algo.value_clip)
                critic_opt.zero_grad(set_to_none=True)
                vloss.backward()
                torch.nn.utils.clip_grad_norm_(critic.parameters(), rl.grad_clip)
                critic_opt.step()
                value_losses.append(float(vloss.detach()))
    policy.eval()
    return {
        "loss": float(np.mean(losses)),
        "kl": kl,
        "entropy": entropy,
        "length": float(lengths.float().mean()),
        "clip_frac": float(np.mean(clipped)),
        "value_loss": float(np.mean(value_losses)) if value_losses else None,
    }
