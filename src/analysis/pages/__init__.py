"""The content of each page of the report: tables and charts read from what the stages wrote.

Pages only read: the stages (models, sample, grade, findings, perplexity scores) are the only
writers. Each function takes a :class:`analysis.study.Study` and returns a small result object; the
notebooks show its data, then its charts and tables.
"""

from analysis.pages.distribution import coverage_page, delta_se_page, histogram_page
from analysis.pages.grading import grading_page
from analysis.pages.models import models_page
from analysis.pages.overview import comparison_page, overview_page, published_numbers
from analysis.pages.passk import pass_at_k_page
from analysis.pages.perplexity import perplexity_page
from analysis.pages.public import public_math500_page
from analysis.pages.reproducibility import reproducibility_page, wall_times
from analysis.pages.toyworld import toyworld_page

__all__ = [
    "comparison_page",
    "coverage_page",
    "delta_se_page",
    "grading_page",
    "histogram_page",
    "models_page",
    "overview_page",
    "pass_at_k_page",
    "perplexity_page",
    "public_math500_page",
    "published_numbers",
    "reproducibility_page",
    "toyworld_page",
    "wall_times",
]
