"""The pass@k page: curves with bands, paired differences, the crossover, and seed-to-seed spread."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.findings_stage import read_findings
from analysis.metrics.seeds import recipe_difference
from analysis.pages.common import GROUP, groups, pairs_in, powers_of_two, upper_bound_note
from analysis.study import Study


@dataclass
class PassAtK:
    curves: pl.DataFrame
    differences: pl.DataFrame
    crossovers: pl.DataFrame
    table: pl.DataFrame
    chart: alt.TopLevelMixin
    difference_chart: alt.TopLevelMixin | None
    seed_curves: pl.DataFrame
    seed_crossovers: pl.DataFrame
    seed_chart: alt.TopLevelMixin | str
    recipe_intervals: pl.DataFrame
    caveat: str | None = None  # results that are upper bounds (public tests only)


def pass_at_k_page(study: Study, *, ci: float | None = None, ks: list[int] | None = None) -> PassAtK:
    """pass@k curves with bootstrap bands, paired differences and the crossover per pair (from the
    findings stage), each sampling seed's own curve and crossover, and, for recipes trained with
    several seeds, an interval that resamples training seeds and problems.

    ``ci`` defaults to the study's level; ``ks`` (the table's k grid) to powers of two up to n."""
    a = study.config.analysis
    level = a.ci if ci is None else ci
    counts = study.counts()
    curves = M.pass_at_k_curve(counts, by=("model", *GROUP), ci=level, n_resamples=a.resamples, seed=a.seed)
    diffs = []
    for _, frame in groups(counts):
        for base, other in pairs_in(study, frame):
            d = M.paired_difference(frame, other, base, by=GROUP, ci=level, n_resamples=a.resamples, seed=a.seed)
            diffs.append(d.with_columns(pl.lit(f"{other} − {base}").alias("pair")))
    differences = pl.concat(diffs) if diffs else pl.DataFrame()
    found = read_findings(study, primary_only=True)
    crossovers = (
        found.select(
            "benchmark", "temperature", "base", "other", "crossover k", "crossover lo", "crossover hi", "crossover"
        )
        if not found.is_empty()
        else pl.DataFrame()
    )
    n_max = int(curves["k"].max())
    table = (
        curves.filter(pl.col("k").is_in(ks or powers_of_two(n_max)))
        .with_columns((pl.col("pass_at_k") * 100).round(1).alias("pass@k (%)"))
        .pivot(on="k", index=["benchmark", "temperature", "model"], values="pass@k (%)")
        .sort(["benchmark", "temperature", "model"])
    )
    seed_curves, seed_crossovers = _per_seed(study)
    seed_chart: alt.TopLevelMixin | str = (
        "This study samples each model with one seed, so there is no seed-to-seed spread to show."
    )
    if not seed_curves.is_empty() and seed_curves["seed"].n_unique() > 1:
        seed_chart = charts.seed_curves_chart(seed_curves, study.roles)
    return PassAtK(
        caveat=upper_bound_note(study),
        curves=curves,
        differences=differences,
        crossovers=crossovers,
        table=table,
        chart=charts.passk_chart(curves, study.roles),
        difference_chart=charts.difference_chart(differences, study.roles) if diffs else None,
        seed_curves=seed_curves,
        seed_crossovers=seed_crossovers,
        seed_chart=seed_chart,
        recipe_intervals=_recipe_intervals(study, counts, level),
    )


def _per_seed(study: Study) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each sampling seed's pass@k curve, and its crossover k per pair (point estimates). Empty for
    a study with one seed, or with counts only (no per-sample verdicts to split by seed)."""
    if not study.has_grades:
        return pl.DataFrame(), pl.DataFrame()
    per_seed = M.counts_from_grades(study.grades(), by=("temperature", "seed")).filter(pl.col("seed") >= 0)
    if per_seed.is_empty() or per_seed["seed"].n_unique() < 2:
        return pl.DataFrame(), pl.DataFrame()
    curves = M.pass_at_k_curve(per_seed, by=("model", *GROUP, "seed"), ci=None)
    rows = []
    for (seed,), frame in per_seed.group_by(["seed"], maintain_order=True):
        for key, part in groups(frame.drop("seed")):
            for base, other in pairs_in(study, part):
                c = M.crossover(part, other, base, by=GROUP, ci=None)
                rows.append({**key, "seed": seed, "base": base, "other": other, "n": c.k_max, "crossover k": c.k})
    table = pl.DataFrame(rows).sort(["benchmark", "temperature", "other", "seed"]) if rows else pl.DataFrame()
    return curves, table


def _recipe_intervals(study: Study, counts: pl.DataFrame, ci: float) -> pl.DataFrame:
    """For every recipe with several member models: Δ pass@k with the problems-only interval of each
    member beside the interval over seeds and problems."""
    a = study.config.analysis
    recipes: dict[tuple[str, str], list[str]] = {}
    for m in study.config.models:
        if m.base is not None and m.recipe:
            recipes.setdefault((m.base, m.recipe), []).append(m.name)
    rows = []
    for key, frame in groups(counts):
        present = set(frame["model"].to_list())
        n = int(frame["n"].min())
        ks = powers_of_two(n)
        for (base, recipe), members in recipes.items():
            members = [m for m in members if m in present]
            if len(members) < 2 or base not in present:
                continue
            kw = {"ci": ci, "n_resamples": a.resamples, "seed": a.seed}
            both = recipe_difference(frame, base, members, ks, **kw)
            problems_only = recipe_difference(frame, base, members, ks, resample_seeds=False, **kw)
            for r, p in zip(both.iter_rows(named=True), problems_only.iter_rows(named=True), strict=True):
                rows.append(
                    {
                        **key,
                        "recipe": recipe,
                        "models": ", ".join(members),
                        "k": r["k"],
                        "Δ pass@k (mean of seeds)": r["diff"],
                        "problems only: lo": p["lo"],
                        "problems only: hi": p["hi"],
                        "seeds and problems: lo": r["lo"],
                        "seeds and problems: hi": r["hi"],
                    }
                )
    return pl.DataFrame(rows) if rows else pl.DataFrame()
