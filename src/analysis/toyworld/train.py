"""Train every model of a toy-world config: the base, its RL runs and the distilled model.

``train_all(config, out_root)`` trains them all (also ``python -m analysis.toyworld train
--config ...`` and ``notebooks/train_toyworld.ipynb``); ``train_one`` trains one, for a workflow
that schedules each model as its own job. Each checkpoint lives in
``<out_root>/<kind>-<key>/`` where the key hashes its config section, its parent's key and the
training code (``analysis.toyworld.config``), so a second run reuses every finished checkpoint.
A job trains into a temporary folder and renames it into place when done (the completion
marker is written before the rename), so a killed run leaves no half-written checkpoint.

After the base, the jobs are independent; ``train_all`` runs them in ``workers`` processes with
one torch thread each (``analysis.toyworld.jobs``). Every job runs on one torch thread wherever it
runs, so the same seed gives the same checkpoint whatever the number of cores.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.store import atomic_write_json, is_complete, mark_complete, read_marker, stable_hash
from analysis.toyworld.config import (
    BASE,
    DISTILL,
    RLConfig,
    ToyWorldConfig,
    base_key,
    code_version,
    distill_key,
    load_config,
    rl_key,
    rl_model_names,
)
from analysis.toyworld.jobs import Job, Progress, run_jobs

# The source checkout's git-ignored cache (absolute, so notebooks run from any folder use it). A
# study with the default output root (data/runs) trains into the same folder, so the toy-world
# CLI and `make study` share their checkpoints.
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "data" / "runs" / "toyworld"


# ---------------------------------------------------------------------------------------------
# Training jobs (top-level functions: they run in worker processes)


def _finish(tmp: Path, folder: Path, info: dict[str, Any]) -> str:
    mark_complete(tmp, info)
    try:
        tmp.rename(folder)
    except OSError:
        if not is_complete(folder):
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same checkpoint first
    return str(folder)


def _key_of(folder: Path) -> str:
    """The cache key in a checkpoint folder's name (``<kind>-<key>``)."""
    return folder.name.rsplit("-", 1)[-1]


def _tmp_for(folder: Path) -> Path:
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def _save(model: Any, folder: Path, info: dict[str, Any], log: list[dict[str, Any]]) -> None:
    from analysis.toyworld.model import save_model

    save_model(model, folder, info)
    atomic_write_json(log, folder / "train_log.json")


# What a training function returns: (model, log, fields saved with the model only).
Trained = tuple[Any, list[dict[str, Any]], dict[str, Any]]


def _train_checkpoint(folder: str, info: dict[str, Any], train: Callable[[Path, dict[str, Any]], Trained]) -> str:
    """Train one checkpoint into ``folder`` unless it is already complete; return its path.

    ``train(tmp, info)`` gets the temporary folder (RL writes its snapshots there) and the marker
    record, and returns (model, log, fields saved with the model only). The checkpoint appears
    under ``folder`` only when it is finished; a failed run leaves no temporary folder behind.
    """
    out = Path(folder)
    if is_complete(out):
        return str(out)
    t0 = time.perf_counter()
    info = {**info, "key": _key_of(out), "code_version": code_version()}
    tmp = _tmp_for(out)
    try:
        model, log, saved = train(tmp, info)
        info["seconds"] = time.perf_counter() - t0
        _save(model, tmp, info | saved, log)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _finish(tmp, out, info)


def job_pretrain(config: dict[str, Any], folder: str, progress: Progress) -> str:
    from analysis.toyworld.pretrain import pretrain

    cfg = ToyWorldConfig.model_validate(config)

    def train(_tmp: Path, _info: dict[str, Any]) -> Trained:
        model, log = pretrain(cfg, progress)
        saved = {"pretrain": cfg.pretrain.model_dump(mode="json"), "corpus": cfg.corpus.model_dump(mode="json")}
        return model, log, saved

    return _train_checkpoint(folder, {"kind": "base"}, train)


