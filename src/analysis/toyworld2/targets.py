"""The issue's targets for toy world 2's default, checked on counts tables and findings.

Per temperature, on the base: no accuracy bin (the paper's 12 bins) holds more than 35% of the
problems, and at least 8 of the 12 are non-empty. Per RL run: pass@n − pass@1 ≥ 0.15; RL better
at pass@1 (paired interval above 0); the base better at pass@n (interval below 0); crossover
k ≥ 16 (RL ahead at k = 1); at most 2% of the problems solved only by RL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from analysis.findings import MAX_NEW_SHARE, Finding
from analysis.metrics import accuracy_histogram, pass_at_k

MAX_BIN_SHARE = 0.35
MIN_BINS = 8
MIN_RISE = 0.15
MIN_CROSSOVER = 16


def histogram_checks(counts: pl.DataFrame) -> dict[str, Any]:
    """Largest bin share and non-empty bins of one model's counts at one temperature."""
    hist = accuracy_histogram(counts, by=["model"])
    largest = float(hist["percent"].max()) / 100
    filled = int((hist["count"] > 0).sum())
    return {
        "largest_bin_share": largest,
        "nonempty_bins": filled,
        "spread_ok": largest <= MAX_BIN_SHARE and filled >= MIN_BINS,
    }


def rise(counts: pl.DataFrame) -> float:
    """pass@n − pass@1 of one model at one temperature (unbiased estimator, mean over problems)."""
    n = int(counts["n"].min())
    c = counts["c"].to_numpy()
    return float(np.mean(pass_at_k(n, c, n)) - np.mean(pass_at_k(n, c, 1)))


def run_checks(rl_counts: pl.DataFrame, finding: Finding) -> dict[str, Any]:
    """The five RL targets for one run at one temperature."""
    cross = finding.crossover
    r = rise(rl_counts)
    return {
        "rl_rise": r,
        "rise_ok": r >= MIN_RISE,
        "pass1_ok": finding.at_1.other_better,
        "passn_ok": finding.at_n.other_worse,
        "crossover_ok": cross.k is not None and cross.sign_at_1 == 1 and cross.k >= MIN_CROSSOVER,
        "only_rl_ok": finding.share_only_other <= MAX_NEW_SHARE,
    }
