"""RLVR: GRPO with a 0/1 verifiable reward, in a small loop written for this CPU.

Each step draws ``prompts_per_step`` problems from the rl pool (carry counts weighted by
``prompt_carries``), samples ``group_size`` responses per prompt from the current policy
(temperature ``temperature``), and rewards each with 1 if ``analysis.grading.grade_exact``
accepts its final answer, else 0. Nothing else is rewarded: not the format, not the worked
solution. The advantage of a response is its reward minus its group's mean, divided by the
group's standard deviation plus 1e-4 (GRPO). The loss is averaged over all response tokens of
the step (token-mean, as in DAPO/Dr.GRPO), with one on-policy update per batch, so the PPO
ratio is 1 and clipping would never act; the KL penalty against the frozen base uses the k3
estimator exp(r) − r − 1 with r = log π_ref − log π per token (DeepSeekMath), weighted by
``beta``.

Why not TRL's ``GRPOTrainer``: it samples with ``model.generate`` and adds its own per-step
overhead, which the prototype measured at about the cost of this whole loop per step on this
CPU; this loop samples with the toy world's KV-cache sampler, is deterministic for a seed, logs
the students' strategy shares, and needs no extra dependency (TRL, accelerate, datasets).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.grading import grade_exact
from analysis.toyworld.config import RLConfig, ToyWorldConfig
from analysis.toyworld.corpus import prompt_codes
from analysis.toyworld.model import token_logprobs, vocab
from analysis.toyworld.pretrain import Progress
from analysis.toyworld.sampler import sample
from analysis.toyworld.tasks import answer, response_format, sample_problems


def rewards(responses: list[str], golds: list[str]) -> np.ndarray:
    """The 0/1 verifiable reward: exact match of the final answer after ``A:``."""
    return np.array([float(grade_exact(r, g).correct) for r, g in zip(responses, golds, strict=True)])


def group_advantages(reward: np.ndarray, group_size: int) -> np.ndarray:
    """(r − group mean) / (group std + 1e-4), groups being consecutive runs of ``group_size``."""
    r = reward.reshape(-1, group_size)
    adv = (r - r.mean(1, keepdims=True)) / (r.std(1, keepdims=True) + 1e-4)
    return adv.reshape(-1)


def response_mask(out: torch.Tensor, eos: int) -> torch.Tensor:
    """True on each sampled token up to and including the first EOS."""
    is_eos = (out == eos).long()
    before = is_eos.cumsum(1) - is_eos  # EOS tokens strictly before this position
    return before == 0


def grpo_loss(
    logp: torch.Tensor, ref_logp: torch.Tensor | None, adv: torch.Tensor, mask: torch.Tensor, beta: float
) -> tuple[torch.Tensor, float]:
    """Token-mean GRPO loss of one on-policy batch, and the mean per-token KL estimate."""
    m = mask.float()
    ratio = torch.exp(logp - logp.detach())  # = 1, with the policy gradient as its gradient
    per_token = -adv[:, None] * ratio
    kl_mean = 0.0
    if ref_logp is not None and beta > 0:
        d = ref_logp - logp
        kl = torch.exp(d) - d - 1
        per_token = per_token + beta * kl
        kl_mean = float((kl.detach() * m).sum() / m.sum())
    return (per_token * m).sum() / m.sum(), kl_mean


def grpo(
    base_model,
    cfg: ToyWorldConfig,
    rl: RLConfig,
    seed: int,
    *,
    progress: Progress | None = None,
    on_snapshot: Callable[[int, Any], None] | None = None,
    log_every: int = 5,
) -> tuple[Any, list[dict[str, Any]]]:
    """Train a copy of ``base_model`` with GRPO; return (policy, per-step log).

    ``on_snapshot(step, policy)`` is called after each step listed in ``rl.snapshots``.
    """
    policy = copy.deepcopy(base_model)
    for p in policy.parameters():
        p.requires_grad_(True)
    ref = base_model if rl.beta > 0 else None  # used under no_grad only, never modified
    opt = torch.optim.Adam(policy.parameters(), lr=rl.lr)
    rng = np.random.default_rng([seed, 2])
    gen = torch.Generator().manual_seed(seed)
    v = vocab()
    nd = cfg.task.n_digits
    g = rl.group_size
    log: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for step in range(1, rl.steps + 1):
        a, b = sample_problems(rng, rl.prompts_per_step, "rl", rl.prompt_carries, cfg.task)
        prompts = v.lookup[torch.from_numpy(prompt_codes(a, b, nd).astype(np.int64))].repeat_interleave(g, dim=0)
        golds = [answer(int(x), int(y), nd) for x, y in zip(a, b, strict=True) for _ in range(g)]
        policy.eval()
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
        texts = v.decode_batch(out)
        reward = rewards(texts, golds)
        adv = torch.from_numpy(group_advantages(reward, g)).float()
        mask = response_mask(out, v.eos)
        width = int(mask.sum(1).max())
        out, mask = out[:, :width], mask[:, :width]
        ids = torch.cat([prompts, out], dim=1)
        p = prompts.shape[1]
        policy.train()
        logp = token_logprobs(policy, ids)[:, p - 1 :]
        ref_logp = None
        if ref is not None:
            with torch.no_grad():
                ref_logp = token_logprobs(ref, ids)[:, p - 1 :]
        loss, kl = grpo_loss(logp, ref_logp, adv, mask, rl.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), rl.grad_clip)
        opt.step()
        formats = [response_format(t) for t in texts]
        groups = reward.reshape(-1, g)
        entry = {
            "step": step,
            "reward": float(reward.mean()),
            "loss": float(loss.detach()),
            "kl": kl,
            "informative_groups": float(((groups.max(1) - groups.min(1)) > 0).mean()),
            "length": float(mask.sum(1).float().mean()),
            "time": time.perf_counter() - t0,
        } | {f"share_{f}": formats.count(f) / len(formats) for f in ("L", "S", "R", "?")}
        log.append(entry)
        if progress is not None and (step % log_every == 0 or step == rl.steps):
            recent = log[-log_every:]
            progress(
                step,
                rl.steps,
                {
                    "reward": float(np.mean([e["reward"] for e in recent])),
                    "loss": float(np.mean([e["loss"] for e in recent])),
                    "kl": float(np.mean([e["kl"] for e in recent])),
                    "L": entry["share_L"],
                },
            )
        if on_snapshot is not None and step in rl.snapshots:
            policy.eval()
            on_snapshot(step, policy)
    policy.eval()
    return policy, log


def snapshot_dir(run_dir: str | Path, step: int) -> Path:
    """Where an RL run keeps its checkpoint after ``step`` steps."""
    return Path(run_dir) / "snapshots" / f"step-{step:04d}"
