"""What runs inside a grading worker process (see ``analysis.grading.pool``).

A worker grades a chunk of items one after another. Before each item it writes the chunk id,
the item's position and the item's start time into its slot of a shared array, so the parent
can tell which item has run past the deadline and kill just that worker. Writes go in the order
start time, position, chunk id (chunk id only at the chunk's start), which lets the parent read
them without a lock (see ``GradingPool``).

This module imports no polars, so workers stay small.
"""

from __future__ import annotations

import logging
import resource
import signal
import time
from collections.abc import Sequence
from typing import Any

from math_verify.errors import TimeoutException

# Imported here, not on first use, so that the fork server has them loaded before it forks:
# a fresh worker (at start, or after a kill) is then ready in milliseconds, not seconds.
from analysis.grading import exact, paper, strict  # noqa: F401
from analysis.grading.modes import grade_response

SLOT_WIDTH = 3  # chunk id, position in chunk, start time of the current item (0 when idle)
MAX_EXTRACTED = 1000  # characters of an extracted answer kept in the grades table

_progress: Any = None


def init_worker(progress: Any, memory_limit_bytes: int | None) -> None:
    """Initialise a worker: shared progress array, memory cap, prompt termination."""
    global _progress  # one per process, set once by the pool
    _progress = progress
    # pebble's SIGTERM handler runs Python code, which cannot run while sympy is stuck in C;
    # the default action ends the process at once, so a kill takes milliseconds, not seconds.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if memory_limit_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    # math-verify warns once per process that its own timeouts are off: the pool's deadline
    # replaces them.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # Already imported (a no-op) when the fork server preloaded it; otherwise this worker warms up
    # on its own, once (the fork server was started by other code before any GradingPool).
    import analysis.grading.warmup  # noqa: F401


def grade_one(
    response: str | None, gold: Sequence[str], mode: str, benchmark: str | None = None
) -> tuple[bool, str | None, str]:
    """One verdict as a plain tuple; any failure of the grader becomes an ``error`` verdict."""
    try:
        result = grade_response(response, gold, mode, benchmark)
    except (Exception, TimeoutException):  # TimeoutException is a BaseException
        return (False, None, "error")
    extracted = result.extracted
    if extracted is not None and len(extracted) > MAX_EXTRACTED:
        extracted = extracted[:MAX_EXTRACTED] + "…[truncated]"
    return (result.correct, extracted, result.status)


def grade_chunk(
    chunk_id: int, slot: int, items: Sequence[tuple[str | None, Sequence[str], str | None]], mode: str
) -> tuple[list[tuple[bool, str | None, str]], float]:
    """Grade ``items`` (response, gold answers, benchmark) in order, reporting progress in ``slot``.

    Returns the verdicts and the CPU seconds the chunk took in this worker.
    """
    cpu = time.process_time()
    base = SLOT_WIDTH * slot
    out = []
    for pos, (response, gold, benchmark) in enumerate(items):
        _progress[base + 2] = time.monotonic()
        _progress[base + 1] = float(pos)
        if pos == 0:
            _progress[base] = float(chunk_id)
        out.append(grade_one(response, gold, mode, benchmark))
    _progress[base + 2] = 0.0
    return out, time.process_time() - cpu
