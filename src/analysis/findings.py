"""Every verdict the study states, decided in one place.

:func:`compare_pair` compares one model with its base on one benchmark at one temperature and
returns a :class:`Finding`: the paired bootstrap intervals at k = 1 and k = n, the coverage split,
the crossover, and the *outcome*, the first of these that applies, checked in this order:

``sharpening``
    the other model is better at k = 1, the base is better at k = n, and at most
    :data:`MAX_NEW_SHARE` of the problems are solved only by the other (the paper's pattern);
``expansion``
    the other is better at k = n, or more than :data:`MAX_NEW_SHARE` of the problems are solved
    only by it;
``worse``
    the other is worse at k = 1 and not better at k = n;
``no_difference``
    no interval excludes 0 at k = 1 or at k = n, and the two solvable sets differ by at most
    :data:`MAX_NEW_SHARE` of the problems in each direction;
``mixed``
    anything else, with the reason.

"Better" and "worse" always mean that the paired interval of (other − base) excludes 0. The
thresholds are defined here and nowhere else: the overview, the comparison page, the toy world's
experiment tables and its phase diagram all classify through this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from analysis import metrics as M

# At most this share of the problems may be solved only by the other model for the solvable set
# to count as (almost) inside the base's. The paper's SimpleRL-Zoo vs Qwen2.5-7B on MATH500:
# 3 of 500 (0.6%).
MAX_NEW_SHARE = 0.02
OUTCOMES = ("sharpening", "expansion", "worse", "no_difference", "mixed")
OUTCOME_TEXT = {
    "sharpening": "sharpening (the paper's pattern)",
    "expansion": "expansion",
    "worse": "worse than the base",
    "no_difference": "no detectable difference",
    "mixed": "mixed",
}
GROUP = ("benchmark", "temperature")


@dataclass(frozen=True)
class Interval:
    """A paired difference (other − base) at one k, with its bootstrap interval."""

    k: int
    base: float
    other: float
    diff: float
    lo: float
    hi: float

    @property
    def other_better(self) -> bool:
        return self.lo > 0

    @property
    def other_worse(self) -> bool:
        return self.hi < 0

    def __str__(self) -> str:
        return f"{self.diff:+.3f} [{self.lo:+.3f}, {self.hi:+.3f}]"


@dataclass(frozen=True)
class Finding:
    """One comparison of ``other`` with ``base`` on one benchmark at one temperature."""

    benchmark: str
    temperature: float
    base: str
    other: str
    n: int
    problems: int
    at_1: Interval
    at_n: Interval
    only_other: int
    only_base: int
    both: int
    neither: int
    crossover: M.Crossover
    outcome: str
    reason: str
    ci: float

    @property
    def share_only_other(self) -> float:
        return self.only_other / self.problems if self.problems else 0.0

    @property
    def share_only_base(self) -> float:
        return self.only_base / self.problems if self.problems else 0.0

    def row(self) -> dict[str, Any]:
        """A flat record for tables (the findings table has one per finding)."""
        c = self.crossover
        return {
            "benchmark": self.benchmark,
            "temperature": self.temperature,
            "base": self.base,
            "other": self.other,
            "n": self.n,
            "problems": self.problems,
            "outcome": self.outcome,
            "reason": self.reason,
            "pass@1 base": self.at_1.base,
            "pass@1 other": self.at_1.other,
            "Δ pass@1": self.at_1.diff,
            "Δ pass@1 lo": self.at_1.lo,
            "Δ pass@1 hi": self.at_1.hi,
            "pass@n base": self.at_n.base,
            "pass@n other": self.at_n.other,
            "Δ pass@n": self.at_n.diff,
            "Δ pass@n lo": self.at_n.lo,
            "Δ pass@n hi": self.at_n.hi,
            "other only": self.only_other,
            "base only": self.only_base,
            "both": self.both,
            "neither": self.neither,
            "other only (%)": round(100 * self.share_only_other, 2),
            "crossover k": c.k,
            "crossover lo": c.lo,
            "crossover hi": c.hi,
            "crossover": str(c),
            "ci": self.ci,
        }


def decide(at_1: Interval, at_n: Interval, only_other: int, only_base: int, problems: int) -> tuple[str, str]:
    """The outcome and its reason from the two intervals and the coverage split (see module doc)."""
    if problems <= 0:
        msg = "a comparison needs at least one shared problem"
        raise ValueError(msg)
    limit = MAX_NEW_SHARE * problems
    new = only_other / problems
    pct = f"{only_other} of {problems} problems ({new:.1%}) solved only by the other"
    if at_1.other_better and at_n.other_worse and only_other <= limit:
        return "sharpening", f"better at k = 1, the base better at k = {at_n.k}, {pct}"
    if at_n.other_better or only_other > limit:
        why = f"better at k = {at_n.k}" if at_n.other_better else f"more than {MAX_NEW_SHARE:.0%} new: {pct}"
        return "expansion", why
    if at_1.other_worse and not at_n.other_better:
        tail = "also worse" if at_n.other_worse else "no better"
        return "worse", f"worse at k = 1 and {tail} at k = {at_n.k}"
    flat = not (at_1.other_better or at_1.other_worse or at_n.other_better or at_n.other_worse)
    if flat and only_other <= limit and only_base <= limit:
        return "no_difference", (
            f"both intervals include 0, and the solvable sets differ by {only_other} and {only_base} problems"
        )
    at_k1 = "better" if at_1.other_better else "worse" if at_1.other_worse else "no difference"
    at_kn = "better" if at_n.other_better else "the base better" if at_n.other_worse else "no difference"
    parts = [
        f"k = 1: {at_k1}",
        f"k = {at_n.k}: {at_kn}",
        pct,
        f"{only_base} solved only by the base",
    ]
    return "mixed", "; ".join(parts)


def _interval(row: dict[str, Any]) -> Interval:
    return Interval(
        k=int(row["k"]),
        base=float(row["pass_at_k_b"]),
        other=float(row["pass_at_k_a"]),
        diff=float(row["diff"]),
        lo=float(row["lo"]),
        hi=float(row["hi"]),
    )


def compare_pair(
    counts: pl.DataFrame,
    base: str,
    other: str,
    *,
    ci: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Finding:
    """Compare ``other`` with ``base`` on one benchmark and temperature (``counts`` holds one group).

    ``counts`` is the counts table (``model, benchmark, problem_id, n, c`` and ``temperature``; a
    table without ``temperature`` is taken as one temperature). Raises ``ValueError`` when it holds
    several groups or lacks either model.
    """
    if "temperature" not in counts.columns:
        counts = counts.with_columns(pl.lit(float("nan")).alias("temperature"))
    groups = counts.select(GROUP).unique()
    if groups.height != 1:
        msg = f"compare_pair needs one benchmark and temperature, got {groups.height} groups: filter first"
        raise ValueError(msg)
    present = set(counts["model"].unique().to_list())
    missing = [m for m in (base, other) if m not in present]
    if missing:
        msg = f"compare_pair: model(s) {missing} not in the counts (present: {sorted(present)})"
        raise ValueError(msg)
    pair = counts.filter(pl.col("model").is_in([base, other]))
    n = int(pair["n"].min())
    d = M.paired_difference(pair, other, base, ks=[1, n], by=GROUP, ci=ci, n_resamples=n_resamples, seed=seed)
    at_1, at_n = _interval(d.row(0, named=True)), _interval(d.row(d.height - 1, named=True))
    split = M.coverage_split(pair, base, other, by=GROUP)
    problems = len(split.both) + len(split.only_a) + len(split.only_b) + len(split.neither)
    cross = M.crossover(pair, other, base, by=GROUP, ci=ci, n_resamples=n_resamples, seed=seed)
    outcome, reason = decide(at_1, at_n, len(split.only_b), len(split.only_a), problems)
    key = groups.row(0, named=True)
    return Finding(
        benchmark=str(key["benchmark"]),
        temperature=float(key["temperature"]),
        base=base,
        other=other,
        n=n,
        problems=problems,
        at_1=at_1,
        at_n=at_n,
        only_other=len(split.only_b),
        only_base=len(split.only_a),
        both=len(split.both),
        neither=len(split.neither),
        crossover=cross,
        outcome=outcome,
        reason=reason,
        ci=ci,
    )


def compare_all(
    counts: pl.DataFrame,
    pairs: Iterable[tuple[str, str]],
    *,
    ci: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> list[Finding]:
    """:func:`compare_pair` for every (base, other) pair present in each benchmark x temperature."""
    pairs = list(pairs)
    out = []
    for _, frame in counts.group_by(list(GROUP), maintain_order=True):
        present = set(frame["model"].unique().to_list())
        for base, other in pairs:
            if base in present and other in present:
                out.append(compare_pair(frame, base, other, ci=ci, n_resamples=n_resamples, seed=seed))
    return out


def findings_table(findings: Sequence[Finding], **columns: Any) -> pl.DataFrame:
    """The findings as one table; ``columns`` adds constant columns (e.g. ``grader="paper"``)."""
    if not findings:
        return pl.DataFrame()
    rows = [f.row() | columns for f in findings]
    return pl.DataFrame(rows, infer_schema_length=None)


@cache
def rules_version() -> str:
    """A hash of this module's source. Committed result tables record it; a table classified by
    other rules is shown as stale."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class PhaseBoundary:
    """Where, along the share of hard RL prompts, the outcome turns from the paper's pattern into
    expansion, at one temperature and the final training step of a phase diagram."""

    temperature: float
    step: int
    sharpening_up_to: float | None  # largest share with sharpening in every cell and seed (and below)
    expansion_from: float | None  # smallest share with expansion in every cell and seed (and above)
    shares: tuple[float, ...]

    def __str__(self) -> str:
        lo, hi = self.sharpening_up_to, self.expansion_from
        at = f"at T = {self.temperature:g}, step {self.step}"
        if lo is not None and hi is not None:
            return (
                f"{at}: sharpening in every cell and seed up to {lo:.0%} hard prompts, expansion in every cell "
                f"and seed from {hi:.0%} on, so the boundary lies between {lo:.0%} and {hi:.0%}"
            )
        if lo is None and hi is None:
            return f"{at}: no share of hard prompts gives one outcome in every cell and seed"
        if lo is None:
            return f"{at}: expansion in every cell and seed from {hi:.0%} on; no share gives sharpening everywhere"
        return f"{at}: sharpening in every cell and seed up to {lo:.0%}; no share gives expansion everywhere"


