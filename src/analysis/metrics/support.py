"""Solution-level coverage and the empirical-support metrics of Wu et al. 2025 ("The Invisible Leash",
arXiv 2507.14843).

Problem-level coverage ("solved at least once in n samples") hides what happens inside problems that
stay solved: RL may keep one of the base's several correct ways to solve a problem and drop the others.
So count *distinct correct solutions* per problem, at three grains: the final answer (math problems
often have one; useful where the answer space is rich), the whole trajectory (normalised text), and
the strategy (the toy world's response format; for math, a label a classifier or judge assigns).

Empirical support. A model's empirical support on a problem is the set of distinct correct solutions
it produced in its samples (Wu et al.: the solutions it reaches with probability above a small ε,
which under a finite budget means solutions seen at least ``min_count`` times). For two models, base
support S_b and other support S_o, per problem:

* preserved P = S_b ∩ S_o, shrunk S = S_b \\ S_o (the base reaches it, the other no longer does),
  expanded E = S_o \\ S_b (new to the other);
* SRR, support retention rate = |P| / |S_b|: the share of the base's reachable correct solutions
  the other model keeps;
* NDR, net discovery rate = |E| / |S_o|: the share of the other model's reachable correct solutions
  that the base did not reach;
* SDS, support dynamic score = 2·SRR·NDR / (SRR + NDR), the harmonic mean of the two (high only when
  the model both keeps the old and finds new solutions);
* NSCR, net support change rate = (|E| − |S|) / |S_b ∪ S_o| (> 0 expansion, < 0 shrinkage; the
  denominator is our choice: the paper's glossary defines the sign, not the normalisation).

Set sizes are summed over problems before the ratios are taken (pooled over the benchmark), and each
ratio is also given per problem. The *problem* grain (a problem is the solution) gives the paper's
problem-level table: preserved = solved by both, shrunk = solved only by the base, expanded = solved
only by the other model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

GRAINS = ("answer", "trajectory", "strategy")
SOLUTIONS_COLUMNS = ("model", "benchmark", "problem_id", "correct")


def normalise_text(text: str | None) -> str:
    """A math trajectory or answer for deduplication: NFKC, lower case, whitespace and ``$`` collapsed."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFKC", text).lower().replace("$", "")
    return re.sub(r"\s+", " ", text).strip()


def _check(solutions: pl.DataFrame, grain: str) -> None:
    missing = [col for col in (*SOLUTIONS_COLUMNS, grain) if col not in solutions.columns]
    if missing:
        msg = f"solutions table is missing column(s) {missing} (it has {solutions.columns})"
        raise ValueError(msg)


def solution_coverage(
    solutions: pl.DataFrame, grains: Sequence[str] = ("answer", "trajectory"), *, by: Sequence[str] = ()
) -> pl.DataFrame:
    """Distinct correct solutions per model x benchmark x problem at each grain.

    ``solutions`` has one row per sample: ``model, benchmark, problem_id, correct`` and a column per
    grain (the normalised answer, trajectory or strategy). Columns: ``*by, model, benchmark, problem_id,
    n, c, distinct_<grain>`` (distinct values among the correct samples; 0 for an unsolved problem).
    """
    for grain in grains:
        _check(solutions, grain)
    keys = [*by, "model", "benchmark", "problem_id"]
    aggs = [pl.len().alias("n"), pl.col("correct").sum().cast(pl.Int64).alias("c")]
    aggs += [pl.col(g).filter(pl.col("correct")).n_unique().cast(pl.Int64).alias(f"distinct_{g}") for g in grains]
    return solutions.group_by(keys).agg(aggs).with_columns(pl.col("n").cast(pl.Int64)).sort(keys)


def empirical_support(solutions: pl.DataFrame, grain: str, *, min_count: int = 1) -> pl.DataFrame:
    """The distinct correct solutions (at ``grain``) each model reached on each problem.

    A solution is in the support when at least ``min_count`` correct samples produced it. With
    ``grain="problem"`` the solution is the problem itself (support = the problems solved).
    Columns ``model, benchmark, problem_id, solution, hits``.
    """
    if grain == "problem":
        solutions = solutions.with_columns(pl.col("problem_id").alias("problem"))
    _check(solutions, grain)
    return (
        solutions.filter(pl.col("correct"))
        .group_by("model", "benchmark", "problem_id", grain)
        .agg(pl.len().alias("hits"))
        .filter(pl.col("hits") >= min_count)
        .rename({grain: "solution"})
        .with_columns(pl.col("solution").cast(pl.String))
    )


