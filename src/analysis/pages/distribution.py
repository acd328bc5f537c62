"""Pages on the distribution of per-problem results: accuracy histogram, coverage, ΔSE."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.answer import grader_sentence
from analysis.coverage_lists import only_one_lists
from analysis.pages.common import GROUP, groups, label, pairs_in, shown_models, upper_bound_note
from analysis.study import Study

# Problems shown inline per (pair, set) on the coverage page; the full lists sit behind a fold.
EXAMPLES = 3


@dataclass
class Histogram:
    histogram: pl.DataFrame
    table: pl.DataFrame
    cover: pl.DataFrame
    chart: alt.TopLevelMixin
    caveat: str | None = None  # results that are upper bounds (public tests only)
    readings: list[str] = dataclasses.field(default_factory=list)
    grader: str = ""  # who decided "solved": the primary grader of each benchmark shown


def histogram_reading(hist: pl.DataFrame, key: dict, base: str, other: str) -> str:
    """One pair's ends of the histogram against the paper's pattern (more problems at exactly 1
    and at exactly 0 than the base, fewer in between), from ``accuracy_histogram``'s counts."""
    never, always = M.ACCURACY_BINS[0], M.ACCURACY_BINS[-1]

    def ends(model: str) -> tuple[int, int, int]:
        rows = hist.filter(pl.col("model") == model)
        zero = int(rows.filter(pl.col("bin") == never)["count"].sum())
        one = int(rows.filter(pl.col("bin") == always)["count"].sum())
        return zero, one, int(rows["count"].sum()) - zero - one

    (b0, b1, bm), (o0, o1, om) = ends(base), ends(other)
    text = (
        f"{other} ({label(key)}): {o1} problems always solved (base {b1}), {o0} never solved (base {b0}), "
        f"{om} in between (base {bm})"
    )
    if o1 > b1 and o0 > b0:
        return f"{text}: more at both ends than the base, the paper's pattern."
    if o1 > b1:
        return f"{text}: more always solved and no more never solved than the base, so not the paper's pattern."
    return f"{text}: no more always solved than the base, so not the paper's pattern."


def histogram_page(study: Study, *, models: list[str] | None = None) -> Histogram:
    """The paper's per-problem accuracy histogram (12 bins) and cover@τ, for ``models`` (None: all)."""
    counts = shown_models(study, study.counts(), models)
    hist = M.accuracy_histogram(counts, by=("model", *GROUP))
    bins = list(dict.fromkeys(hist["bin"].to_list()))
    table = (
        hist.pivot(on="bin", index=["benchmark", "temperature", "model"], values="count")
        .select(["benchmark", "temperature", "model", *bins])
        .sort(["benchmark", "temperature", "model"])
    )
    cover = M.cover_at_tau(counts, study.config.analysis.cover_taus, by=("model", *GROUP)).pivot(
        on="tau", index=["benchmark", "temperature", "model"], values="cover"
    )
    readings = []
    for key, frame in groups(counts):
        part = hist.filter((pl.col("benchmark") == key["benchmark"]) & (pl.col("temperature") == key["temperature"]))
        readings += [histogram_reading(part, key, base, other) for base, other in pairs_in(study, frame)]
    chart = charts.histogram_chart(hist, study.roles)
    grader = grader_sentence([study.primary_mode(b) for b in counts["benchmark"].unique(maintain_order=True)])
    return Histogram(hist, table, cover, chart, upper_bound_note(study), readings, grader)


# ---------------------------------------------------------------------------------------------
@dataclass
class Coverage:
    splits: pl.DataFrame
    upset: dict[str, pl.DataFrame]
    charts: dict[str, alt.TopLevelMixin]
    problem_lists: pl.DataFrame
    examples: pl.DataFrame
    by_stratum: pl.DataFrame
    caveat: str | None = None  # results that are upper bounds (public tests only)


