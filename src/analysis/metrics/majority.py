"""maj@k: majority voting over the extracted answers of k samples.

Definition used here, for one problem with n graded samples:

* a sample votes for its ``extracted`` answer (exact string equality); a sample with no answer
  (null ``extracted``) abstains;
* an answer is correct when any of the samples that gave it was graded correct (a deterministic
  grader gives all of them the same verdict; "any" keeps an answer correct if one of its gradings timed
  out);
* maj@k is the expected correctness of the most-voted answer of a uniformly random k-subset of the n
  samples, ties between answers broken uniformly at random (a tie between one correct and one wrong
  answer scores 1/2), and a subset where every sample abstains scores 0.

The expectation over k-subsets is computed exactly when there are at most ``draws`` of them (always at
k = 1 and k = n), and otherwise estimated from ``draws`` random k-subsets drawn with
``numpy.random.default_rng(seed)`` (the same random orderings of a problem's samples serve every k, each
k using the first k samples of each ordering, which is a uniform k-subset). The estimator is unbiased;
its standard error over a benchmark is at most 0.5 / sqrt(draws x problems). maj@k is averaged over
problems per group. Cost grows as problems x draws x n log n.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis.metrics.counts import GradesSource, scan_grades
from analysis.metrics.validate import DEFAULT_BY, as_by, as_int_array

DEFAULT_DRAWS = 1000


def _subset_scores(codes: np.ndarray, correct_answer: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Majority-vote credit of each subset (rows of sample indices)."""
    n_answers = correct_answer.size
    if n_answers == 0:
        return np.zeros(subsets.shape[0])
    votes_for = codes[subsets]  # subsets x k, -1 = abstain
    rows = np.broadcast_to(np.arange(subsets.shape[0])[:, None], votes_for.shape)
    valid = votes_for >= 0
    flat = rows[valid] * n_answers + votes_for[valid]
    tally = np.bincount(flat, minlength=subsets.shape[0] * n_answers).reshape(subsets.shape[0], n_answers)
    top = tally.max(axis=1)
    winners = (tally == top[:, None]) & (top[:, None] > 0)
    n_winners = winners.sum(axis=1)
    good = (winners & correct_answer[None, :]).sum(axis=1)
    return np.divide(good, n_winners, out=np.zeros(subsets.shape[0]), where=n_winners > 0)


def majority_at_k_problem(
    answers: Sequence[str | None], correct: Sequence[bool], ks: Sequence[int], *, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """maj@k of one problem for each k in ``ks`` (see the module docstring)."""
    n = len(answers)
    labels = {a: i for i, a in enumerate(dict.fromkeys(a for a in answers if a is not None))}
    codes = np.array([labels[a] if a is not None else -1 for a in answers], dtype=np.int64)
    correct_answer = np.zeros(len(labels), dtype=bool)
    ok = np.asarray(correct, dtype=bool)
    if ok.any():
        correct_answer[np.unique(codes[ok & (codes >= 0)])] = True
    out = np.empty(len(ks))
    order = None
    for j, k in enumerate(ks):
        if math.comb(n, k) <= draws:
            subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
        else:
            if order is None:
                order = np.argsort(rng.random((draws, n)), axis=1)
            subsets = order[:, :k]
        out[j] = _subset_scores(codes, correct_answer, subsets).mean()
    return out


def maj_at_k(
    grades: GradesSource,
    ks: Sequence[int],
    *,
    by: str | Sequence[str] = DEFAULT_BY,
    grader: str | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> pl.DataFrame:
    """maj@k per group from a grades table with ``extracted`` answers (see the module docstring).

    ``grades`` is a frame or parquet path(s) with the group columns, ``problem_id``, ``extracted`` and
    ``correct`` (and ``grader`` when ``grader`` is given). Every k must be at most the number of samples
    of every problem. Returns ``(*by, k, maj_at_k)`` sorted by group and k.
    """
    by = as_by(by)
    k_arr = np.unique(as_int_array(ks, "ks").ravel())
    if k_arr.size == 0 or k_arr[0] < 1:
        msg = f"ks must be positive integers, got {list(ks)}"
        raise ValueError(msg)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        msg = f"draws must be a positive integer, got {draws!r}"
        raise ValueError(msg)
    lf = scan_grades(grades)
    have = lf.collect_schema()
    need = [*by, "problem_id", "extracted", "correct"] + (["grader"] if grader is not None else [])
    missing = [col for col in need if col not in have]
    if missing:
        msg = f"grades table is missing column(s) {missing} (it has {list(have)})"
        raise ValueError(msg)
    if grader is not None:
        lf = lf.filter(pl.col("grader") == grader)
    order = [*by, "problem_id"] + (["sample_index"] if "sample_index" in have else [])
    per_problem = (
        lf.select(*order, "extracted", "correct")
        .sort(order)
        .group_by([*by, "problem_id"], maintain_order=True)
        .agg(pl.col("extracted"), pl.col("correct"))
        .collect()
    )
    if per_problem.height == 0:
        msg = "grades table has no rows" + (f" for grader {grader!r}" if grader is not None else "")
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    rows: dict[tuple, list[np.ndarray]] = {}
    for rec in per_problem.iter_rows(named=True):
        answers, correct = rec["extracted"], rec["correct"]
        where = ", ".join(f"{b}={rec[b]!r}" for b in by)
        if any(v is None for v in correct):
            msg = f"grades: 'correct' is null for problem {rec['problem_id']!r} ({where})"
            raise ValueError(msg)
        if int(k_arr[-1]) > len(answers):
            msg = f"k = {int(k_arr[-1])} exceeds the {len(answers)} samples of problem {rec['problem_id']!r} ({where})"
            raise ValueError(msg)
        scores = majority_at_k_problem(answers, correct, k_arr.tolist(), draws=draws, rng=rng)
        rows.setdefault(tuple(rec[b] for b in by), []).append(scores)
    frames = []
    for key, scores in rows.items():
        mean = np.mean(np.vstack(scores), axis=0)
        cols = {b: [v] * k_arr.size for b, v in zip(by, key, strict=True)}
        frames.append(pl.DataFrame({**cols, "k": k_arr.astype(np.int64), "maj_at_k": mean}))
    return pl.concat(frames).sort([*by, "k"])
