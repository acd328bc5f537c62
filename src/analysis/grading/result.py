"""The verdict every grader returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "no_answer", "timeout", "error"]


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One sample's verdict.

    ``correct``: whether the extracted answer matches a gold answer.
    ``extracted``: the answer the grader found in the response, or ``None``.
    ``status``: ``ok`` (an answer was found and compared), ``no_answer`` (nothing to compare),
    ``timeout`` (the deadline passed; counted incorrect), ``error`` (the grader failed; counted
    incorrect).
    ``mode``: which rules produced the verdict (``strict``, ``paper``, ``exact``).
    """

    correct: bool
    extracted: str | None
    status: Status
    mode: str
