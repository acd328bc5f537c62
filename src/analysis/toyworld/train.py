"""Train every model of a toy-world config: the base, its RL runs and the distilled model.

``train_all(config, out_root)`` is the one entry point (also ``python -m analysis.toyworld
train --config ...`` and ``notebooks/train_toyworld.ipynb``). Each checkpoint lives in
``<out_root>/<kind>-<key>/`` where the key hashes its config section, its parent's key and the
training code (``analysis.toyworld.config``), so a second run reuses every finished checkpoint.
A job trains into a temporary folder and renames it into place when done (the completion
marker is written before the rename), so a killed run leaves no half-written checkpoint.

After the base, the jobs are independent; they run in ``workers`` processes with one torch
thread each, which was the fastest use of this 2-core machine for models this small. The same
seed gives the same checkpoint.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from analysis.childproc import die_with_parent
from analysis.store import atomic_write_json, is_complete, mark_complete, read_marker, stable_hash
from analysis.toyworld.config import (
    RLConfig,
    ToyWorldConfig,
    base_key,
    code_version,
    distill_key,
    load_config,
    rl_key,
    rl_model_names,
)

# The source checkout's git-ignored cache (absolute, so notebooks run from any folder use it). A
# study with the default output root (data/runs) trains into the same folder, so the toy-world
# CLI and `make study` share their checkpoints.
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "data" / "runs" / "toyworld"

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class Job:
    """One unit of work for a worker: ``fn(**kwargs, progress=...)`` returns a JSON-able value."""

    name: str
    fn: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Workers and progress

_QUEUE: Any = None


def _init_worker(q: Any) -> None:
    global _QUEUE
    _QUEUE = q
    die_with_parent()  # a killed parent takes its workers with it
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def _run_in_worker(job: Job) -> Any:
    def progress(step: int, total: int, metrics: dict[str, float]) -> None:
        _QUEUE.put((job.name, step, total, metrics))

    return job.fn(**job.kwargs, progress=progress)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the body with one torch thread (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Bars:
    """tqdm bars, one per job plus an overall one (``tqdm.auto``: text or notebook widgets)."""

    def __init__(self, total_jobs: int, enabled: bool, job_bars: bool = True) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.enabled = enabled and job_bars
        self.bars: dict[str, Any] = {}
        self.overall = tqdm(total=total_jobs, desc="toy world jobs", unit="job", disable=not enabled, position=0)

    def update(self, name: str, step: int, total: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(name)
        if bar is None:
            bar = self._tqdm(total=total, desc=name, unit="step", position=len(self.bars) + 1, leave=True)
            self.bars[name] = bar
        bar.n = step
        bar.set_postfix({k: round(v, 4) for k, v in metrics.items()}, refresh=False)
        bar.refresh()

    def done(self, name: str) -> None:
        self.overall.set_postfix_str(f"last: {name}", refresh=False)
        self.overall.update(1)
        if name in self.bars:
            self.bars[name].refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.overall.close()


def run_jobs(jobs: list[Job], workers: int, show_progress: bool = True, job_bars: bool = True) -> dict[str, Any]:
    """Run independent ``jobs`` in ``workers`` processes (in this process if 1); results by name.

    Progress: one bar for all jobs, plus one per job with its steps and metrics (``job_bars``).
    """
    results: dict[str, Any] = {}
    if not jobs:
        return results
    bars = _Bars(len(jobs), show_progress, job_bars)
    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                with one_thread():
                    results[job.name] = job.fn(
                        **job.kwargs, progress=lambda s, t, m, name=job.name: bars.update(name, s, t, m)
                    )
                bars.done(job.name)
            return results
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        with ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker, initargs=(q,)
        ) as pool:
            pending: dict[Future[Any], str] = {pool.submit(_run_in_worker, job): job.name for job in jobs}
            while pending:
                _drain(q, bars)
                finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = pending.pop(fut)
                    _drain(q, bars)
                    results[name] = fut.result()
                    bars.done(name)
            _drain(q, bars)
    finally:
        bars.close()
    return results


def _drain(q: Any, bars: _Bars) -> None:
    while True:
        try:
            name, step, total, metrics = q.get_nowait()
        except queue.Empty:
            return
        bars.update(name, step, total, metrics)


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
    folders = {"base": root / f"base-{base_key(cfg)}"}
    for run, rl in cfg.rl.items():
        for name, seed in zip(rl_model_names(run, rl), rl.seeds, strict=True):
            folders[name] = root / f"rl-{rl_key(cfg, rl, seed)}"
    if cfg.distill is not None:
        folders["distill"] = root / f"distill-{distill_key(cfg)}"
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
    if not is_complete(folders["base"]):
        trained.append("base")
        run_jobs([Job("base", job_pretrain, {"config": dump, "folder": str(folders["base"])})], 1, progress)
    timings["base"] = time.perf_counter() - t0
    jobs = []
    for run, rl in cfg.rl.items():
        for name, seed in zip(rl_model_names(run, rl), rl.seeds, strict=True):
            if not is_complete(folders[name]):
                jobs.append(rl_job(cfg, name, rl, seed, folders["base"], folders[name]))
    if cfg.distill is not None and not is_complete(folders["distill"]):
        jobs.append(
            Job(
                "distill",
                job_distill,
                {"config": dump, "base_folder": str(folders["base"]), "folder": str(folders["distill"])},
            )
        )
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
