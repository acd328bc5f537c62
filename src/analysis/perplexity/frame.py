"""The scores frame every scoring backend returns (its own module: the backends and
``score_responses`` both need it, and ``score`` imports the vLLM backend lazily)."""

from __future__ import annotations

import numpy as np
import polars as pl


def scores_frame(logprob_sums: np.ndarray, counts: np.ndarray) -> pl.DataFrame:
    """``nll_mean``, ``ppl`` (= exp(nll_mean)) and ``n_tokens`` from per-response sums and counts."""
    return pl.DataFrame(
        {
            "nll_mean": -np.asarray(logprob_sums, dtype=np.float64) / np.asarray(counts, dtype=np.float64),
            "n_tokens": np.asarray(counts, dtype=np.int32),
        },
        schema={"nll_mean": pl.Float64, "n_tokens": pl.Int32},
    ).select("nll_mean", pl.col("nll_mean").exp().alias("ppl"), "n_tokens")
