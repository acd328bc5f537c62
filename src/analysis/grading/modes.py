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
# The official names of the paper's math benchmarks (``benchmark`` of ``grade_math``).
BENCHMARKS = ("aime24", "amc23", "gsm8k", "math500", "minerva_math", "olympiadbench")
MODES = (*MATH_MODES, "exact")
# Modes whose rules cannot hang (a marker search and a string comparison, linear in the response):
# they are graded in the caller's process, without the worker pool and its deadline.
IN_PROCESS_MODES = frozenset({"exact"})

# Bump the number when the rules of a mode change.
# paper 2: the official pipeline reproduced (stop words, strip_string, unit words, word2number,
# sympy's ANTLR parser first, per-benchmark rules); see analysis.grading.paper.
_RULES = {"strict": 1, "paper": 2, "exact": 1}
_LIBRARIES = {
    "strict": ("math-verify", "latex2sympy2_extended", "sympy"),
    "paper": ("latex2sympy2_extended", "sympy", "antlr4-python3-runtime", "word2number"),
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


def grade_math(
    response: str | None,
    gold: str | Sequence[str],
    mode: str = "paper",
    benchmark: str | None = None,
    deadline_s: float | None = 5.0,
) -> GradeResult:
    """Grade a math ``response`` against ``gold`` (one answer or a list of accepted answers).

    ``mode`` is ``paper`` (the official evaluator's rules, which the paper's numbers used) or
    ``strict`` (math-verify). ``benchmark`` (``aime24``, ``amc23``, ``gsm8k``, ``math500``,
    ``minerva_math``, ``olympiadbench``, or ``None`` for the generic rules) selects the
    benchmark-dependent rules of ``paper`` mode; ``strict`` ignores it.

    The call runs in a persistent worker process and is killed at ``deadline_s`` seconds, which
    then gives a ``timeout`` verdict (counted incorrect, as the official evaluator counts its own
    timeouts), so no call can hang. The first call of a process starts that worker (seconds);
    later ones cost a few milliseconds more than grading in-process. ``deadline_s=None`` grades
    in the calling process with no deadline (use it where processes cannot be started, e.g.
    inside a daemon process). To grade many responses, use ``analysis.grading.grade_samples``.
    """
    check_mode(mode, MATH_MODES)
    check_benchmark(benchmark)
    if deadline_s is None:
        return grade_response(response, gold, mode, benchmark)
    if response is not None and not isinstance(response, str):
        msg = f"response must be a string or None, got {type(response).__name__}"
        raise TypeError(msg)
    from analysis.grading.deadline import grade_with_deadline

    return grade_with_deadline(response, gold, mode, benchmark, deadline_s)


def check_benchmark(benchmark: str | None) -> None:
    """Raise ``ValueError`` unless ``benchmark`` is ``None`` or one of the six official names."""
    if benchmark is not None and benchmark not in BENCHMARKS:
        msg = f"unknown benchmark {benchmark!r}; expected None or one of {', '.join(BENCHMARKS)}"
        raise ValueError(msg)


def grade_response(
    response: str | None, gold: str | Sequence[str], mode: str, benchmark: str | None = None
) -> GradeResult:
    """Grade ``response`` in any mode (``strict``, ``paper`` or ``exact``), in this process, with no deadline."""
    check_mode(mode)
    if response is not None and not isinstance(response, str):
        msg = f"response must be a string or None, got {type(response).__name__}"
        raise TypeError(msg)
    if mode == "strict":
        from analysis.grading.strict import grade_strict

        return grade_strict(response, gold)
    if mode == "paper":
        from analysis.grading.paper import grade_paper

        return grade_paper(response, gold, benchmark)
    from analysis.grading.exact import grade_exact

    return grade_exact(response, gold)
