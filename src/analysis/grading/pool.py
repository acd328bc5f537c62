"""A process pool that grades in chunks and still holds every item to a hard deadline.

Why processes: math-verify and sympy can hang (a huge power, a pathological ``simplify``), and
math-verify's own timeouts use ``signal.alarm``, which only works in a main thread and cannot
interrupt C code. A hung call can only be stopped by killing the process that runs it.

Why chunks: sending one item per task costs a round trip of inter-process messages per item,
which at a few milliseconds per verdict dominates. Items go out in chunks (``chunk_size``).

How the per-item deadline survives chunking: before each item, the worker writes the chunk id,
the item's position and its start time into its own slot of a lock-free shared array
(``analysis.grading.worker``). The parent polls every running chunk; when an item has run longer
than ``deadline_s`` it cancels that chunk, which makes pebble kill the worker and start a fresh
one. The item that hung gets a ``timeout`` verdict; the chunk's other items (those already done,
whose results died with the worker, and those not yet started) go back to the front of the
queue. So a hung item costs one worker restart, one ``timeout`` verdict and a re-grade of at most
``chunk_size - 1`` fast items, and is detected within ``deadline_s`` plus one polling interval.

A worker that dies on its own (out of memory under ``memory_limit_mb``, a crash in C code) gives
the item it was on an ``error`` verdict, and the rest of its chunk is re-queued the same way.

Workers are started from a fork server that has already imported the graders and warmed them up
(``analysis.grading.warmup``), so a restart takes milliseconds and workers carry no state of the
parent (no polars thread pools, no open files). Like every non-``fork`` start method of
``multiprocessing``, this needs a script that creates a pool to guard its entry point with
``if __name__ == "__main__":`` (notebooks and ``python -m`` modules with such a guard are fine).
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessPool

from analysis.grading.modes import check_mode
from analysis.grading.result import GradeResult
from analysis.grading.worker import SLOT_WIDTH, grade_chunk, init_worker

# (response, accepted gold answers) or (response, accepted gold answers, benchmark)
Item = tuple[str | None, Sequence[str]] | tuple[str | None, Sequence[str], str | None]

_SLOTS = 4096  # ring of progress slots; a slot is reused only 4096 chunks later
_MAX_UNPLACED_CRASHES = 3  # a chunk whose worker dies outside any item is retried this often


@dataclass
class _Chunk:
    chunk_id: int
    slot: int
    indices: list[int]


@dataclass
class PoolStats:
    """What a pool has done so far."""

    graded: int = 0  # verdicts returned
    timeouts: int = 0  # items killed at the deadline
    crashes: int = 0  # workers that died on their own
    restarts: int = 0  # workers replaced (timeouts + crashes)
    cpu_s: float = 0.0  # CPU seconds spent in workers on chunks that completed


class GradingPool:
    """Grade items in worker processes with a hard wall-clock deadline per item.

    Use as a context manager, or call ``close``. One pool can serve many ``grade`` calls.
    """

    def __init__(
        self,
        workers: int = 2,
        deadline_s: float = 5.0,
        *,
        chunk_size: int = 32,
        memory_limit_mb: int | None = 2048,
    ) -> None:
        if workers < 1:
            msg = f"workers must be at least 1, got {workers}"
            raise ValueError(msg)
        if not deadline_s > 0:
            msg = f"deadline_s must be positive, got {deadline_s}"
            raise ValueError(msg)
        if chunk_size < 1:
            msg = f"chunk_size must be at least 1, got {chunk_size}"
            raise ValueError(msg)
        if memory_limit_mb is not None and memory_limit_mb < 256:
            msg = f"memory_limit_mb must be at least 256 (or None for no limit), got {memory_limit_mb}"
            raise ValueError(msg)
        self.workers = workers
        self.deadline_s = float(deadline_s)
        self.chunk_size = chunk_size
        self.stats = PoolStats()
        ctx = multiprocessing.get_context("forkserver")
        # Only takes effect if this process has not started its fork server yet: the server then
        # imports the graders and warms them up once, and every worker forks from it ready.
        ctx.set_forkserver_preload(["analysis.grading.worker", "analysis.grading.warmup"])
        self._progress = ctx.RawArray("d", SLOT_WIDTH * _SLOTS)
        limit = None if memory_limit_mb is None else memory_limit_mb * 1024 * 1024
        self._pool = ProcessPool(
            max_workers=workers, initializer=init_worker, initargs=(self._progress, limit), context=ctx
        )
        self._next_chunk = 0
        self._unplaced_crashes: dict[int, int] = {}  # item -> crashes outside any item (per grade_iter)
        self._poll_s = min(0.05, self.deadline_s / 10)

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(kill=exc[0] is not None)

    def close(self, kill: bool = False) -> None:
        """Shut the workers down (at once with ``kill``, else after their current work)."""
        if kill:
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()

    def grade(self, items: Sequence[Item], mode: str) -> list[GradeResult]:
        """Verdicts for ``items`` in their order.

        An item is ``(response, accepted gold answers)`` or ``(response, accepted gold answers,
        benchmark)``; the benchmark selects the benchmark-dependent rules of ``paper`` mode.
        """
        results: list[GradeResult | None] = [None] * len(items)
        for i, result in self.grade_iter(items, mode):
            results[i] = result
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # a bug in the bookkeeping, never a normal outcome
            msg = f"grading pool lost {len(missing)} items (first: {missing[:5]})"
            raise RuntimeError(msg)
        return [r for r in results if r is not None]

    def grade_iter(self, items: Sequence[Item], mode: str) -> Iterator[tuple[int, GradeResult]]:
        """Yield ``(index, verdict)`` for every item (see ``grade``) as soon as it is known, in no fixed order."""
        check_mode(mode)
        self._unplaced_crashes = {}
        full = [(item[0], tuple(item[1]), item[2] if len(item) > 2 else None) for item in items]
        # Items with the same gold go together: workers cache parsed gold answers.
        order = sorted(range(len(full)), key=lambda i: (full[i][1], full[i][2] or ""))
        queue: deque[list[int]] = deque(order[k : k + self.chunk_size] for k in range(0, len(order), self.chunk_size))
        inflight: dict[Future[Any], _Chunk] = {}
        max_inflight = 2 * self.workers  # one running and one waiting per worker
        try:
            while queue or inflight:
                while queue and len(inflight) < max_inflight:
                    chunk = self._new_chunk(queue.popleft())
                    payload = [full[i] for i in chunk.indices]
                    future = self._pool.schedule(grade_chunk, args=(chunk.chunk_id, chunk.slot, payload, mode))
                    inflight[future] = chunk
                done, _ = wait(list(inflight), timeout=self._poll_s, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = inflight.pop(future)
                    yield from self._collect(future, chunk, queue, mode)
                yield from self._enforce_deadlines(inflight, queue, mode)
        finally:
            for future in inflight:
                future.cancel()

    def _new_chunk(self, indices: list[int]) -> _Chunk:
        chunk_id = self._next_chunk
        self._next_chunk += 1
        slot = chunk_id % _SLOTS
        base = SLOT_WIDTH * slot
        self._progress[base] = -1.0  # not started; the worker writes the id when it starts
        self._progress[base + 2] = 0.0
        return _Chunk(chunk_id, slot, indices)

    def _position(self, chunk: _Chunk) -> tuple[int, float] | None:
        """(position, start time) of the item the chunk's worker is on, or None if not started."""
        base = SLOT_WIDTH * chunk.slot
        if self._progress[base] != float(chunk.chunk_id):
            return None
        t1 = self._progress[base + 2]
        pos = int(self._progress[base + 1])
        t2 = self._progress[base + 2]
        if t1 != t2 or t1 == 0.0:  # moving on to the next item right now, or finished
            return None
        return pos, t1

    def _collect(
        self, future: Future[Any], chunk: _Chunk, queue: deque[list[int]], mode: str
    ) -> Iterator[tuple[int, GradeResult]]:
        try:
            verdicts, cpu_s = future.result()
        except ProcessExpired:
            # The worker died on its own (memory limit, crash in C code).
            self.stats.crashes += 1
            self.stats.restarts += 1
            where = self._position(chunk)
            if where is None:  # died between items: retry them, but not forever
                retry = []
                for i in chunk.indices:
                    self._unplaced_crashes[i] = self._unplaced_crashes.get(i, 0) + 1
                    if self._unplaced_crashes[i] >= _MAX_UNPLACED_CRASHES:
                        self.stats.graded += 1
                        yield i, GradeResult(False, None, "error", mode)
                    else:
                        retry.append(i)
                if retry:
                    queue.appendleft(retry)
                return
            pos = where[0]
            self.stats.graded += 1
            yield chunk.indices[pos], GradeResult(False, None, "error", mode)
            rest = chunk.indices[:pos] + chunk.indices[pos + 1 :]
            if rest:
                queue.appendleft(rest)
            return
        except Exception:  # the chunk function itself failed: every item is an error
            for i in chunk.indices:
                self.stats.graded += 1
                yield i, GradeResult(False, None, "error", mode)
            return
        self.stats.cpu_s += cpu_s
        for i, (correct, extracted, status) in zip(chunk.indices, verdicts, strict=True):
            self.stats.graded += 1
            yield i, GradeResult(correct, extracted, status, mode)

    def _enforce_deadlines(
        self, inflight: dict[Future[Any], _Chunk], queue: deque[list[int]], mode: str
    ) -> Iterator[tuple[int, GradeResult]]:
        now = time.monotonic()
        for future, chunk in list(inflight.items()):
            where = self._position(chunk)
            if where is None:
                continue
            pos, started = where
            if now - started <= self.deadline_s or future.done():
                continue
            if not future.cancel():  # finished in the meantime: collected on the next round
                continue
            del inflight[future]
            self.stats.timeouts += 1
            self.stats.restarts += 1
            self.stats.graded += 1
            yield chunk.indices[pos], GradeResult(False, None, "timeout", mode)
            rest = chunk.indices[:pos] + chunk.indices[pos + 1 :]
            if rest:
                queue.appendleft(rest)