def phase_boundary(summary: pl.DataFrame) -> list[PhaseBoundary]:
    """One :class:`PhaseBoundary` per temperature from a phase-diagram summary (columns
    ``temperature, hard_share, step, seeds, paper_pattern_seeds, expansion_seeds``; one row per cell)."""
    out = []
    for (t,), frame in summary.group_by(["temperature"], maintain_order=True):
        final = frame.filter(pl.col("step") == frame["step"].max())
        per_share = (
            final.group_by("hard_share")
            .agg(
                (pl.col("paper_pattern_seeds") == pl.col("seeds")).all().alias("all_sharp"),
                (pl.col("expansion_seeds") == pl.col("seeds")).all().alias("all_exp"),
            )
            .sort("hard_share")
        )
        shares = per_share["hard_share"].to_list()
        sharp, exp = per_share["all_sharp"].to_list(), per_share["all_exp"].to_list()
        lo = None
        for share, ok in zip(shares, sharp, strict=True):
            if not ok:
                break
            lo = share
        hi = None
        for share, ok in zip(reversed(shares), reversed(exp), strict=True):
            if not ok:
                break
            hi = share
        out.append(PhaseBoundary(float(t), int(final["step"].max()), lo, hi, tuple(shares)))
    return sorted(out, key=lambda b: b.temperature)