@dataclass(frozen=True)
class SupportChange:
    """Preserved / shrunk / expanded support of ``other`` against ``base`` at one grain."""

    base: str
    other: str
    grain: str
    per_problem: pl.DataFrame  # problem_id, base, other, preserved, shrunk, expanded, srr, ndr, sds
    preserved: int
    shrunk: int
    expanded: int

    def _ratio(self, num: int, den: int) -> float:
        return num / den if den else float("nan")

    @property
    def srr(self) -> float:
        return self._ratio(self.preserved, self.preserved + self.shrunk)

    @property
    def ndr(self) -> float:
        return self._ratio(self.expanded, self.preserved + self.expanded)

    @property
    def sds(self) -> float:
        s, d = self.srr, self.ndr
        return 2 * s * d / (s + d) if s + d > 0 else 0.0

    @property
    def nscr(self) -> float:
        return self._ratio(self.expanded - self.shrunk, self.preserved + self.shrunk + self.expanded)

    def row(self) -> dict[str, object]:
        return {
            "base": self.base,
            "other": self.other,
            "grain": self.grain,
            "preserved": self.preserved,
            "shrunk": self.shrunk,
            "expanded": self.expanded,
            "SRR": self.srr,
            "NDR": self.ndr,
            "SDS": self.sds,
            "NSCR": self.nscr,
        }

    def reading(self) -> str:
        what = {
            "problem": "solved problems",
            "answer": "distinct correct answers",
            "trajectory": "distinct correct trajectories",
            "strategy": "(problem, correct strategy) pairs",
        }.get(self.grain, f"distinct correct solutions ({self.grain})")
        if self.preserved + self.shrunk + self.expanded == 0:
            return f"Neither {self.base} nor {self.other} has a correct solution at the {self.grain} level."
        if self.preserved + self.shrunk == 0:
            return f"The base ({self.base}) has no {what}; {self.other} has {self.expanded}, all new."
        return (
            f"Of the base's {self.preserved + self.shrunk} {what}, {self.other} keeps {self.srr:.0%} "
            f"({self.shrunk} lost) and adds {self.expanded} new ones (SRR {self.srr:.2f}, NDR {self.ndr:.2f})."
        )


def _shared_problems(solutions: pl.DataFrame, base: str, other: str) -> pl.DataFrame:
    keys = ["benchmark", "problem_id"]
    of = {m: solutions.filter(pl.col("model") == m).select(keys).unique() for m in (base, other)}
    for m, frame in of.items():
        if frame.height == 0:
            msg = f"model {m!r} has no samples in the solutions table"
            raise ValueError(msg)
    problems = of[base].join(of[other], on=keys)
    if problems.height == 0:
        msg = f"models {base!r} and {other!r} share no problem"
        raise ValueError(msg)
    return problems


def support_change(solutions: pl.DataFrame, base: str, other: str, grain: str, *, min_count: int = 1) -> SupportChange:
    """Compare the empirical supports of ``other`` and ``base`` on the problems both were sampled on."""
    problems = _shared_problems(solutions, base, other)
    support = empirical_support(solutions, grain, min_count=min_count).join(problems, on=["benchmark", "problem_id"])
    b = support.filter(pl.col("model") == base).select(
        "benchmark", "problem_id", "solution", pl.lit(True).alias("in_b")
    )
    o = support.filter(pl.col("model") == other).select(
        "benchmark", "problem_id", "solution", pl.lit(True).alias("in_o")
    )
    both = b.join(o, on=["benchmark", "problem_id", "solution"], how="full", coalesce=True).with_columns(
        pl.col("in_b").fill_null(False), pl.col("in_o").fill_null(False)
    )
    per = (
        problems.join(
            both.group_by("benchmark", "problem_id").agg(
                (pl.col("in_b") & pl.col("in_o")).sum().alias("preserved"),
                (pl.col("in_b") & ~pl.col("in_o")).sum().alias("shrunk"),
                (~pl.col("in_b") & pl.col("in_o")).sum().alias("expanded"),
            ),
            on=["benchmark", "problem_id"],
            how="left",
        )
        .with_columns(pl.col("preserved", "shrunk", "expanded").fill_null(0).cast(pl.Int64))
        .with_columns(
            (pl.col("preserved") / (pl.col("preserved") + pl.col("shrunk"))).alias("srr"),
            (pl.col("expanded") / (pl.col("preserved") + pl.col("expanded"))).alias("ndr"),
        )
        .sort("benchmark", "problem_id")
    )
    return SupportChange(
        base=base,
        other=other,
        grain=grain,
        per_problem=per,
        preserved=int(per["preserved"].sum()),
        shrunk=int(per["shrunk"].sum()),
        expanded=int(per["expanded"].sum()),
    )


def strategy_retention(solutions: pl.DataFrame, base: str, other: str, *, grain: str = "strategy") -> pl.DataFrame:
    """Per strategy: on how many problems the base reaches it, and on how many of those ``other`` still does.

    The toy world's picture of "RL keeps one of the base's correct strategies and drops the others":
    columns ``strategy, base_problems, kept, dropped, other_problems, new``.
    """
    problems = _shared_problems(solutions, base, other)
    support = empirical_support(solutions, grain).join(problems, on=["benchmark", "problem_id"])
    b = support.filter(pl.col("model") == base).select("benchmark", "problem_id", "solution")
    o = support.filter(pl.col("model") == other).select("benchmark", "problem_id", "solution")
    keys = ["benchmark", "problem_id", "solution"]
    kept = b.join(o, on=keys, how="semi").group_by("solution").len("kept")
    new = o.join(b, on=keys, how="anti").group_by("solution").len("new")
    return (
        b.group_by("solution")
        .len("base_problems")
        .join(o.group_by("solution").len("other_problems"), on="solution", how="full", coalesce=True)
        .join(kept, on="solution", how="left")
        .join(new, on="solution", how="left")
        .with_columns(pl.col("base_problems", "other_problems", "kept", "new").fill_null(0).cast(pl.Int64))
        .with_columns((pl.col("base_problems") - pl.col("kept")).alias("dropped"))
        .rename({"solution": grain})
        .select(grain, "base_problems", "kept", "dropped", "other_problems", "new")
        .sort(grain)
    )
