"""Typed toy-world configurations: validation, YAML loading with ``extends``, and cache keys.

A config names everything that determines the trained checkpoints. Each checkpoint is cached
under a key that hashes the parts of the config it depends on, its parent's key and the
version of the training code (:func:`code_version`), so editing an RL setting retrains only
the RL runs, and a second run of the same config reuses every checkpoint.
"""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analysis.store import stable_hash

StrategyName = Literal["shortcut", "sloppy", "careful"]

# The modules whose code determines what a training run produces. Editing evaluate.py or
# phase.py does not invalidate checkpoints; editing any of these does.
TRAINING_MODULES = ("tasks.py", "corpus.py", "model.py", "sampler.py", "pretrain.py", "rl.py", "distill.py")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_weights(weights: dict[int, float], what: str) -> dict[int, float]:
    if not weights:
        msg = f"{what}: at least one carry count needs a positive weight"
        raise ValueError(msg)
    for k, w in weights.items():
        if k < 0:
            msg = f"{what}: carry count {k} is negative"
            raise ValueError(msg)
        if w < 0:
            msg = f"{what}: weight {w} of carry count {k} is negative"
            raise ValueError(msg)
    total = sum(weights.values())
    if total <= 0:
        msg = f"{what}: weights {weights} sum to zero"
        raise ValueError(msg)
    # Normalised and rounded, so that equal mixtures written differently hash the same.
    return {k: round(w / total, 10) for k, w in sorted(weights.items()) if w > 0}


class TaskConfig(_Strict):
    """The task family: ``Q:abc+def=`` addition of ``n_digits``-digit operands."""

    n_digits: int = Field(3, ge=1, le=6)
    test_size: int = Field(200, ge=1)
    # Relative share of each carry count (the difficulty stratum) in the test set.
    test_carries: dict[int, float] = {0: 3, 1: 1, 2: 1, 3: 1}
    test_seed: int = 12345
    # Salt of the hash that assigns every unordered operand pair to the train, rl or test pool.
    split_salt: int = 0

    @field_validator("test_carries")
    @classmethod
    def _weights(cls, v: dict[int, float]) -> dict[int, float]:
        return _check_weights(v, "task.test_carries")

    @model_validator(mode="after")
    def _carries_possible(self) -> TaskConfig:
        bad = [k for k, w in self.test_carries.items() if w > 0 and k > self.n_digits]
        if bad:
            msg = f"task.test_carries: {bad} carries are impossible with {self.n_digits}-digit operands"
            raise ValueError(msg)
        return self


class Strategy(_Strict):
    """One population of students in the pretraining corpus.

    ``shortcut``: left to right, each column's digit sum mod 10, carries ignored (right only on
    carry-free problems). ``sloppy``: the shortcut's layout with a misconception, |x − y|
    instead of x + y in every column. ``careful``: right to left with explicit carries (the
    correct algorithm), but each carry is dropped with probability ``forget`` (the final one
    too, which is the answer's leading digit), and where there is no carry one is invented
    with probability ``phantom`` (in every column but the first, and in the leading digit).
    ``slip``: per column, the probability of writing a wrong, uniformly random digit.
    """

    name: StrategyName
    share: float = Field(gt=0)
    slip: float = Field(0.0, ge=0, le=1)
    forget: float = Field(0.0, ge=0, le=1)
    phantom: float = Field(0.0, ge=0, le=1)


class CorpusConfig(_Strict):
    strategies: tuple[Strategy, ...]
    carries: dict[int, float] = {0: 3, 1: 1, 2: 1, 3: 1}

    @field_validator("carries")
    @classmethod
    def _weights(cls, v: dict[int, float]) -> dict[int, float]:
        return _check_weights(v, "corpus.carries")

    @field_validator("strategies")
    @classmethod
    def _unique(cls, v: tuple[Strategy, ...]) -> tuple[Strategy, ...]:
        names = [s.name for s in v]
        if not names or len(set(names)) != len(names):
            msg = f"corpus.strategies: need at least one strategy, each at most once (got {names})"
            raise ValueError(msg)
        return v


class ModelShape(_Strict):
    hidden_size: int = 64
    num_layers: int = 3
    num_heads: int = 4
    num_kv_heads: int = 4
    intermediate_size: int = 172
    max_positions: int = 64

    @model_validator(mode="after")
    def _heads(self) -> ModelShape:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            msg = (
                f"model: hidden_size {self.hidden_size} must be a multiple of num_heads {self.num_heads}, "
                f"and num_heads a multiple of num_kv_heads {self.num_kv_heads}"
            )
            raise ValueError(msg)
        return self


