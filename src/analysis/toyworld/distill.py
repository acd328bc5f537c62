"""Distillation: supervised fine-tuning of the base on the teacher's clean worked solutions.

The teacher is the exact solver (``analysis.toyworld.tasks.teacher_solution``): every row is a
fresh train-pool problem answered in the careful format without a single error, so the
distilled model learns a method that the base's students only half mastered.
"""

from __future__ import annotations

import numpy as np

from analysis.toyworld.config import ToyWorldConfig
from analysis.toyworld.corpus import teacher_batch
from analysis.toyworld.model import vocab
from analysis.toyworld.pretrain import Progress, supervised


def distill(base_model, cfg: ToyWorldConfig, progress: Progress | None = None):
    """Fine-tune ``base_model`` (in place) on teacher traces; return (model, log)."""
    d = cfg.distill
    if d is None:
        msg = "this config has no distill section"
        raise ValueError(msg)
    rng = np.random.default_rng([d.seed, 3])
    v = vocab()
    log = supervised(
        base_model,
        lambda _step: teacher_batch(rng, d.batch_size, d.carries, cfg.task, v),
        steps=d.steps,
        lr=d.lr,
        warmup=d.warmup,
        min_lr_ratio=d.min_lr_ratio,
        weight_decay=d.weight_decay,
        grad_clip=d.grad_clip,
        progress=progress,
    )
    return base_model, log
