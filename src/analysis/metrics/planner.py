"""Sample-budget planner: from a pilot run, how many samples per problem a decision takes.

Two decisions:

* "Is this problem unsolved at k?", read as: is its pass@k at most ε, at confidence 1 − α? A problem
  with a correct pilot sample is solved; for one with none, n samples without a success bound its
  success rate by p ≤ 1 − α^{1/n} (the one-sided Clopper–Pearson bound for 0 of n), so pass@k ≤
  1 − α^{k/n}, which is ≤ ε once n ≥ k·ln α / ln(1 − ε) (:func:`samples_to_rule_out`; e.g. k = 256,
  ε = 0.05, α = 0.05 needs n ≥ 14,952). The pilot's own zeros count towards n: the event "all n
  samples fail" has probability (1 − p)^n whether or not the pilot was looked at first.
* "Is there a crossover?": the smallest n per problem at which the simultaneous band
  (``band.py``) certifies a gain followed by a loss with probability ≥ ``power``
  (:func:`crossover_budget`). Per model, a zero-inflated beta law of success rates (p = 0 with
  probability π₀, else Beta(α, β)) is fitted to the pilot by maximum likelihood; each problem's rate
  is drawn from its posterior given its pilot count, counts are simulated at each candidate n, and the
  band is computed on each simulated study. The point mass matters: with a plain per-problem
  posterior (Jeffreys, Beta(c + ½, n₀ − c + ½)) every 0-of-32 problem gets p ≈ 0.015, so a simulated
  RL model "solves" at large k the problems it never solves, and the planner never sees the loss. The
  answer is still only as good as the pilot's picture of rare successes: a pilot of 32 cannot tell
  p = 10⁻³ from p = 0.

pass@k with unequal n per problem. The estimator 1 − C(n_i − c_i, k) / C(n_i, k) is unbiased for
1 − (1 − p_i)^k for every fixed n_i ≥ k (it is the average, over the k-subsets of the n_i samples, of
"the subset holds a correct sample", and each k-subset is k independent samples). The mean over
problems of unbiased estimates is unbiased for mean pass@k whatever the n_i, *provided each n_i is
fixed without looking at that problem's own samples*. A planned budget depends on the pilot, so the
pilot samples must not be pooled into the final estimate: pooling is biased upwards (more samples are
drawn exactly where the pilot saw no success, turning some of those zeros into successes, while the
other problems keep their pilot estimates), and so is using the pilot for some problems and fresh
samples for others. Plan with the pilot, then estimate from the samples drawn after it.
:func:`expected_estimate` computes the estimator's exact expectation under both rules (the tests
check both statements).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import betabinom, binom

from analysis.metrics.band import band_from_rows, certify
from analysis.metrics.passk import survival_matrix
from analysis.metrics.validate import check_counts

DEFAULT_CANDIDATES = (64, 128, 256, 512, 1024)
MIN_SHAPE = 1e-6  # smallest beta-law shape parameter of a fitted pilot prior


def samples_to_rule_out(k: int, *, epsilon: float = 0.05, confidence: float = 0.95) -> int:
    """Samples without a success needed to conclude pass@k ≤ ``epsilon`` at ``confidence``."""
    if k < 1 or not 0.0 < epsilon < 1.0 or not 0.0 < confidence < 1.0:
        msg = f"need k ≥ 1 and epsilon, confidence in (0, 1); got k={k}, epsilon={epsilon}, confidence={confidence}"
        raise ValueError(msg)
    return max(k, math.ceil(k * math.log(1.0 - confidence) / math.log(1.0 - epsilon) - 1e-9))


def pass_at_k_upper_bound(n: int, k: int, *, confidence: float = 0.95) -> float:
    """The upper confidence bound on pass@k after 0 successes in n samples: 1 − α^{k/n}."""
    return 1.0 - (1.0 - confidence) ** (k / n)


def unsolved_plan(pilot: pl.DataFrame, k: int, *, epsilon: float = 0.05, confidence: float = 0.95) -> pl.DataFrame:
    """Per pilot row: ``status`` ("solved" when c > 0, else "open") and ``extra`` samples to rule out pass@k > ε."""
    pilot = check_counts(pilot, ("model", "benchmark"), what="pilot counts")
    need = samples_to_rule_out(k, epsilon=epsilon, confidence=confidence)
    return pilot.with_columns(
        pl.when(pl.col("c") > 0).then(pl.lit("solved")).otherwise(pl.lit("open")).alias("status"),
        pl.when(pl.col("c") > 0).then(0).otherwise((need - pl.col("n")).clip(0)).cast(pl.Int64).alias("extra"),
    )


@dataclass(frozen=True)
class PilotPrior:
    """A zero-inflated beta law of per-problem success rates: p = 0 with probability ``zero``, else
    p ~ Beta(alpha, beta). Fitted to a pilot's counts by maximum likelihood (beta-binomial mixture)."""

    zero: float
    alpha: float
    beta: float

    def posterior_draw(self, rng: np.random.Generator, n: np.ndarray, c: np.ndarray) -> np.ndarray:
        """One draw of each problem's rate given its pilot (n, c)."""
        n, c = np.asarray(n), np.asarray(c)
        solvable = betabinom.pmf(0, n, self.alpha, self.beta) * (1.0 - self.zero)
        p_zero = np.where(c == 0, self.zero / (self.zero + solvable), 0.0)
        rate = rng.beta(self.alpha + c, self.beta + n - c)
        return np.where(rng.random(rate.shape) < p_zero, 0.0, rate)


