"""The unbiased pass@k estimator (Chen et al. 2021), elementwise and as whole per-problem curves.

For a problem with ``n`` samples of which ``c`` are correct,

    pass@k = 1 - C(n - c, k) / C(n, k),

the probability that a uniformly drawn k-subset of the n samples holds at least one correct sample.

Two ways to compute it:

* :func:`pass_at_k` evaluates it for arbitrary broadcast ``(n, c, k)`` arrays. The ratio is a product of
  ``min(c, k)`` factors, ``C(n-c, k)/C(n, k) = prod_{i<min(c,k)} (n - max(c,k) - i) / (n - i)``, multiplied
  out for all elements at once, one factor per step, and stopped for an element as soon as its product is
  below 2**-60 (from there ``1 - q`` is 1.0 exactly in float64). Relative rounding error of the product
  is at most about ``min(c, k)`` ulps, and the product is only large when ``min(c, k)`` is below about
  ``sqrt(n)``; the tests check agreement with exact integer arithmetic to 1e-12 for n up to 100,000.
* :func:`per_problem_pass_at_k` gives pass@1..K for each problem in O(K) by the recurrence
  ``q_0 = 1, q_k = q_{k-1} (n - c - k + 1) / (n - k + 1)`` (a cumulative product; negative factors, which
  appear once ``k > n - c``, are clipped to 0). This is what the curves use: one vectorised cumulative
  product instead of one estimator call per k per problem.

Edge cases are explicit: ``c = 0`` gives 0; ``k > n - c`` with ``c > 0`` gives 1; ``k > n``, ``k < 1``,
``c > n``, negative or non-integer values raise ``ValueError`` naming the bad value.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

from analysis.metrics.validate import as_int_array

_TINY = 2.0**-60  # below this, 1 - q == 1.0 exactly in float64 and q can only shrink further
CHUNK_ELEMENTS = 1 << 23
"""Problems x k cells computed at a time by the curve functions (64 MiB of float64): bounds memory."""


def pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> float | np.ndarray:
    """Unbiased pass@k for each broadcast element of ``n`` (samples), ``c`` (correct) and ``k``.

    Returns a float for scalar input, else a float64 array of the broadcast shape. Problems may have
    different ``n``. Raises ``ValueError`` naming the bad value for non-integers, negatives, ``n < 1``,
    ``k < 1``, ``c > n`` and ``k > n``.
    """
    n_arr = as_int_array(n, "n")
    c_arr = as_int_array(c, "c")
    k_arr = as_int_array(k, "k")
    try:
        n_b, c_b, k_b = np.broadcast_arrays(n_arr, c_arr, k_arr)
    except ValueError as exc:
        msg = f"n, c and k do not broadcast together: shapes {n_arr.shape}, {c_arr.shape}, {k_arr.shape}"
        raise ValueError(msg) from exc
    _check_nck(n_b, c_b, k_b)
    out = _pass_at_k_flat(n_b.ravel(), c_b.ravel(), k_b.ravel()).reshape(n_b.shape)
    if out.ndim == 0:
        return float(out)
    return out


def _check_nck(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> None:
    for bad, text in (
        (n < 1, "n must be at least 1, got n = {n}"),
        (c < 0, "c must be non-negative, got c = {c}"),
        (k < 1, "k must be at least 1, got k = {k}"),
        (c > n, "c = {c} exceeds n = {n}"),
        (k > n, "k = {k} exceeds n = {n} (pass@k needs at least k samples)"),
    ):
        if bad.any():
            idx = tuple(int(i[0]) for i in np.nonzero(bad)) if bad.ndim else ()
            at = f" at index {idx[0] if len(idx) == 1 else idx}" if idx else ""
            raise ValueError(text.format(n=int(n[idx]), c=int(c[idx]), k=int(k[idx])) + at)


def _pass_at_k_flat(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """pass@k for validated 1-d int64 arrays (see the module docstring for the method)."""
    out = np.zeros(n.shape, dtype=np.float64)
    certain = (c > 0) & (n - c < k)  # every k-subset holds a correct sample
    out[certain] = 1.0
    todo = np.flatnonzero((c > 0) & ~certain)
    if todo.size == 0:
        return out
    m = np.minimum(c[todo], k[todo])
    big = n[todo] - np.maximum(c[todo], k[todo])  # numerator start: n - max(c, k) >= 1 here
    nn = n[todo].astype(np.float64)
    bigf = big.astype(np.float64)
    q = np.ones(todo.size, dtype=np.float64)
    active = np.arange(todo.size)
    i = 0
    while active.size:
        q[active] *= (bigf[active] - i) / (nn[active] - i)
        i += 1
        keep = (m[active] > i) & (q[active] >= _TINY)
        active = active[keep]
    out[todo] = 1.0 - q
    return out


def per_problem_pass_at_k(n: ArrayLike, c: ArrayLike, k_max: int) -> np.ndarray:
    """pass@1..k_max for each problem: a float64 array of shape (problems, k_max), column j is k = j + 1.

    ``k_max`` must not exceed the smallest ``n``. O(k_max) per problem by the cumulative-product
    recurrence; memory is problems x k_max floats (the curve functions call it in chunks of problems).
    """
    n_arr = as_int_array(n, "n").ravel()
    c_arr = as_int_array(c, "c").ravel()
    if n_arr.shape != c_arr.shape:
        msg = f"n and c must have one value per problem, got {n_arr.size} and {c_arr.size} values"
        raise ValueError(msg)
    k_max = int(as_int_array(k_max, "k_max"))
    if n_arr.size:
        _check_nck(n_arr, c_arr, np.full_like(n_arr, k_max))
    return survival_matrix(n_arr, c_arr, k_max, complement=True)


def survival_matrix(n: np.ndarray, c: np.ndarray, k_max: int, *, complement: bool = False) -> np.ndarray:
    """q[i, k-1] = C(n_i - c_i, k) / C(n_i, k) for k = 1..k_max (or 1 - q with ``complement``)."""
    j = np.arange(k_max, dtype=np.float64)
    nf = n.astype(np.float64)[:, None]
    cf = c.astype(np.float64)[:, None]
    q = (nf - cf - j) / (nf - j)
    np.maximum(q, 0.0, out=q)
    np.cumprod(q, axis=1, out=q)
    if complement:
        np.subtract(1.0, q, out=q)
    return q


def chunks(n_problems: int, width: int) -> Iterator[slice]:
    """Row slices so that each chunk holds at most :data:`CHUNK_ELEMENTS` cells of ``width`` columns."""
    step = max(1, CHUNK_ELEMENTS // max(1, width))
    for start in range(0, n_problems, step):
        yield slice(start, min(start + step, n_problems))


def pass_at_k_columns(n: np.ndarray, c: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """pass@k for each problem (rows) at each of the sorted ``ks`` (columns), via the recurrence.

    ``n`` and ``c`` are validated int64 arrays; every k in ``ks`` is at most ``min(n)``.
    """
    q = survival_matrix(n, c, int(ks[-1]), complement=True)
    return q if ks.size == q.shape[1] else q[:, ks - 1]
