"""One verdict under a hard deadline: the engine behind ``analysis.grading.grade_math``.

math-verify and sympy can run for minutes or forever on hostile answers (``9^{9^{9^{9}}}``, a
pathological ``simplify``), and neither can be interrupted from inside the process that runs it
(math-verify's own timeouts use ``signal.alarm``, which only works in a main thread and cannot
stop C code). So a call runs in a worker process that is killed at the deadline.

The workers are a ``GradingPool`` (``analysis.grading.pool``) of one process, kept for the life
of the calling process (one pool per distinct deadline) and shut down at exit. A call therefore
costs one round trip to an already warm worker (milliseconds); the first call of a process pays
for starting it. After a kill the pool forks a fresh worker from its warm fork server.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence

from analysis.grading.pool import GradingPool
from analysis.grading.result import GradeResult

_pools: dict[float, GradingPool] = {}
_lock = threading.Lock()


def grade_with_deadline(
    response: str | None, gold: str | Sequence[str], mode: str, benchmark: str | None, deadline_s: float
) -> GradeResult:
    """Grade one response in a worker process; past ``deadline_s`` seconds the verdict is ``timeout``."""
    golds = (gold,) if isinstance(gold, str) else tuple(gold)
    with _lock:  # one call at a time per pool: GradingPool is not thread-safe
        pool = _pool(float(deadline_s))
        return pool.grade([(response, golds, benchmark)], mode)[0]


def _pool(deadline_s: float) -> GradingPool:
    pool = _pools.get(deadline_s)
    if pool is None:
        if len(_pools) >= 4:  # callers that vary the deadline: keep at most a few workers alive
            close_pools()
        pool = GradingPool(workers=1, deadline_s=deadline_s, chunk_size=1)
        _pools[deadline_s] = pool
    return pool


@atexit.register
def close_pools() -> None:
    """Stop every worker started by ``grade_with_deadline`` (also run at exit)."""
    while _pools:
        _, pool = _pools.popitem()
        pool.close(kill=True)