def fit_pilot_prior(n: np.ndarray, c: np.ndarray) -> PilotPrior:
    """Maximum-likelihood zero-inflated beta-binomial fit to pilot counts (see :class:`PilotPrior`)."""
    n, c = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)

    def nll(theta: np.ndarray) -> float:
        zero = expit(theta[0])
        a, b = np.exp(theta[1]), np.exp(theta[2])
        like = (1.0 - zero) * betabinom.pmf(c, n, a, b) + zero * (c == 0)
        return -float(np.sum(np.log(np.maximum(like, 1e-300))))

    share0 = float(np.mean(c == 0))
    start = np.array([np.log((share0 + 0.05) / (1.05 - share0)), 0.0, 0.0])
    fit = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
    # A pilot where every sample of every problem is right (or wrong) drives alpha or beta towards 0,
    # where exp() underflows; the floor keeps the law a proper beta.
    alpha, beta = (max(float(np.exp(x)), MIN_SHAPE) for x in fit.x[1:3])
    return PilotPrior(zero=float(expit(fit.x[0])), alpha=alpha, beta=beta)


def crossover_budget(
    pilot: pl.DataFrame,
    other: str,
    base: str,
    *,
    candidates: Sequence[int] = DEFAULT_CANDIDATES,
    level: float = 0.95,
    power: float = 0.8,
    n_sims: int = 20,
    n_resamples: int = 300,
    seed: int = 0,
) -> pl.DataFrame:
    """Simulated probability that the band certifies a crossover, per candidate n (samples per problem).

    ``pilot`` is a counts table of one benchmark with both models. Columns: ``n, power, enough`` (power
    ≥ ``power``), and ``share_gain``/``share_loss``, the share of simulations with any certified gain /
    any certified loss. The smallest n with ``enough`` is the plan.
    """
    pilot = check_counts(pilot, ("model", "benchmark"), what="pilot counts")
    keys = ["benchmark", "problem_id"]
    pair = pilot.filter(pl.col("model") == other).join(pilot.filter(pl.col("model") == base), on=keys, suffix="_b")
    if pair.height < 2:
        msg = f"the pilot pairs {pair.height} problems of {other!r} and {base!r}; need at least 2"
        raise ValueError(msg)
    n_o, c_o = pair["n"].to_numpy(), pair["c"].to_numpy()
    n_b, c_b = pair["n_b"].to_numpy(), pair["c_b"].to_numpy()
    rng = np.random.default_rng(seed)
    prior_o, prior_b = fit_pilot_prior(n_o, c_o), fit_pilot_prior(n_b, c_b)
    rows = []
    for n in sorted({int(x) for x in candidates}):
        ks = np.arange(1, n + 1)
        hits = gains = losses = 0
        for _ in range(n_sims):
            p_o, p_b = prior_o.posterior_draw(rng, n_o, c_o), prior_b.posterior_draw(rng, n_b, c_b)
            sim_o, sim_b = rng.binomial(n, p_o), rng.binomial(n, p_b)
            full = np.full(sim_o.shape, n)
            diff = survival_matrix(full, sim_b, n) - survival_matrix(full, sim_o, n)
            core = band_from_rows(diff, ks, level=level, n_resamples=n_resamples, seed=int(rng.integers(2**31)))
            cert = certify(ks, core.lo, core.hi)
            hits += cert.crossing
            gains += bool(cert.gains)
            losses += bool(cert.losses)
        rows.append(
            {
                "n": n,
                "power": hits / n_sims,
                "enough": hits / n_sims >= power,
                "share_gain": gains / n_sims,
                "share_loss": losses / n_sims,
            }
        )
    return pl.DataFrame(rows)


def estimator(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one problem (scalar; exact via math.comb)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def expected_estimate(p: float, k: int, pilot_n: int, budget: Callable[[int], int], *, pool_pilot: bool) -> float:
    """Exact expectation of the pass@k estimate of a problem with success rate ``p`` under a two-stage plan.

    A pilot of ``pilot_n`` samples gives c₀; then ``budget(c₀)`` further samples give c₁. With
    ``pool_pilot`` the estimate is from n₀ + m samples and c₀ + c₁ successes; without, from the m fresh
    samples alone (``budget`` must then give at least k).
    """
    total = 0.0
    for c0 in range(pilot_n + 1):
        w0 = float(binom.pmf(c0, pilot_n, p))
        m = budget(c0)
        for c1 in range(m + 1):
            w1 = float(binom.pmf(c1, m, p))
            value = estimator(pilot_n + m, c0 + c1, k) if pool_pilot else estimator(m, c1, k)
            total += w0 * w1 * value
    return total
