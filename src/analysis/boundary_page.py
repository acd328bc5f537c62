"""The "Is the boundary real?" page: the four objections to large-k pass@k, each with its check.

1. A crossover at one k can be noise: a simultaneous band over every k and the certified first loss.
2. A right answer can come from wrong reasoning: reasoning-checked pass@k beside answer-only pass@k.
3. Problem-level coverage hides shrinkage inside solved problems: distinct correct answers,
   trajectories and strategies, and the empirical-support metrics of Wu et al. (SRR, NDR, SDS).
4. Large-k pass@k rewards lucky guesses: pass@k above a guessing floor, and problems it explains.

Plus G-Pass@k (is the model right often, not once) and a sample-budget plan from a pilot. Every
reading is one sentence generated from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl

from analysis import boundary_charts as BC
from analysis import metrics as M
from analysis.boundary_data import TOY_BENCHMARK, solutions_table
from analysis.guess_level import BASE_ONLY, GUESSER, OTHER_ONLY, guess_rates, only_one_counts
from analysis.metrics.band import ranges_text
from analysis.metrics.floor import above_floor, explained_by_guessing
from analysis.metrics.planner import DEFAULT_CANDIDATES, crossover_budget, samples_to_rule_out
from analysis.metrics.reasoning import checked_counts
from analysis.metrics.support import strategy_retention, support_change
from analysis.pages.common import GROUP, groups, label, pairs_in, powers_of_two

PILOT_N = 32
NO_TEXTS = (
    "Skipped: this study has per-problem counts only (imported), no response texts or per-sample verdicts, "
    "which this check needs."
)
PLAN_RESAMPLES = 300  # per simulated study: the planner needs the band's verdict, not its third digit
POWER = 0.8  # the planner's target: P(the band certifies the crossover)
GPASS_K = 8


@dataclass
class BoundaryPage:
    bands: pl.DataFrame
    band_summary: pl.DataFrame
    checked_curves: pl.DataFrame
    checked_crossovers: pl.DataFrame
    coverage: pl.DataFrame
    support: pl.DataFrame
    strategies: pl.DataFrame
    floor: pl.DataFrame
    floor_problems: pl.DataFrame  # per model x problem: guess rate and whether guessing explains its success
    gpass: pl.DataFrame
    plan: pl.DataFrame
    unsolved: pl.DataFrame
    charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)
    readings: dict[str, list[str]] = field(default_factory=dict)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def _with_key(df: pl.DataFrame, key: dict[str, Any], **extra: Any) -> pl.DataFrame:
    return df.with_columns(*(pl.lit(v).alias(k) for k, v in {**key, **extra}.items()))


def boundary_page(
    study: Any,
    *,
    pilot_n: int = PILOT_N,
    plan_candidates: tuple[int, ...] = DEFAULT_CANDIDATES,
    plan_sims: int = 20,
) -> BoundaryPage:
    """Every check of the page for a loaded study (``study.counts()``, ``grades()``, ``samples()``)."""
    a = study.config.analysis
    counts = study.counts()
    texts = study.has_texts and study.has_grades  # a counts-only import study has neither
    solutions = solutions_table(study) if texts else pl.DataFrame()
    readings: dict[str, list[str]] = {s: [] for s in ("band", "reasoning", "support", "floor", "gpass", "plan")}
    if not texts:
        for section in ("reasoning", "support", "plan"):
            readings[section].append(NO_TEXTS)
    out: dict[str, list[pl.DataFrame]] = {s: [] for s in ("bands", "summary", "support", "strategies", "plan")}
    for key, frame in groups(counts):
        where = label(key)
        for base, other in pairs_in(study, frame):
            pair = f"{other} − {base}"
            band = M.simultaneous_band(frame, other, base, by=GROUP, level=a.ci, n_resamples=a.resamples, seed=a.seed)
            out["bands"].append(_with_key(band.table, key, pair=pair))
            out["summary"].append(pl.DataFrame([{**key, "pair": pair, **_band_fields(band)}]))
            readings["band"].append(f"{pair} ({where}): {band.reading()}")
            if not texts:
                continue
            sols = solutions.filter(
                (pl.col("benchmark") == key["benchmark"]) & (pl.col("temperature") == key["temperature"])
            )
            grains = ["problem", "answer", "trajectory"] + (["strategy"] if key["benchmark"] == TOY_BENCHMARK else [])
            for grain in grains:
                change = support_change(sols, base, other, grain)
                out["support"].append(pl.DataFrame([{**key, "pair": pair, **change.row()}]))
                if grain in ("problem", "answer", "strategy"):
                    readings["support"].append(f"{pair} ({where}), {grain} level: {change.reading()}")
            if key["benchmark"] == TOY_BENCHMARK:
                table = strategy_retention(sols, base, other)
                out["strategies"].append(_with_key(table, key, pair=pair))
                readings["support"].append(f"{pair} ({where}): {_strategy_reading(table, other)}")
            plan, sentence = _plan(sols, key, base, other, pilot_n, plan_candidates, plan_sims, a)
            out["plan"].append(plan.with_columns(pl.lit(pair).alias("pair")))
            readings["plan"].append(f"{pair} ({where}): {sentence}")
    checked, crossings = _reasoning(study, solutions, a, readings["reasoning"]) if texts else (pl.DataFrame(),) * 2
    floor, floor_problems = _floor(study, counts, readings["floor"])
    gpass = _gpass(study, counts, readings["gpass"])
    unsolved = _unsolved(solutions, pilot_n, counts, readings["plan"]) if texts else pl.DataFrame()
    bands, support, plan = _concat(out["bands"]), _concat(out["support"]), _concat(out["plan"])
    charts: dict[str, alt.TopLevelMixin] = {}
    if not bands.is_empty():
        charts["band"] = BC.band_chart(bands)
    if not support.is_empty():
        charts["support"] = BC.support_chart(support)
    if not plan.is_empty():
        charts["plan"] = BC.planner_chart(plan, study.roles)
    if not checked.is_empty():
        charts["reasoning"] = BC.checked_chart(checked, study.roles)
    if not floor.is_empty():
        charts["floor"] = BC.floor_chart(floor, study.roles)
    charts["gpass"] = BC.gpass_chart(gpass, study.roles)
    return BoundaryPage(
        bands=bands,
        band_summary=_concat(out["summary"]),
        checked_curves=checked,
        checked_crossovers=crossings,
        coverage=_coverage(solutions) if texts else pl.DataFrame(),
        support=support,
        strategies=_concat(out["strategies"]),
        floor=floor,
        floor_problems=floor_problems,
        gpass=gpass,
        plan=plan,
        unsolved=unsolved,
        charts=charts,
        readings=readings,
    )


def _band_fields(band: M.Band) -> dict[str, Any]:
    c = band.certified
    return {
        "level": band.level,
        "critical": band.critical,
        "other better at k": ranges_text(c.gains),
        "base better at k": ranges_text(c.losses),
        "crossing certified": c.crossing,
        "first loss from": None if c.first_loss is None else c.first_loss[0],
        "first loss by": None if c.first_loss is None else c.first_loss[1],
        "n_problems": band.n_problems,
    }


def _reasoning(study: Any, solutions: pl.DataFrame, a: Any, readings: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Answer-only and reasoning-checked curves and crossovers where validity is known (toy world)."""
    known = solutions.filter(pl.col("valid").is_not_null())
    if known.is_empty():
        readings.append("No benchmark of this study has checkable reasoning (math needs the LLM judge).")
        return pl.DataFrame(), pl.DataFrame()
    counts = checked_counts(known, by=("temperature",))
    curves = M.pass_at_k_curve(counts, by=("model", "check", *GROUP))
    rows = []
    for key, frame in groups(counts):
        for base, other in pairs_in(study, frame):
            cross, bands = {}, {}
            for check in ("answer", "answer+reasoning"):
                part = frame.filter(pl.col("check") == check).drop("check")
                c = M.crossover(part, other, base, by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed)
                band = M.simultaneous_band(
                    part, other, base, by=GROUP, level=a.ci, n_resamples=a.resamples, seed=a.seed
                )
                cross[check] = c
                bands[check] = band
                rows.append(
                    {
                        **key,
                        "base": base,
                        "other": other,
                        "check": check,
                        "k": c.k,
                        "crossover": str(c),
                        **_band_fields(band),
                    }
                )
            readings.append(f"{other} − {base} ({label(key)}): {_reasoning_reading(cross, bands, frame, other, base)}")
    return curves, pl.DataFrame(rows)


