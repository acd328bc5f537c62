"""Bootstrap over problems, vectorised as a weights matrix.

A bootstrap resample draws P problems with replacement from the P problems of a group. Resample b is
then fully described by how often it holds each problem, a row of the (resamples x problems) count
matrix W, and the resampled mean of any per-problem quantity X (problems x columns, e.g. pass@k for
every k) is ``W @ X / P``: one matrix product for all resamples and all k at once, instead of a Python
loop over resamples. Percentile intervals are read off the resampled means.

Randomness comes from ``numpy.random.default_rng(seed)``; the same seed and the same number of problems
give the same resamples, so curves of two models over the same sorted problem ids are resampled
identically (which is what a paired comparison needs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from analysis.metrics.passk import chunks

DEFAULT_RESAMPLES = 1000


def check_ci(ci: float | None) -> float | None:
    """``ci`` must be None or a level strictly between 0 and 1."""
    if ci is None:
        return None
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not 0.0 < float(ci) < 1.0:
        msg = f"ci must be a confidence level strictly between 0 and 1 (e.g. 0.95), got {ci!r}"
        raise ValueError(msg)
    return float(ci)


def check_resamples(n_resamples: int) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) or n_resamples < 1:
        msg = f"n_resamples must be a positive integer, got {n_resamples!r}"
        raise ValueError(msg)
    return int(n_resamples)


def bootstrap_weights(n_problems: int, n_resamples: int, seed: int | np.random.Generator) -> np.ndarray:
    """Count matrix (n_resamples x n_problems, int32): how often each resample draws each problem.

    Each row sums to ``n_problems``. ``seed`` is an int or a ``numpy.random.Generator``.
    """
    if n_problems < 1:
        msg = f"cannot bootstrap over {n_problems} problems"
        raise ValueError(msg)
    n_resamples = check_resamples(n_resamples)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    weights = np.empty((n_resamples, n_problems), dtype=np.int32)
    rows_per_step = max(1, (1 << 24) // n_problems)
    for start in range(0, n_resamples, rows_per_step):
        stop = min(start + rows_per_step, n_resamples)
        draws = rng.integers(0, n_problems, size=(stop - start, n_problems))
        draws += (np.arange(stop - start) * n_problems)[:, None]
        flat = np.bincount(draws.ravel(), minlength=(stop - start) * n_problems)
        weights[start:stop] = flat.reshape(stop - start, n_problems)
    return weights


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct tuples of the integer ``columns``: (their columns, each row's class, class sizes).

    A mean over problems only depends on how many problems share each distinct (n, c): the curve
    functions compute each distinct row once and weight it by its multiplicity (with n = 1024 there are at
    most 1,025 distinct counts per model however many problems there are).
    """
    stacked = np.stack([np.asarray(col, dtype=np.int64) for col in columns], axis=1)
    unique, inverse, multiplicity = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return [unique[:, j] for j in range(unique.shape[1])], inverse.ravel(), multiplicity


def class_weights(weights: np.ndarray, inverse: np.ndarray, n_classes: int) -> np.ndarray:
    """Sum the bootstrap count matrix's columns by class: (resamples x classes) from (resamples x problems)."""
    order = np.argsort(inverse, kind="stable")
    sizes = np.bincount(inverse, minlength=n_classes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.add.reduceat(weights[:, order], starts, axis=1)


def accumulate_means(
    block: Callable[[slice], np.ndarray],
    multiplicity: np.ndarray,
    width: int,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weighted mean over rows of a (rows x width) matrix built chunk by chunk, and its resampled means.

    Row r stands for ``multiplicity[r]`` problems; ``block(rows)`` returns the matrix rows for a slice,
    and chunks keep memory at :data:`~analysis.metrics.passk.CHUNK_ELEMENTS` cells. With ``weights``
    (resamples x rows: how often each resample draws each row's problems) the second result is
    ``weights @ matrix / n_problems``; else None.
    """
    n_rows = multiplicity.size
    n_problems = float(multiplicity.sum())
    total = np.zeros(width, dtype=np.float64)
    resampled = None if weights is None else np.zeros((weights.shape[0], width), dtype=np.float64)
    mult = multiplicity.astype(np.float64)
    for part in chunks(n_rows, width):
        rows = block(part)
        total += mult[part] @ rows
        if resampled is not None and weights is not None:
            resampled += weights[:, part].astype(np.float64) @ rows
    total /= n_problems
    if resampled is not None:
        resampled /= n_problems
    return total, resampled


def percentile_interval(resampled: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval (lower, upper) over axis 0 at level ``ci``."""
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(resampled, [alpha, 1.0 - alpha], axis=0)
    return lo, hi
