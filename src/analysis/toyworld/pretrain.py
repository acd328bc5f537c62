"""Supervised training loops: pretraining of the base on the students' corpus (and the shared
next-token loop that distillation reuses)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from analysis.toyworld.config import ToyWorldConfig
from analysis.toyworld.corpus import student_batch
from analysis.toyworld.model import forward, new_model, vocab

# progress(step, total, metrics): called every few steps and at the end.
Progress = Callable[[int, int, dict[str, float]], None]


def lr_factor(step: int, steps: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def next_token_loss(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the targets ``ids[:, 1:]`` selected by ``mask``."""
    logits = forward(model, ids)[:, :-1]
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none"
    )
    m = mask.reshape(-1).float()
    return (nll * m).sum() / m.sum()


def supervised(
    model,
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    lr: float,
    warmup: int,
    min_lr_ratio: float,
    weight_decay: float,
    grad_clip: float,
    progress: Progress | None = None,
    log_every: int = 25,
) -> list[dict[str, Any]]:
    """Train ``model`` on ``batch(step)`` for ``steps`` AdamW steps; return the log."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    log: list[dict[str, Any]] = []
    model.train()
    t0 = time.perf_counter()
    running = 0.0
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step, steps, warmup, min_lr_ratio)
        ids, mask = batch(step)
        loss = next_token_loss(model, ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        running += float(loss.detach())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            n = (step % log_every) + 1
            entry = {
                "step": step + 1,
                "loss": running / n,
                "lr": opt.param_groups[0]["lr"],
                "time": time.perf_counter() - t0,
            }
            running = 0.0
            log.append(entry)
            if progress is not None:
                progress(step + 1, steps, {"loss": entry["loss"]})
    model.eval()
    return log


def pretrain(cfg: ToyWorldConfig, progress: Progress | None = None):
    """The base model: a fresh model trained on the students' corpus. Returns (model, log)."""
    p = cfg.pretrain
    model = new_model(cfg.model, p.seed)
    rng = np.random.default_rng([p.seed, 1])
    v = vocab()
    log = supervised(
        model,
        lambda _step: student_batch(rng, p.batch_size, cfg.corpus, cfg.task, v),
        steps=p.steps,
        lr=p.lr,
        warmup=p.warmup,
        min_lr_ratio=p.min_lr_ratio,
        weight_decay=p.weight_decay,
        grad_clip=p.grad_clip,
        progress=progress,
    )
    return model, log
