"""Grading: a verdict for every sample (see ``analysis.grading.result.GradeResult``).

Modes: ``strict`` (math-verify, boxed answer first), ``paper`` (the official evaluator's rules,
per benchmark; ``analysis.grading.official``), ``exact`` (the toy world's tasks). One response:
``grade_math`` (in a warm worker process, killed at a deadline: no call can hang) or
``grade_response`` (in-process, no deadline). A samples table: ``grade_samples`` (process pool
with a hard per-item deadline, persistent cache).
Summaries: ``summarize_grades``, ``mode_disagreement``.

The names that need polars (``grade_samples`` and the summaries) are imported on first use, so
grading worker processes, which import this package, stay small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analysis.grading.exact import extract_exact, grade_exact
from analysis.grading.modes import BENCHMARKS, MATH_MODES, MODES, grade_math, grade_response, grader_version
from analysis.grading.result import GradeResult

if TYPE_CHECKING:
    from analysis.grading.pool import GradingPool
    from analysis.grading.samples import grade_samples
    from analysis.grading.summary import Disagreement, mode_disagreement, summarize_grades

_LAZY = {
    "GradingPool": "analysis.grading.pool",
    "grade_samples": "analysis.grading.samples",
    "Disagreement": "analysis.grading.summary",
    "mode_disagreement": "analysis.grading.summary",
    "summarize_grades": "analysis.grading.summary",
}

__all__ = [
    "BENCHMARKS",
    "MATH_MODES",
    "MODES",
    "Disagreement",
    "GradeResult",
    "GradingPool",
    "extract_exact",
    "grade_exact",
    "grade_math",
    "grade_response",
    "grade_samples",
    "grader_version",
    "mode_disagreement",
    "summarize_grades",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