def job_rl(
    config: dict[str, Any], rl: dict[str, Any], seed: int, base_folder: str, folder: str, progress: Progress
) -> str:
    from analysis.toyworld.model import load_model, save_model
    from analysis.toyworld.rl import grpo, snapshot_dir

    cfg = ToyWorldConfig.model_validate(config)
    rl_cfg = RLConfig.model_validate(rl)

    def train(tmp: Path, info: dict[str, Any]) -> Trained:
        def on_snapshot(step: int, policy: Any) -> None:
            snapshot = save_model(policy, snapshot_dir(tmp, step), info | {"step": step})
            mark_complete(snapshot, info | {"step": step})

        policy, log = grpo(load_model(base_folder), cfg, rl_cfg, seed, progress=progress, on_snapshot=on_snapshot)
        return policy, log, {"rl": rl_cfg.run_settings(), "step": rl_cfg.steps}

    return _train_checkpoint(folder, {"kind": "rl", "parent": _key_of(Path(base_folder)), "seed": seed}, train)


def job_distill(config: dict[str, Any], base_folder: str, folder: str, progress: Progress) -> str:
    from analysis.toyworld.distill import distill
    from analysis.toyworld.model import load_model

    cfg = ToyWorldConfig.model_validate(config)

    def train(_tmp: Path, _info: dict[str, Any]) -> Trained:
        model, log = distill(load_model(base_folder), cfg, progress)
        return model, log, {"distill": cfg.distill.model_dump(mode="json") if cfg.distill else None}

    return _train_checkpoint(folder, {"kind": "distill", "parent": _key_of(Path(base_folder))}, train)


# ---------------------------------------------------------------------------------------------
# The entry point


def checkpoint_folders(cfg: ToyWorldConfig, out_root: str | os.PathLike[str]) -> dict[str, Path]:
    """Where each model of ``cfg`` is (or will be) stored, by model name."""
    root = Path(out_root)
    folders = {BASE: root / f"base-{base_key(cfg)}"}
    for run, rl in cfg.rl.items():
        for name, seed in zip(rl_model_names(run, rl), rl.seeds, strict=True):
            folders[name] = root / f"rl-{rl_key(cfg, rl, seed)}"
    if cfg.distill is not None:
        folders[DISTILL] = root / f"distill-{distill_key(cfg)}"
    return folders


def rl_job(
    cfg: ToyWorldConfig,
    name: str,
    rl: RLConfig,
    seed: int,
    base_folder: str | os.PathLike[str],
    folder: str | os.PathLike[str],
) -> Job:
    """The job that trains one RL run of ``cfg`` from the base in ``base_folder`` into ``folder``."""
    return Job(
        name,
        job_rl,
        {
            "config": cfg.model_dump(mode="json"),
            "rl": rl.model_dump(mode="json"),
            "seed": seed,
            "base_folder": str(base_folder),
            "folder": str(folder),
        },
    )


def training_jobs(cfg: ToyWorldConfig, folders: dict[str, Path]) -> dict[str, Job]:
    """The job that trains each model of ``cfg`` into ``folders[name]`` (every job but the base's
    needs the finished base)."""
    dump = cfg.model_dump(mode="json")
    jobs = {BASE: Job(BASE, job_pretrain, {"config": dump, "folder": str(folders[BASE])})}
    for run, rl in cfg.rl.items():
        for name, seed in zip(rl_model_names(run, rl), rl.seeds, strict=True):
            jobs[name] = rl_job(cfg, name, rl, seed, folders[BASE], folders[name])
    if cfg.distill is not None:
        kwargs = {"config": dump, "base_folder": str(folders[BASE]), "folder": str(folders[DISTILL])}
        jobs[DISTILL] = Job(DISTILL, job_distill, kwargs)
    return jobs