def _reasoning_reading(
    cross: dict[str, M.Crossover], bands: dict[str, M.Band], frame: pl.DataFrame, other: str, base: str
) -> str:
    def where(c: M.Crossover) -> str:
        return f"the base overtakes at k = {c.k}" if c.k else f"no crossover up to k = {c.k_max}"

    shares = []
    for model in (base, other):
        rows = frame.filter(pl.col("model") == model)
        ans = int(rows.filter(pl.col("check") == "answer")["c"].sum())
        ok = int(rows.filter(pl.col("check") == "answer+reasoning")["c"].sum())
        shares.append(f"{model} {ok / ans:.0%}" if ans else f"{model} –")
    verdict = {True: "certified", False: "not certified"}
    survives = ", ".join(f"{check}: {verdict[bands[check].certified.crossing]}" for check in bands)
    return (
        f"counting any right answer, {where(cross['answer'])}; counting only valid reasoning, "
        f"{where(cross['answer+reasoning'])} (right answers with valid reasoning: {', '.join(shares)}); "
        f"crossover under the simultaneous band, {survives}."
    )


def _strategy_reading(table: pl.DataFrame, other: str) -> str:
    parts = []
    for row in table.filter(pl.col("base_problems") > 0).iter_rows(named=True):
        parts.append(f"{row['strategy']} on {row['kept']} of {row['base_problems']}")
    new = int(table["new"].sum())
    kept = ", ".join(parts) if parts else "no strategy (the base solves nothing)"
    return (
        f"of the base's correct strategies per problem, {other} keeps {kept}; it adds {new} (problem, strategy) pairs."
    )


