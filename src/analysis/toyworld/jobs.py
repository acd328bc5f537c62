"""Run independent toy-world training jobs: in this process, or in worker processes with one
torch thread each, with a progress bar per job (``run_jobs``)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import torch

from analysis.childproc import die_with_parent

# progress(step, total, metrics): called every few steps and at the end.
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
