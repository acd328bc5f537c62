"""Typed configurations of toy world 2, YAML loading (with ``extends``) and checkpoint cache keys.

The model shape and pretraining settings are the first toy world's (``analysis.toyworld.config``);
the task, corpus, RL and evaluation sections are this family's own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analysis.store import stable_hash
from analysis.toyworld.config import ModelShape, PretrainConfig, _normalised_source, read_config_dict
from analysis.toyworld.config import code_version as first_world_code_version

# This package's modules whose code determines a checkpoint (plus the first world's training code).
TRAINING_MODULES = ("tasks.py", "config.py", "model.py", "train.py")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _lengths(v: dict[int, float]) -> dict[int, float]:
    if not v or any(k < 1 or k > 4 for k in v) or any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
        msg = f"program lengths must be weights over 1..4, got {v}"
        raise ValueError(msg)
    total = sum(v.values())
    return {k: round(w / total, 10) for k, w in sorted(v.items()) if w > 0}


class TaskConfig(_Strict):
    test_size: int = Field(200, ge=1)
    test_seed: int = 2024
    # Op frequencies of the test set (and of in-distribution RL prompts): 1 / rank**test_zipf.
    test_zipf: float = Field(0.0, ge=0)
    test_lengths: dict[int, float] = {1: 1, 2: 1, 3: 1, 4: 1}
    split_salt: int = 0

    @field_validator("test_lengths")
    @classmethod
    def _w(cls, v: dict[int, float]) -> dict[int, float]:
        return _lengths(v)


class CorpusConfig(_Strict):
    """The pretraining corpus: ops by Zipf(``zipf``); students' reliability per op (see
    ``analysis.toyworld2.tasks.skill_levels``) and their share of reordered solutions."""

    zipf: float = Field(1.0, ge=0)
    lengths: dict[int, float] = {1: 1, 2: 1, 3: 1, 4: 1}
    skill_top: float = Field(0.97, gt=0, le=1)
    skill_gamma: float = Field(0.6, ge=0)
    skill_floor: float = Field(0.05, ge=0, le=1)
    reorder: float = Field(0.3, ge=0, le=1)

    @field_validator("lengths")
    @classmethod
    def _w(cls, v: dict[int, float]) -> dict[int, float]:
        return _lengths(v)


class RLConfig(_Strict):
    """GRPO with a 0/1 exact-match reward. ``prompt_zipf`` None: RL prompts are drawn like the test
    set (in-distribution); a number: ops by 1 / rank**prompt_zipf instead."""

    prompt_zipf: float | None = None
    prompts_per_step: int = Field(16, ge=1)
    group_size: int = Field(8, ge=2)
    steps: int = Field(150, ge=1)
    lr: float = 3e-4
    beta: float = Field(0.0, ge=0)
    temperature: float = Field(1.0, gt=0)
    max_new_tokens: int = 26
    grad_clip: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)

    def run_settings(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"seeds"})


class EvalConfig(_Strict):
    temperatures: tuple[float, ...] = (0.6, 1.0)
    n: int = 256
    ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    max_new_tokens: int = 26


class ToyWorld2Config(_Strict):
    name: str = "default"
    task: TaskConfig = TaskConfig()
    corpus: CorpusConfig = CorpusConfig()
    model: ModelShape = ModelShape()
    pretrain: PretrainConfig = PretrainConfig()
    rl: RLConfig = RLConfig()
    # Named variations of the RL recipe: each is merged over ``rl`` (same base).
    conditions: dict[str, dict[str, Any]] = {}
    eval: EvalConfig = EvalConfig()

    def rl_runs(self) -> dict[str, RLConfig]:
        """``default`` and every condition, as full RL configs."""
        out = {"default": self.rl}
        for name, over in self.conditions.items():
            out[name] = RLConfig.model_validate(self.rl.model_dump() | over)
        return out


def load_config(path: str | os.PathLike[str]) -> tuple[ToyWorld2Config, dict[str, Any]]:
    """The validated config at ``path`` and its merged mapping (for provenance)."""
    data = read_config_dict(path)
    cfg = ToyWorld2Config.model_validate(data)
    return cfg, cfg.model_dump(mode="json")


def code_version() -> str:
    """Hash of this family's training code and the first world's (whose loops it reuses)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(first_world_code_version().encode())
    for name in TRAINING_MODULES:
        h.update(name.encode())
        h.update(_normalised_source(here / name).encode())
    return h.hexdigest()[:12]


def base_key(cfg: ToyWorld2Config) -> str:
    parts = {"kind": "base2", "task": cfg.task, "corpus": cfg.corpus, "model": cfg.model}
    return stable_hash(parts | {"pretrain": cfg.pretrain, "code": code_version()})


def rl_key(cfg: ToyWorld2Config, rl: RLConfig, seed: int) -> str:
    return stable_hash({"kind": "rl2", "parent": base_key(cfg), "rl": rl.run_settings(), "seed": seed})
