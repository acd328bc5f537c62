"""Bring your own generations: importers of other tools' outputs into the study's tables.

One module per format (``paper_evaluator``, ``lm_eval``, ``lighteval``, ``plain``), the shared
result type, provenance and validation in ``common``, and the study's import stage in ``stage``.
"""

from analysis.importers.common import Imported, ImportFormatError
from analysis.importers.lighteval import read_lighteval
from analysis.importers.lm_eval import read_lm_eval
from analysis.importers.paper_evaluator import read_paper_evaluator
from analysis.importers.plain import read_counts, read_jsonl_responses

__all__ = [
    "ImportFormatError",
    "Imported",
    "read_counts",
    "read_jsonl_responses",
    "read_lighteval",
    "read_lm_eval",
    "read_paper_evaluator",
]