def train_one(
    config: str | os.PathLike[str] | ToyWorldConfig | None,
    name: str,
    out_root: str | os.PathLike[str] = DEFAULT_ROOT,
    *,
    progress: bool = True,
) -> Path:
    """Train (or reuse) the one model ``name`` of ``config`` in this process, with one torch thread;
    return its checkpoint folder.

    This is how a workflow trains the models as separate jobs (the Snakefile's ``toy_model`` rule),
    so that its scheduler runs them side by side with other work. Every model but ``base`` needs
    the finished base. The checkpoint is the same bits as ``train_all``'s.
    """
    cfg = config if isinstance(config, ToyWorldConfig) else load_config(config)
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    folders = checkpoint_folders(cfg, root)
    if name not in folders:
        msg = f"the toy world {cfg.name!r} trains no model {name!r} (it trains {', '.join(folders)})"
        raise KeyError(msg)
    if is_complete(folders[name]):
        return folders[name]
    if name != BASE and not is_complete(folders[BASE]):
        msg = f"toy-world model {name!r} starts from the base, not trained yet ({folders[BASE]}): train {BASE!r} first"
        raise FileNotFoundError(msg)
    run_jobs([training_jobs(cfg, folders)[name]], 1, progress)
    return folders[name]


def train_all(
    config: str | os.PathLike[str] | ToyWorldConfig | None = None,
    out_root: str | os.PathLike[str] = DEFAULT_ROOT,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Train (or reuse) every model of ``config``; return the checkpoint folder of each model.

    Names: ``base``, one per RL seed (``<run>-seed<k>``, or ``<run>`` for a single-seed run,
    e.g. ``rl-easy-seed0``, ``rl-indist``) and ``distill``. Each folder is a ``save_pretrained``
    checkpoint with its tokenizer, ``toyworld.json`` and ``train_log.json``; RL folders hold
    ``snapshots/step-XXXX`` checkpoints too. A manifest with the timings of this call is
    written to ``<out_root>/manifest-<name>-<config hash>.json``.
    """
    cfg = config if isinstance(config, ToyWorldConfig) else load_config(config)
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    n_workers = cfg.workers if workers is None else workers
    folders = checkpoint_folders(cfg, root)
    dump = cfg.model_dump(mode="json")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    trained = []
    jobs = training_jobs(cfg, folders)
    if not is_complete(folders[BASE]):
        trained.append(BASE)
        run_jobs([jobs[BASE]], 1, progress)
    timings[BASE] = time.perf_counter() - t0
    jobs = [job for name, job in jobs.items() if name != BASE and not is_complete(folders[name])]
    t1 = time.perf_counter()
    run_jobs(jobs, n_workers, progress)
    timings["after_base"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    job_seconds = {name: read_marker(f).get("seconds") for name, f in folders.items()}
    atomic_write_json(
        {
            "config": dump,
            "code_version": code_version(),
            "folders": {k: str(v) for k, v in folders.items()},
            "wall_seconds_this_call": timings,
            "job_seconds": job_seconds,
            "trained_this_call": trained + [j.name for j in jobs],
        },
        root / f"manifest-{cfg.name}-{stable_hash(dump, 12)}.json",
    )
    return folders


def training_summary(folders: dict[str, Path]) -> list[dict[str, Any]]:
    """One record per model: kind, seconds of training, and the end of its training log."""
    import json

    rows = []
    for name, folder in folders.items():
        marker = read_marker(folder)
        log = json.loads((Path(folder) / "train_log.json").read_text(encoding="utf-8"))
        last = log[-1] if log else {}
        row = {"model": name, "kind": marker.get("kind"), "seconds": round(marker.get("seconds", float("nan")), 1)}
        if marker.get("kind") == "rl":
            tail = log[-10:]
            row |= {
                "steps": last.get("step"),
                "reward_last10": round(sum(e["reward"] for e in tail) / len(tail), 3),
                "kl_last10": round(sum(e["kl"] for e in tail) / len(tail), 4),
                "share_L": last.get("share_L"),
                "share_S": last.get("share_S"),
                "share_R": last.get("share_R"),
            }
        else:
            row |= {"steps": last.get("step"), "loss_last": round(last.get("loss", float("nan")), 4)}
        row["folder"] = str(folder)
        rows.append(row)
    columns = [*dict.fromkeys(k for row in rows for k in row if k != "folder"), "folder"]
    return [{k: row.get(k) for k in columns} for row in rows]
