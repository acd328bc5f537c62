"""The grading pool: hard per-item deadlines, chunking, crashes, hostile inputs."""

from __future__ import annotations

import os
import signal
import time

import pytest

from analysis.grading import GradeResult, GradingPool

HUNG = r"So it is $\boxed{9^{9^{9^{9}}}}$."  # sympy tries to evaluate the power: never finishes
STATUSES = {"ok", "no_answer", "timeout", "error"}


@pytest.fixture(scope="module")
def pool() -> GradingPool:
    with GradingPool(workers=2, deadline_s=2.0, chunk_size=8) as p:
        p.grade([(r"\boxed{1}", ("1",))], "strict")  # start the workers
        yield p


def test_verdicts_come_back_in_input_order(pool: GradingPool) -> None:
    items = [(f"so $\\boxed{{{i}}}$", (str(i % 3),)) for i in range(40)]
    results = pool.grade(items, "strict")
    assert [r.correct for r in results] == [i % 3 == i for i in range(40)]
    assert [r.extracted for r in results] == [str(i) for i in range(40)]


@pytest.mark.slow
def test_a_hung_item_costs_one_restart_and_a_timeout_verdict(pool: GradingPool) -> None:
    before = pool.stats.restarts
    # same gold everywhere: the hung item sits in the middle of one chunk
    items = [(rf"\boxed{{{i}}}", ("5",)) for i in range(3)] + [(HUNG, ("5",))] + [(r"\boxed{5}", ("5",))] * 3
    start = time.monotonic()
    results = pool.grade(items, "strict")
    elapsed = time.monotonic() - start
    assert results[3] == GradeResult(False, None, "timeout", "strict")
    assert [r.correct for r in results] == [False, False, False, False, True, True, True]
    assert all(r.status == "ok" for i, r in enumerate(results) if i != 3)
    assert pool.stats.restarts == before + 1
    assert elapsed < pool.deadline_s + 5  # the hang is cut at the deadline, not waited out


@pytest.mark.slow
def test_a_worker_that_dies_gives_an_error_verdict_and_the_rest_is_graded() -> None:
    with GradingPool(workers=1, deadline_s=60.0, chunk_size=1) as p:
        p.grade([(r"\boxed{1}", ("1",))], "strict")
        items = [(r"\boxed{1}", ("1",)), (HUNG, ("1",)), (r"\boxed{1}", ("1",))]
        results: dict[int, GradeResult] = {}
        killed = False
        for i, result in p.grade_iter(items, "strict"):
            results[i] = result
            if not killed:  # the first item is back, the worker is now stuck on the second
                time.sleep(0.5)
                for pid in list(p._pool._pool_manager.worker_manager.workers):  # pebble's worker table
                    os.kill(pid, signal.SIGKILL)
                killed = True
        assert results[1] == GradeResult(False, None, "error", "strict")
        assert results[0].correct
        assert results[2].correct
        assert p.stats.crashes == 1


# Hostile inputs: none may crash the run or take longer than the deadline plus one second.
MEGABYTE = 1_000_000
HOSTILE = {
    "1 MB of words, then a box": "word " * (MEGABYTE // 5) + r"\boxed{5}",
    "1 MB of words, no box": "word " * (MEGABYTE // 5),
    "1 MB of digits": "7" * MEGABYTE,
    "1 MB of unclosed boxes": r"\boxed{" * (MEGABYTE // 7),
    "huge power tower": HUNG,
    "unbalanced: unclosed box": r"the answer is \boxed{\frac{1}{2}",
    "unbalanced: stray closers": r"}}}{{{\boxed{5}}}}",
    "deep nesting": r"\boxed{" + "(" * 5000 + "5" + ")" * 5000 + "}",
    "unicode": "答案是 \\boxed{５} — ½ √2 🙂 \u200f\u202e",
    "lone surrogate": "the answer \ud800 is \\boxed{5}",
    "nested boxes": r"\boxed{\boxed{\boxed{5}}}",
    "empty box": r"\boxed{}",
    "empty string": "",
    "whitespace": " \n\t ",
    "None": None,
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["strict", "paper", "exact"])
def test_hostile_inputs(pool: GradingPool, mode: str) -> None:
    slow = {}
    for name, response in HOSTILE.items():
        start = time.monotonic()
        (result,) = pool.grade([(response, ("5",))], mode)
        elapsed = time.monotonic() - start
        assert result.status in STATUSES, name
        assert result.mode == mode
        if elapsed > pool.deadline_s + 1:
            slow[name] = round(elapsed, 2)
    assert not slow, f"took longer than the deadline plus one second: {slow}"
    # the pool is still healthy afterwards
    assert pool.grade([(r"\boxed{5}", ("5",))], mode)[0].status in {"ok", "no_answer"}


def test_bad_pool_settings_are_named() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        GradingPool(workers=0)
    with pytest.raises(ValueError, match="deadline_s must be positive"):
        GradingPool(deadline_s=0)
    with pytest.raises(ValueError, match="chunk_size"):
        GradingPool(chunk_size=0)
    with pytest.raises(ValueError, match="memory_limit_mb"):
        GradingPool(memory_limit_mb=10)


def test_unknown_mode_is_refused_before_any_work(pool: GradingPool) -> None:
    with pytest.raises(ValueError, match="unknown grading mode"):
        pool.grade([("x", ("1",))], "fuzzy")
