"""Grading: a verdict for every sample (see ``analysis.grading.result.GradeResult``)."""

from analysis.grading.exact import grade_exact
from analysis.grading.result import GradeResult

__all__ = ["GradeResult", "grade_exact"]