def _coverage(solutions: pl.DataFrame) -> pl.DataFrame:
    cov = M.solution_coverage(solutions, ("answer", "trajectory"), by=("temperature",))
    return (
        cov.filter(pl.col("c") > 0)
        .group_by("benchmark", "temperature", "model")
        .agg(
            pl.len().alias("solved problems"),
            pl.col("distinct_answer").mean().alias("distinct correct answers per solved problem"),
            pl.col("distinct_trajectory").mean().alias("distinct correct trajectories per solved problem"),
        )
        .sort("benchmark", "temperature", "model")
    )


def _floor(study: Any, counts: pl.DataFrame, readings: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames, flagged = [], []
    for key, frame in groups(counts):
        if guess_rates(key["benchmark"], frame["problem_id"].unique().to_list()) is None:
            readings.append(
                f"{label(key)}: no answer-only run, so no guessing floor yet "
                "(metrics.floor.floor_from_answer_only takes its counts)."
            )
            continue
        for (model,), rows in frame.group_by(["model"], maintain_order=True):
            g = guess_rates(key["benchmark"], rows["problem_id"].to_list())
            n, c = rows["n"].to_numpy(), rows["c"].to_numpy()
            k_max = int(n.min())
            table = above_floor(n, c, g, powers_of_two(k_max))
            frames.append(_with_key(table, key, model=model))
            flags = explained_by_guessing(n, c, g)
            flagged.append(
                rows.select("benchmark", "temperature", "model", "problem_id", "n", "c").with_columns(
                    pl.Series("guess_rate", g), pl.Series("explained by guessing", flags)
                )
            )
            last = table.row(-1, named=True)
            readings.append(
                f"{model} ({label(key)}): {GUESSER} hits a given problem within "
                f"k = {k_max} samples with probability {last['floor']:.0%}; {model}'s pass@{k_max} is "
                f"{last['pass_at_k']:.0%}. Per problem, its success above that floor covers "
                f"{last['pass_above_floor']:.0%} of the headroom to certainty on average (a problem never solved "
                f"counts 0, one solved in most samples about 1); {int(flags.sum())} of its {int((c > 0).sum())} "
                "solved problems have correct counts within what guessing plausibly gives."
            )
        for base, other in pairs_in(study, frame):
            readings.append(f"{other} − {base} ({label(key)}): {_only_one_reading(frame, base, other)}")
    return _concat(frames), _concat(flagged)


def _only_one_reading(frame: pl.DataFrame, base: str, other: str) -> str:
    """The problems only one model of the pair solves, and how many of them are guess-level for it."""
    row = only_one_counts(frame, base, other)
    parts = []
    for who, never, solved, guessed in (
        (base, other, row["base only"], row[BASE_ONLY]),
        (other, base, row["other only"], row[OTHER_ONLY]),
    ):
        if solved and guessed:
            parts.append(
                f"of the {solved} problems only {who} solves, {guessed} are at guess level for {who} (its correct "
                f"count is within what guessing plausibly gives); the other {solved - guessed} it solves more often "
                f"than guessing explains, and {never} never solves them"
            )
        elif solved:
            parts.append(f"{who} solves each of the {solved} problems only it solves more often than guessing explains")
    if not parts:
        return "Each problem either model solves, the other solves too."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _gpass(study: Any, counts: pl.DataFrame, readings: list[str]) -> pl.DataFrame:
    k_cap = int(counts["n"].min())
    table = M.g_pass_table(counts, powers_of_two(k_cap), by=("model", *GROUP))
    k = min(GPASS_K, k_cap)
    for key, frame in groups(counts):
        for base, other in pairs_in(study, frame):
            vals = {}
            for model in (base, other):
                row = table.filter(
                    (pl.col("model") == model)
                    & (pl.col("metric") == "mG-Pass")
                    & (pl.col("k") == k)
                    & (pl.col("benchmark") == key["benchmark"])
                    & (pl.col("temperature") == key["temperature"])
                )
                vals[model] = float(row["value"][0])
            word = "above" if vals[other] > vals[base] else "below" if vals[other] < vals[base] else "equal to"
            readings.append(
                f"{other} − {base} ({label(key)}): right in most of k = {k} samples (mG-Pass@{k}), {other} scores "
                f"{vals[other]:.3f}, {word} the base's {vals[base]:.3f}."
            )
    return table


def _pilot_counts(solutions: pl.DataFrame, pilot_n: int) -> pl.DataFrame:
    return (
        solutions.filter(pl.col("sample_index") < pilot_n)
        .group_by("model", "benchmark", "temperature", "problem_id")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("correct").sum().cast(pl.Int64).alias("c"))
    )


