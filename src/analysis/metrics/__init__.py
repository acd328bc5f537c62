"""The study's boundary metrics: pure functions on counts (and grades) tables.

Data flow: ``counts_from_grades`` turns the grades table (one row per graded sample) into the counts
table (one row per model x benchmark x problem: ``n`` samples, ``c`` correct); everything else reads
counts:

* :func:`pass_at_k` (elementwise estimator) and :func:`per_problem_pass_at_k` (all k per problem);
* :func:`pass_at_k_curve` (mean pass@k per group, optional bootstrap band);
* :func:`paired_difference`, :func:`crossover` (two models on shared problems, paired bootstrap);
* :func:`coverage_split`, :func:`upset_table` (who solves what);
* :func:`accuracy_histogram` (the paper's 12 bins), :func:`cover_at_tau`, :func:`delta_se`;
* :func:`maj_at_k` (majority vote over extracted answers; reads grades).

This package imports nothing else from ``analysis`` except ``analysis.schemas``.
"""

from analysis.metrics.bootstrap import DEFAULT_RESAMPLES, bootstrap_weights, percentile_interval
from analysis.metrics.counts import counts_from_grades, scan_grades
from analysis.metrics.coverage import DEFAULT_THRESHOLD, CoverageSplit, coverage_split, upset_table
from analysis.metrics.curves import pass_at_k_curve
from analysis.metrics.histogram import ACCURACY_BINS, accuracy_histogram
from analysis.metrics.majority import maj_at_k
from analysis.metrics.paired import Crossover, crossover, first_sign_change, paired_difference
from analysis.metrics.passk import pass_at_k, per_problem_pass_at_k
from analysis.metrics.summary import DeltaSE, cover_at_tau, delta_se
from analysis.metrics.validate import check_counts

__all__ = [
    "ACCURACY_BINS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_THRESHOLD",
    "CoverageSplit",
    "Crossover",
    "DeltaSE",
    "accuracy_histogram",
    "bootstrap_weights",
    "check_counts",
    "counts_from_grades",
    "cover_at_tau",
    "coverage_split",
    "crossover",
    "delta_se",
    "first_sign_change",
    "maj_at_k",
    "paired_difference",
    "pass_at_k",
    "pass_at_k_curve",
    "per_problem_pass_at_k",
    "percentile_interval",
    "scan_grades",
    "upset_table",
]