def coverage_page(study: Study, *, models: list[str] | None = None) -> Coverage:
    """Who solves what at n: the four-way split per pair, an UpSet view of the models (``models``;
    None: all), and the problem ids of every 'only one of the two' set with their per-model
    correct counts."""
    counts = shown_models(study, study.counts(), models)
    rows, ups, views = [], {}, {}
    for key, frame in groups(counts):
        models = [m for m in study.roles if m in set(frame["model"].to_list())]
        up = M.upset_table(frame, models, by=GROUP)
        ups[label(key)] = up
        views[label(key)] = charts.upset_chart(up, models, title=f"Who solves what: {label(key)}")
        for base, other in pairs_in(study, frame):
            s = M.coverage_split(frame, base, other, by=GROUP)
            total = len(s.both) + len(s.only_a) + len(s.only_b) + len(s.neither)
            rows.append(
                {
                    **key,
                    "base": base,
                    "other": other,
                    "both": len(s.both),
                    "base only": len(s.only_a),
                    "other only": len(s.only_b),
                    "neither": len(s.neither),
                    "problems": total,
                    "other only (%)": round(100 * len(s.only_b) / total, 2) if total else None,
                }
            )
    splits = pl.DataFrame(rows) if rows else pl.DataFrame()
    problem_lists = only_one_lists(counts, [p for p in study.config.pairs() if models is None or set(p) <= set(models)])
    examples = (
        problem_lists.group_by(["benchmark", "temperature", "pair", "set"], maintain_order=True).head(EXAMPLES)
        if not problem_lists.is_empty()
        else problem_lists
    )
    return Coverage(
        splits, ups, views, problem_lists, examples, _solved_by_stratum(study, counts), upper_bound_note(study)
    )


def _solved_by_stratum(study: Study, counts: pl.DataFrame) -> pl.DataFrame:
    strata = []
    for bench in counts["benchmark"].unique().to_list():
        p = study.problems(bench).select("benchmark", "problem_id", "stratum")
        if p["stratum"].null_count() < p.height:
            strata.append(p)
    if not strata:
        return pl.DataFrame()
    joined = counts.join(pl.concat(strata), on=["benchmark", "problem_id"], how="inner")
    return (
        joined.group_by(["benchmark", "temperature", "stratum", "model"])
        .agg(
            pl.len().alias("problems"),
            (pl.col("c") > 0).mean().round(3).alias("solved at n"),
            (pl.col("c") / pl.col("n")).mean().round(3).alias("pass@1"),
        )
        .sort(["benchmark", "temperature", "stratum", "model"])
    )


# ---------------------------------------------------------------------------------------------
@dataclass
class DeltaSEPage:
    table: pl.DataFrame
    chart: alt.TopLevelMixin | None
    caveat: str | None = None  # results that are upper bounds (public tests only)


def delta_se_page(
    study: Study, *, ci: float | None = None, k: int | None = None, models: list[str] | None = None
) -> DeltaSEPage:
    """ΔSE = base pass@k − other pass@1, with a paired bootstrap interval at level ``ci`` (None:
    the study's ``analysis.ci``), per pair and group. ``k`` (None: the study's ``delta_se_k``, else
    n) is capped at each group's n; ``models`` limits the pairs shown (None: all)."""
    a = study.config.analysis
    level = a.ci if ci is None else ci
    counts = shown_models(study, study.counts(), models)
    rows = []
    for key, frame in groups(counts):
        n_min = int(frame["n"].min())
        k_used = min(k or a.delta_se_k or n_min, n_min)
        for base, other in pairs_in(study, frame):
            d = M.delta_se(frame, base, other, k=k_used, by=GROUP, ci=level, n_resamples=a.resamples, seed=a.seed)
            rows.append({**key, **dataclasses.asdict(d)})
    table = pl.DataFrame(rows) if rows else pl.DataFrame()
    return DeltaSEPage(table, charts.delta_se_chart(table) if rows else None, upper_bound_note(study))
