"""The ``paper`` grader: the official evaluator's rules (Qwen2.5-Math / ToRA lineage).

The paper's numbers come from LeapLabTHU/limit-of-RLVR, ``math/examples/math_eval/``
(``math_eval.py`` with ``--prompt_type qwen-boxed``, then ``evaluate.py``), not from math-verify
(``../shared/reference/PAPER.md`` section 6.4). This mode reproduces that pipeline from its
rules; no code was copied. The pieces live in ``analysis.grading.official``:

* ``extract``: stop-word cut, answer extraction, the second normalisation pass, the
  multiple-choice post-processing and the gold parsing, per benchmark;
* ``normalize`` (with ``units`` and ``words``): ``strip_string``;
* ``equal`` (with ``parse``): ``math_equal`` and ``symbolic_equal``.

The benchmark matters: Minerva keeps unit words (in predictions) and its gold is not normalised;
the multiple-choice rules depend on the gold. ``benchmark=None`` applies the generic rules (those
of every benchmark but Minerva).

Statuses: ``no_answer`` when the official pipeline has no prediction (an empty response, the
literal ``error``, a response that is empty after the stop-word cut) or an empty one that does
not match; ``error`` where the official script would crash (a multiple-choice gold with no
prediction; counted incorrect, as the reference verdicts count it); ``timeout`` (below); ``ok``
otherwise.

Timeouts: the official evaluator gave each comparison (``math_equal``) 3 s of wall-clock time
and scored a timeout false. Here a comparison gets ``COMPARE_BUDGET_S`` = 2 s of CPU time: CPU
time, so that a busy machine does not change verdicts; 2 s, because the official build machine
was slower than this one (its slowest accepted reference case took 1.9 s there and 0.65 s of CPU
here; the one it timed out on takes 2.0 s of CPU here, see OFFICIAL-GRADER-CASES.md), so that
3 s there is about 1-2 s of CPU here. It is enforced with a profiling timer where this code runs
in a process's main thread (always so in grading workers); past it the verdict is ``timeout``,
incorrect. The timer interrupts Python code only: a call stuck in C (a huge integer power) is
stopped by the caller's hard deadline (``analysis.grading.modes.grade_math``,
``analysis.grading.pool``), which kills the worker process.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from analysis.grading.official.equal import math_equal
from analysis.grading.official.extract import (
    CrashError,
    apply_choice_rules,
    official_prediction,
    parse_gold,
)
from analysis.grading.official.normalize import strip_string
from analysis.grading.result import GradeResult

MODE = "paper"
COMPARE_BUDGET_S = 2.0  # the official evaluator's 3 s per-comparison timeout, as CPU seconds here

__all__ = ["extract_paper_answer", "grade_paper", "math_equal", "normalize_answer"]


def normalize_answer(answer: str, benchmark: str | None = None) -> str:
    """One pass of the official normalisation (``strip_string``; Minerva keeps unit words)."""
    return strip_string(answer, skip_unit=benchmark == "minerva_math")


def extract_paper_answer(text: str | None, benchmark: str | None = None) -> str | None:
    """The official prediction for ``text`` (extracted, normalised twice), or ``None`` if there is none."""
    return official_prediction(text, benchmark)[1]


def grade_paper(response: str | None, gold: str | Sequence[str], benchmark: str | None = None) -> GradeResult:
    """Grade ``response`` against ``gold`` (one answer or several accepted ones) by the official rules."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    text, prediction = official_prediction(response, benchmark)
    extracted: str | None = prediction
    crashed = False
    timed_out = False
    for i, g in enumerate(golds):
        reference = parse_gold(g, benchmark)
        try:
            pred = apply_choice_rules(prediction, text, reference)
        except CrashError:
            crashed = True
            continue
        if i == 0:
            extracted = pred
        if pred is None:
            continue
        try:
            with cpu_budget(COMPARE_BUDGET_S):
                equal = _equal_cached(pred, reference)
        except BudgetExceeded:
            timed_out = True
            continue
        if equal:
            return GradeResult(True, pred, "ok", MODE)
    if timed_out:
        return GradeResult(False, extracted, "timeout", MODE)
    if crashed:
        return GradeResult(False, extracted, "error", MODE)
    if not extracted:
        return GradeResult(False, extracted, "no_answer", MODE)
    return GradeResult(False, extracted, "ok", MODE)


class BudgetExceeded(BaseException):
    """A comparison ran past its CPU budget (the official evaluator's timeout).

    A ``BaseException``, so that the ``except Exception`` fallbacks inside the comparison (which
    try the next rule when one fails) cannot swallow it.
    """


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Raise ``BudgetExceeded`` inside the block once it has used ``seconds`` of process CPU time.

    Uses ``ITIMER_PROF`` and ``SIGPROF``, so only in a main thread (elsewhere: no budget) and
    only when no other profiling timer is set.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_PROF)[0] > 0:
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise BudgetExceeded

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@lru_cache(maxsize=8192)
def _equal_cached(prediction: str, reference: str) -> bool:
    """``math_equal``, remembered: at large k many samples give the same answer."""
    return math_equal(prediction, reference)
