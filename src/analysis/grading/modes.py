"""Grading modes: their names, their versions, and one entry point per kind of task.

``strict`` (math-verify, ``analysis.grading.strict``) and ``paper`` (the official evaluator's
rules, ``analysis.grading.paper``) grade math answers; ``exact`` (``analysis.grading.exact``)
grades the toy world's synthetic tasks. Every verdict is stored with its mode and the mode's
version, and the version changes whenever the rules or the libraries under them change, so a
cached verdict is never reused across rule changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.metadata import version

from analysis.grading.result import GradeResult

MATH_MODES = ("strict", "paper")
MODES = (*MATH_MODES, "exact")

# Bump the number when the rules of a mode change.
_RULES = {"strict": 1, "paper": 1, "exact": 1}
_LIBRARIES = {
    "strict": ("math-verify", "latex2sympy2_extended", "sympy"),
    "paper": ("latex2sympy2_extended", "sympy"),
    "exact": (),
}


def check_mode(mode: str, allowed: Sequence[str] = MODES) -> None:
    """Raise ``ValueError`` naming ``mode`` unless it is one of ``allowed``."""
    if mode not in allowed:
        msg = f"unknown grading mode {mode!r}; expected one of {', '.join(allowed)}"
        raise ValueError(msg)


@cache
def grader_version(mode: str) -> str:
    """The version string stored with every verdict of ``mode``, e.g. ``strict-1+math-verify-0.9.0+...``."""
    check_mode(mode)
    parts = [f"{mode}-{_RULES[mode]}", *(f"{lib}-{version(lib)}" for lib in _LIBRARIES[mode])]
    return "+".join(parts)


def grade_math(response: str | None, gold: str | Sequence[str], mode: str = "strict") -> GradeResult:
    """Grade a math ``response`` against ``gold`` (one answer or a list of accepted answers).

    ``mode`` is ``strict`` (math-verify) or ``paper`` (the official evaluator's rules). This runs
    in the calling process with no deadline; to grade many responses with a hard per-item
    deadline, use ``analysis.grading.grade_samples``.
    """
    check_mode(mode, MATH_MODES)
    return grade_response(response, gold, mode)


def grade_response(response: str | None, gold: str | Sequence[str], mode: str) -> GradeResult:
    """Grade ``response`` in any mode (``strict``, ``paper`` or ``exact``)."""
    check_mode(mode)
    if response is not None and not isinstance(response, str):
        msg = f"response must be a string or None, got {type(response).__name__}"
        raise TypeError(msg)
    if mode == "strict":
        from analysis.grading.strict import grade_strict

        return grade_strict(response, gold)
    if mode == "paper":
        from analysis.grading.paper import grade_paper

        return grade_paper(response, gold)
    from analysis.grading.exact import grade_exact

    return grade_exact(response, gold)
