"""Runs of the six-algorithm RL trainer (:mod:`analysis.toyworld.rl_family`): their settings,
cache keys, folders and training jobs.

An RL run of this trainer is (base config, :class:`~analysis.toyworld.config.RLConfig`,
:class:`AlgorithmConfig`, seed). Its key (:func:`family_key`) hashes the base's key (which
holds :func:`~analysis.toyworld.config.code_version` of the training modules, ``rl.py``
included, whose rollout pieces this trainer reuses), ``rl.run_settings()``, the algorithm
settings with every default resolved (so writing a default out does not change the key) and
:func:`family_code_version`, the hash of this trainer's own modules. ``rl.grpo``'s checkpoints
are untouched: their :func:`~analysis.toyworld.config.rl_key` and the training modules' code
version do not see these modules. Checkpoints live in ``<root>/rl-<algorithm>-<key>/``, built
like ``train.job_rl``'s (snapshots, ``train_log.json``, completion marker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.store import mark_complete, stable_hash
from analysis.toyworld.algorithms import LossAgg
from analysis.toyworld.config import RLConfig, TaskConfig, ToyWorldConfig, base_key, code_version
from analysis.toyworld.tasks import response_length
from analysis.toyworld.train import Job, Progress, Trained, _key_of, _train_checkpoint

Algorithm = Literal["grpo", "ppo", "reinforce_pp", "rloo", "remax", "dapo"]
ALGORITHMS: tuple[Algorithm, ...] = ("ppo", "grpo", "reinforce_pp", "rloo", "remax", "dapo")
LABELS = {"ppo": "PPO", "grpo": "GRPO", "reinforce_pp": "Reinforce++", "rloo": "RLOO", "remax": "ReMax", "dapo": "DAPO"}
# The modules whose code determines what this trainer produces, beyond the training modules.
FAMILY_MODULES = ("algorithms.py", "rl_family.py", "algo_runs.py")
_KL_IN_LOSS = {"grpo", "dapo"}


class AlgorithmConfig(BaseModel):
    """How an RL run turns rollouts into updates; ``None`` and ``auto`` take the algorithm's default
    (:func:`resolve`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm = "grpo"
    kl_placement: Literal["auto", "loss", "reward"] = "auto"  # auto: loss for GRPO/DAPO, else reward
    loss_agg: LossAgg = "token-mean"
    clip_low: float = Field(0.2, gt=0, lt=1)
    clip_high: float | None = Field(None, gt=0)  # None: clip_low; DAPO: its clip-higher 0.28
    dual_clip: float | None = Field(3.0, gt=1)
    epochs: int = Field(1, ge=1)
    minibatches: int = Field(1, ge=1)  # one update per batch, as the paper's runs (mini-batch = batch)
    gamma: float = Field(1.0, ge=0, le=1)  # PPO, Reinforce++
    lam: float = Field(1.0, ge=0, le=1)  # PPO's GAE
    critic_lr: float = Field(3e-3, gt=0)  # PPO; VeRL's examples give the critic 10x the actor's rate
    value_clip: float = Field(0.5, gt=0)
    dynamic_sampling: bool | None = None  # None: on for DAPO only
    max_gen_batches: int = Field(4, ge=1)  # dynamic sampling: generation batches per step at most
    overlong_buffer: int | None = Field(None, ge=0)  # None: DAPO see resolve(); others 0 (off)
    overlong_factor: float = Field(1.0, ge=0)


def resolve(algo: AlgorithmConfig, rl: RLConfig, task: TaskConfig) -> AlgorithmConfig:
    """``algo`` with every default filled in (what a run's key hashes).

    DAPO's overlong buffer defaults to the room between the longest clean response (the careful
    trace, EOS counted) and ``max_new_tokens``: only responses longer than any correct one are
    shaped, down to −``overlong_factor`` for one cut off at the limit. Without room, no shaping.
    """
    dapo = algo.algorithm == "dapo"
    room = max(rl.max_new_tokens - (response_length("R", task.n_digits) + 1), 0)
    placement = algo.kl_placement
    if placement == "auto":
        placement = "loss" if algo.algorithm in _KL_IN_LOSS else "reward"
    return algo.model_copy(
        update={
            "kl_placement": placement,
            "clip_high": algo.clip_high if algo.clip_high is not None else (0.28 if dapo else algo.clip_low),
            "dynamic_sampling": algo.dynamic_sampling if algo.dynamic_sampling is not None else dapo,
            "overlong_buffer": algo.overlong_buffer if algo.overlong_buffer is not None else (room if dapo else 0),
        }
    )


def family_code_version() -> str:
    """Hash of this trainer's own modules' code (:data:`FAMILY_MODULES`)."""
    return code_version(FAMILY_MODULES)


def family_key(cfg: ToyWorldConfig, rl: RLConfig, algo: AlgorithmConfig, seed: int) -> str:
    """Cache key of one run of this trainer (never equal to an ``rl.grpo`` run's ``rl_key``)."""
    return stable_hash(
        {
            "kind": "rl-family",
            "parent": base_key(cfg),
            "rl": rl.run_settings(),
            "algorithm": resolve(algo, rl, cfg.task).model_dump(mode="json"),
            "code": family_code_version(),
            "seed": seed,
        }
    )


def family_folder(cfg: ToyWorldConfig, rl: RLConfig, algo: AlgorithmConfig, seed: int, root: str | Path) -> Path:
    """``<root>/rl-<algorithm>-<key>``: where the run's checkpoint is (or will be) stored."""
    return Path(root) / f"rl-{algo.algorithm}-{family_key(cfg, rl, algo, seed)}"


def job_rl_family(
    config: dict[str, Any],
    rl: dict[str, Any],
    algorithm: dict[str, Any],
    seed: int,
    base_folder: str,
    folder: str,
    progress: Progress,
) -> str:
    """Train one run into ``folder`` unless it is complete (a worker-process job); its path."""
    from analysis.toyworld.model import load_model, save_model
    from analysis.toyworld.rl import snapshot_dir
    from analysis.toyworld.rl_family import train_family

    cfg = ToyWorldConfig.model_validate(config)
    rl_cfg = RLConfig.model_validate(rl)
    algo = resolve(AlgorithmConfig.model_validate(algorithm), rl_cfg, cfg.task)

    def train(tmp: Path, info: dict[str, Any]) -> Trained:
        def on_snapshot(step: int, policy: Any) -> None:
            snapshot = save_model(policy, snapshot_dir(tmp, step), info | {"step": step})
            mark_complete(snapshot, info | {"step": step})

        base = load_model(base_folder)
        policy, log = train_family(base, cfg, rl_cfg, algo, seed, progress=progress, on_snapshot=on_snapshot)
        return policy, log, {"rl": rl_cfg.run_settings(), "step": rl_cfg.steps}

    info = {
        "kind": "rl",
        "parent": _key_of(Path(base_folder)),
        "seed": seed,
        "algorithm": algo.model_dump(mode="json"),
        "family_code_version": family_code_version(),
    }
    return _train_checkpoint(folder, info, train)


def family_job(
    cfg: ToyWorldConfig,
    name: str,
    rl: RLConfig,
    algo: AlgorithmConfig,
    seed: int,
    base_folder: str | Path,
    folder: str | Path,
) -> Job:
    """The job that trains one run of this trainer from the base in ``base_folder`` into ``folder``
    (for ``analysis.toyworld.train.run_jobs``)."""
    return Job(
        name,
        job_rl_family,
        {
            "config": cfg.model_dump(mode="json"),
            "rl": rl.model_dump(mode="json"),
            "algorithm": algo.model_dump(mode="json"),
            "seed": seed,
            "base_folder": str(base_folder),
            "folder": str(folder),
        },
    )