class PretrainConfig(_Strict):
    steps: int = Field(1500, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = 3e-3
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0


class RLConfig(_Strict):
    """GRPO with a 0/1 exact-match reward (see ``analysis.toyworld.rl``)."""

    # Relative share of each carry count among the RL prompts (drawn from the rl pool).
    prompt_carries: dict[int, float] = {0: 1}
    prompts_per_step: int = Field(16, ge=1)
    group_size: int = Field(16, ge=2)
    steps: int = Field(100, ge=1)
    lr: float = 3e-4
    beta: float = Field(0.05, ge=0)  # KL coefficient (k3 estimator, against the base)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = 32
    grad_clip: float = 1.0
    snapshots: tuple[int, ...] = (50,)
    seeds: tuple[int, ...] = (0,)

    @field_validator("prompt_carries")
    @classmethod
    def _weights(cls, v: dict[int, float]) -> dict[int, float]:
        return _check_weights(v, "rl.prompt_carries")

    def run_settings(self) -> dict[str, Any]:
        """Everything but the seeds: what one RL run's checkpoint depends on besides its seed."""
        return self.model_dump(mode="json", exclude={"seeds"})


class DistillConfig(_Strict):
    """SFT of the base on the exact solver's clean traces for fresh train-pool problems."""

    steps: int = Field(300, ge=1)
    batch_size: int = 128
    lr: float = 5e-4
    warmup: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    carries: dict[int, float] = {0: 3, 1: 1, 2: 1, 3: 1}
    seed: int = 0


class EvalConfig(_Strict):
    """What the study (and ``analysis.toyworld.evaluate``) samples from every model."""

    temperatures: tuple[float, ...] = (0.6, 1.0)
    top_p: float = 1.0
    n: int = 256
    max_new_tokens: int = 32
    ks: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    perplexity_samples: int = 16  # per problem, for perplexity under the base


class ToyWorldConfig(_Strict):
    name: str = "toyworld"
    task: TaskConfig = TaskConfig()
    corpus: CorpusConfig
    model: ModelShape = ModelShape()
    pretrain: PretrainConfig = PretrainConfig()
    rl: dict[str, RLConfig] = {}
    distill: DistillConfig | None = DistillConfig()
    eval: EvalConfig = EvalConfig()
    workers: int = Field(2, ge=1)  # processes for the jobs after pretraining (one torch thread each)

    @model_validator(mode="after")
    def _names(self) -> ToyWorldConfig:
        names = self.model_names()
        if len(set(names)) != len(names):
            msg = f"model names collide: {names}"
            raise ValueError(msg)
        return self

    def base_world(self) -> ToyWorldConfig:
        """This world without its RL runs and distillation: what an experiment grid trains its own
        RL runs from (its base, and the keys of its runs)."""
        return self.model_copy(update={"rl": {}, "distill": None})

    def model_names(self) -> list[str]:
        names = [BASE]
        for run, rl in self.rl.items():
            names += rl_model_names(run, rl)
        if self.distill is not None:
            names.append(DISTILL)
        return names


BASE = "base"  # the toy world's name for its base checkpoint (a study's path ``toyworld:base``)
DISTILL = "distill"  # and for its distilled model


def rl_model_names(run: str, rl: RLConfig) -> list[str]:
    """``run`` for a single-seed run, else ``run-seed<k>`` for each seed."""
    if len(rl.seeds) == 1:
        return [run]
    return [f"{run}-seed{s}" for s in rl.seeds]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not v.get("_replace", False):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = {kk: vv for kk, vv in v.items() if kk != "_replace"} if isinstance(v, dict) else v
    return out


def read_config_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML mapping at ``path``, with ``extends: other.yaml`` (relative) merged under it.

    A mapping holding ``_replace: true`` replaces the inherited mapping instead of merging.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"toy-world config not found: {p}"
        raise FileNotFoundError(msg)
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        msg = f"{p}: a toy-world config must be a YAML mapping, got {type(data).__name__}"
        raise ValueError(msg)
    parent = data.pop("extends", None)
    if parent is not None:
        data = _deep_merge(read_config_dict(p.parent / parent), data)
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> ToyWorldConfig:
    """Validate the config at ``path`` (default: ``configs/toyworld/default.yaml``)."""
    data = read_config_dict(default_config_path() if path is None else path)
    data.pop("phase", None)  # the phase diagram's own section (analysis.toyworld.phase)
    return ToyWorldConfig.model_validate(data)


def default_config_path() -> Path:
    """The default config of a source checkout (``configs/toyworld/default.yaml``)."""
    env = os.environ.get("TOYWORLD_DEFAULT_CONFIG")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "configs" / "toyworld" / "default.yaml"


def _normalised_source(path: Path) -> str:
    """The module's syntax tree without docstrings: formatting and comments do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def code_version(modules: tuple[str, ...] = TRAINING_MODULES) -> str:
    """Hash of the training modules' code (not their formatting, comments or docstrings): part
    of every checkpoint's cache key, so changed training code never reuses a stale checkpoint."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in modules:
        h.update(name.encode())
        h.update(_normalised_source(here / name).encode())
    return h.hexdigest()[:12]


def base_key(cfg: ToyWorldConfig) -> str:
    return stable_hash(
        {
            "kind": "base",
            "task": cfg.task,
            "corpus": cfg.corpus,
            "model": cfg.model,
            "pretrain": cfg.pretrain,
            "code": code_version(),
        }
    )


def rl_key(cfg: ToyWorldConfig, rl: RLConfig, seed: int) -> str:
    return stable_hash({"kind": "rl", "parent": base_key(cfg), "rl": rl.run_settings(), "seed": seed})


def distill_key(cfg: ToyWorldConfig) -> str:
    if cfg.distill is None:
        msg = "this config has no distill section"
        raise ValueError(msg)
    return stable_hash({"kind": "distill", "parent": base_key(cfg), "distill": cfg.distill, "task": cfg.task})
