"""Training toy world 2's models: pretraining on the students' corpus and GRPO, reusing the first
toy world's loops and pieces (``supervised``, ``grpo_loss``, ``group_advantages``,
``response_mask``, the KV-cache sampler). Checkpoints are cached under their config key
(``<root>/base-<key>``, ``<root>/rl-<key>``) with a completion marker, so a second call reuses them.
"""

from __future__ import annotations

import copy
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.store import atomic_write_json, is_complete, mark_complete
from analysis.toyworld.model import load_model, token_logprobs
from analysis.toyworld.pretrain import Progress, supervised
from analysis.toyworld.rl import group_advantages, grpo_loss, response_mask
from analysis.toyworld.sampler import sample
from analysis.toyworld2.config import RLConfig, ToyWorld2Config, base_key, code_version, rl_key
from analysis.toyworld2.model import Vocab, new_model, save_model, vocab
from analysis.toyworld2.tasks import (
    PROMPT_LENGTH,
    RESPONSE_LENGTH,
    Problems,
    check,
    draw_problems,
    simulate,
    skill_levels,
    zipf_weights,
)


def corpus_batch(rng: np.random.Generator, n: int, cfg: ToyWorld2Config, v: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pretraining rows (prompt + a student's worked solution + EOS, padded) and the loss mask
    over the targets ``ids[:, 1:]`` (the response and its EOS)."""
    c, t = cfg.corpus, cfg.task
    probs = draw_problems(rng, n, "train", zipf_weights(c.zipf), c.lengths, t.split_salt)
    texts = simulate(probs, rng, skill_levels(c.zipf, c.skill_top, c.skill_gamma, c.skill_floor), c.reorder)
    width = PROMPT_LENGTH + RESPONSE_LENGTH + 1
    ids = torch.full((n, width), v.pad, dtype=torch.long)
    ids[:, :PROMPT_LENGTH] = v.encode_batch(probs.prompts())
    mask = torch.zeros((n, width - 1), dtype=torch.bool)
    for i, text in enumerate(texts):
        m = len(text)
        ids[i, PROMPT_LENGTH : PROMPT_LENGTH + m] = v.encode_batch([text])[0]
        ids[i, PROMPT_LENGTH + m] = v.eos
        mask[i, PROMPT_LENGTH - 1 : PROMPT_LENGTH + m] = True
    return ids, mask


def _log(step: int, total: int, metrics: dict[str, float]) -> None:
    if step % 250 == 0 or step == total or total < 1000:
        sys.stderr.write(f"{step}/{total} " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()) + "\n")


def pretrain(cfg: ToyWorld2Config, progress: Progress | None = _log):
    """The base: a fresh model trained on the corpus with the first world's supervised loop."""
    p = cfg.pretrain
    model = new_model(cfg.model, p.seed)
    rng = np.random.default_rng([p.seed, 21])
    v = vocab()
    log = supervised(
        model,
        lambda _step: corpus_batch(rng, p.batch_size, cfg, v),
        steps=p.steps,
        lr=p.lr,
        warmup=p.warmup,
        min_lr_ratio=p.min_lr_ratio,
        weight_decay=p.weight_decay,
        grad_clip=p.grad_clip,
        progress=progress,
    )
    return model, log


def rl_prompts(rng: np.random.Generator, n: int, cfg: ToyWorld2Config, rl: RLConfig) -> Problems:
    """RL prompts from the rl pool: like the test set unless ``rl.prompt_zipf`` is set."""
    z = cfg.task.test_zipf if rl.prompt_zipf is None else rl.prompt_zipf
    return draw_problems(rng, n, "rl", zipf_weights(z), cfg.task.test_lengths, cfg.task.split_salt)


def grpo(base_model, cfg: ToyWorld2Config, rl: RLConfig, seed: int) -> tuple[Any, list[dict[str, Any]]]:
    """GRPO from ``base_model`` (0/1 exact-match reward, token-mean loss, k3 KL against the base),
    the same update as ``analysis.toyworld.rl.grpo`` on this family's prompts."""
    policy = copy.deepcopy(base_model)
    for p in policy.parameters():
        p.requires_grad_(True)
    ref = base_model if rl.beta > 0 else None
    opt = torch.optim.Adam(policy.parameters(), lr=rl.lr)
    rng = np.random.default_rng([seed, 22])
    gen = torch.Generator().manual_seed(seed)
    v = vocab()
    g = rl.group_size
    log: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for step in range(1, rl.steps + 1):
        probs = rl_prompts(rng, rl.prompts_per_step, cfg, rl)
        prompts = v.encode_batch(probs.prompts()).repeat_interleave(g, dim=0)
        golds = [a for a in probs.answers() for _ in range(g)]
        policy.eval()
        out = sample(
            policy,
            prompts,
            max_new_tokens=rl.max_new_tokens,
            temperature=rl.temperature,
            generator=gen,
            eos_id=v.eos,
            pad_id=v.pad,
        )
        reward = np.array([float(check(t, gd)) for t, gd in zip(v.decode_batch(out), golds, strict=True)])
        adv = torch.from_numpy(group_advantages(reward, g)).float()
        mask = response_mask(out, v.eos)
        width = int(mask.sum(1).max())
        out, mask = out[:, :width], mask[:, :width]
        ids = torch.cat([prompts, out], dim=1)
        policy.train()
        logp = token_logprobs(policy, ids)[:, PROMPT_LENGTH - 1 :]
        ref_logp = None
        if ref is not None:
            with torch.no_grad():
                ref_logp = token_logprobs(ref, ids)[:, PROMPT_LENGTH - 1 :]
        loss, kl = grpo_loss(logp, ref_logp, adv, mask, rl.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), rl.grad_clip)
        opt.step()
        groups = reward.reshape(-1, g)
        log.append(
            {
                "step": step,
                "reward": float(reward.mean()),
                "kl": kl,
                "informative_groups": float(((groups.max(1) - groups.min(1)) > 0).mean()),
                "time": time.perf_counter() - t0,
            }
        )
        if step % 25 == 0 or step == rl.steps:
            _log(
                step,
                rl.steps,
                {k: float(np.mean([e[k] for e in log[-25:]])) for k in ("reward", "kl")} | {"time": log[-1]["time"]},
            )
    policy.eval()
    return policy, log


def _cached(folder: Path, train, info: dict[str, Any]) -> Path:
    """Train into a temporary folder, then rename it to ``folder`` (skipped if already complete)."""
    if is_complete(folder):
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    with torch.inference_mode(False):
        model, log = train()
    save_model(model, tmp, info)
    atomic_write_json(log, tmp / "train_log.json")
    mark_complete(tmp, info | {"seconds": time.perf_counter() - t0, "code": code_version()})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def base_folder(cfg: ToyWorld2Config, root: str | Path) -> Path:
    return Path(root) / f"base-{base_key(cfg)}"


def rl_folder(cfg: ToyWorld2Config, rl: RLConfig, seed: int, root: str | Path) -> Path:
    return Path(root) / f"rl-{rl_key(cfg, rl, seed)}"


def train_base(cfg: ToyWorld2Config, root: str | Path) -> Path:
    info = {"kind": "base", "key": base_key(cfg), "config": cfg.model_dump(mode="json", exclude={"conditions"})}
    return _cached(base_folder(cfg, root), lambda: pretrain(cfg), info)


def train_rl(cfg: ToyWorld2Config, rl: RLConfig, seed: int, root: str | Path) -> Path:
    base = train_base(cfg, root)
    info = {"kind": "rl", "key": rl_key(cfg, rl, seed), "parent": base.name, "rl": rl.run_settings(), "seed": seed}
    return _cached(rl_folder(cfg, rl, seed, root), lambda: grpo(load_model(base), cfg, rl, seed), info)
