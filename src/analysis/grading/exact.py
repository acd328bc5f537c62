"""Exact-match grading for synthetic tasks whose final answer is a plain string.

The answer is the text after the last occurrence of ``marker`` (default ``"A:"``), up to the
first whitespace. It is correct when it equals one of the gold answers exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from analysis.grading.result import GradeResult

DEFAULT_MARKER = "A:"


def extract_exact(response: str | None, marker: str = DEFAULT_MARKER) -> str | None:
    """The token after the last ``marker`` in ``response``, or ``None`` if there is none."""
    if not response:
        return None
    pos = response.rfind(marker)
    if pos == -1:
        return None
    tail = response[pos + len(marker) :].split()
    return tail[0] if tail else None


def grade_exact(response: str | None, gold: str | Sequence[str], marker: str = DEFAULT_MARKER) -> GradeResult:
    """Grade ``response`` by exact match of its marked answer against ``gold``."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    extracted = extract_exact(response, marker)
    if extracted is None:
        return GradeResult(False, None, "no_answer", "exact")
    return GradeResult(extracted in golds, extracted, "ok", "exact")
