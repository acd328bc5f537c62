"""The study's boundary metrics: pure functions on counts (and grades) tables.

Data flow: ``counts_from_grades`` turns the grades table (one row per graded sample) into the counts
table (one row per model x benchmark x problem: ``n`` samples, ``c`` correct); everything else reads
counts:

* :func:`pass_at_k` (elementwise estimator) and :func:`per_problem_pass_at_k` (all k per problem);
* :func:`pass_at_k_curve` (mean pass@k per group, optional bootstrap band);
* :func:`paired_difference`, :func:`crossover` (two models on shared problems, paired bootstrap);
* :func:`coverage_split`, :func:`upset_table` (who solves what);
* :func:`accuracy_histogram` (the paper's 12 bins), :func:`cover_at_tau`, :func:`delta_se`;
* :func:`maj_at_k` (majority vote over extracted answers; reads grades);
* boundary checks: :func:`simultaneous_band` (sup-t band over all k, certified first loss),
  :func:`checked_counts` (reasoning-checked pass@k), :func:`support_change` (Invisible-Leash support),
  :func:`above_floor` (guessing floor), :func:`g_pass_table` (G-Pass@k), :func:`crossover_budget` (planner).

This package imports nothing else from ``analysis`` except ``analysis.schemas``.
"""

from analysis.metrics.band import Band, simultaneous_band
from analysis.metrics.bootstrap import DEFAULT_RESAMPLES, bootstrap_weights, percentile_interval
from analysis.metrics.counts import counts_from_grades, scan_grades
from analysis.metrics.coverage import DEFAULT_THRESHOLD, CoverageSplit, coverage_split, upset_table
from analysis.metrics.curves import pass_at_k_curve
from analysis.metrics.floor import above_floor, explained_by_guessing, floor_pass_at_k
from analysis.metrics.gpass import g_pass_at_k, g_pass_table, mg_pass_at_k
from analysis.metrics.histogram import ACCURACY_BINS, accuracy_histogram
from analysis.metrics.majority import maj_at_k
from analysis.metrics.paired import Crossover, crossover, first_sign_change, paired_difference
from analysis.metrics.passk import pass_at_k, per_problem_pass_at_k
from analysis.metrics.planner import crossover_budget, samples_to_rule_out
from analysis.metrics.reasoning import checked_counts, judge_subset
from analysis.metrics.summary import DeltaSE, cover_at_tau, delta_se
from analysis.metrics.support import SupportChange, solution_coverage, support_change
from analysis.metrics.validate import check_counts

__all__ = [
    "ACCURACY_BINS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_THRESHOLD",
    "Band",
    "CoverageSplit",
    "Crossover",
    "DeltaSE",
    "SupportChange",
    "above_floor",
    "accuracy_histogram",
    "bootstrap_weights",
    "check_counts",
    "checked_counts",
    "counts_from_grades",
    "cover_at_tau",
    "coverage_split",
    "crossover",
    "crossover_budget",
    "delta_se",
    "explained_by_guessing",
    "first_sign_change",
    "floor_pass_at_k",
    "g_pass_at_k",
    "g_pass_table",
    "judge_subset",
    "maj_at_k",
    "mg_pass_at_k",
    "paired_difference",
    "pass_at_k",
    "pass_at_k_curve",
    "per_problem_pass_at_k",
    "percentile_interval",
    "samples_to_rule_out",
    "scan_grades",
    "simultaneous_band",
    "solution_coverage",
    "support_change",
    "upset_table",
]