def _plan(
    sols: pl.DataFrame,
    key: dict[str, Any],
    base: str,
    other: str,
    pilot_n: int,
    candidates: tuple[int, ...],
    sims: int,
    a: Any,
) -> tuple[pl.DataFrame, str]:
    pilot = _pilot_counts(sols, pilot_n).drop("temperature")
    plan = crossover_budget(
        pilot,
        other,
        base,
        candidates=candidates,
        level=a.ci,
        power=POWER,
        n_sims=sims,
        n_resamples=min(a.resamples, PLAN_RESAMPLES),
        seed=a.seed,
    )
    n0 = int(pilot["n"].min())
    enough = plan.filter(pl.col("enough"))
    if enough.is_empty():
        best = plan.sort("power").row(-1, named=True)
        return plan, (
            f"from a pilot of {n0} samples per problem, no budget up to {int(plan['n'].max())} certifies a "
            f"crossover in {POWER:.0%} of simulated runs (best: {best['power']:.0%} at n = {best['n']})."
        )
    n = int(enough["n"].min())
    return (
        plan,
        f"from a pilot of {n0} samples per problem, about {n} samples per problem certify a crossover "
        f"in {POWER:.0%} of simulated runs.",
    )


def _unsolved(solutions: pl.DataFrame, pilot_n: int, counts: pl.DataFrame, readings: list[str]) -> pl.DataFrame:
    k = int(counts["n"].max())
    need = samples_to_rule_out(k)
    pilot = _pilot_counts(solutions, pilot_n)
    table = (
        pilot.group_by("benchmark", "temperature", "model")
        .agg(pl.len().alias("problems"), (pl.col("c") == 0).sum().alias("open after pilot"))
        .with_columns(pl.lit(k).alias("k"), pl.lit(need).alias("samples to call one unsolved"))
        .sort("benchmark", "temperature", "model")
    )
    readings.append(
        f"To call a problem unsolved at k = {k} (pass@{k} ≤ 5% at 95% confidence) takes {need:,} samples "
        f"without a success; the pilot leaves {int(table['open after pilot'].sum())} (model, problem) rows open."
    )
    return table
