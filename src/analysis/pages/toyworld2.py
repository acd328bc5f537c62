"""Toy world 2's page: the miniature with long-tailed skills, its base histogram and pass@k curves
beside the public MATH500 counts of Qwen2.5-7B and SimpleRL-Zoo, the issue's targets, and the
answer to "does in-distribution RL narrow coverage here?". Read-only: it reads the committed
tables in ``data/toyworld2/`` (and ``data/public/``) and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.answer import grader_sentence
from analysis.findings import MAX_NEW_SHARE

COMMAND = "python -m analysis.toyworld2 --config configs/toyworld2/default.yaml"
TARGETS = (
    ("spread_ok", "base histogram: no bin above 35%, at least 8 of 12 bins non-empty"),
    ("rise_ok", "RL pass@256 − pass@1 ≥ 0.15"),
    ("pass1_ok", "RL better than the base at pass@1 (paired interval above 0)"),
    ("passn_ok", "base better than RL at pass@256 (paired interval below 0)"),
    ("crossover_ok", "crossover k ≥ 16"),
    ("only_rl_ok", "at most 2% of problems solved only by RL"),
)
# Variant worlds with their own base (sub-folder of the results: label, config); every RL condition
# of each joins the comparisons under "<label>, <condition>".
VARIANT_WORLDS = {
    "tail": ("heavier tail (own base, skill r seen 1/r² as often)", "configs/toyworld2/tail.yaml"),
    "floor": ("near-zero rare skills (own base, reliability falls as (1/r)²)", "configs/toyworld2/floor.yaml"),
}
FINDINGS_SHOWN = (
    "condition", "rl_prompts", "seed", "temperature", "outcome", "pass@1 base", "pass@1 other", "Δ pass@1 lo",
    "Δ pass@1 hi", "pass@n base", "pass@n other", "Δ pass@n lo", "Δ pass@n hi", "other only", "base only",
    "crossover k", "rl_rise",
)  # fmt: skip


@dataclass
class ToyWorld2Page:
    note: Any
    skills: pl.DataFrame
    histogram_chart: alt.TopLevelMixin | None
    histogram_table: pl.DataFrame | None
    curves_chart: alt.TopLevelMixin | None
    findings: pl.DataFrame | None
    targets: pl.DataFrame | None
    by_rarity: pl.DataFrame | None
    answer: Any
    by_rarity_worlds: dict[str, pl.DataFrame] = field(default_factory=dict)  # variant world -> its mechanism table
    rarity_chart: alt.TopLevelMixin | None = None  # the default world's by_rarity, drawn
    rarity_charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)  # each variant world's, drawn


def skills_table(config: dict[str, Any]) -> pl.DataFrame:
    """The twelve skills with their pretraining frequency and the corpus's reliability on them."""
    from analysis.toyworld2.tasks import OPS, PARTNER, skill_levels, zipf_weights

    c = config["corpus"]
    freq = zipf_weights(c["zipf"])
    level = skill_levels(c["zipf"], c["skill_top"], c["skill_gamma"], c["skill_floor"])
    return pl.DataFrame(
        {
            "op": [o.letter for o in OPS],
            "skill": [o.name for o in OPS],
            "kind": [o.kind for o in OPS],
            "pretraining share (%)": [round(100 * f, 1) for f in freq],
            "corpus reliability": [round(float(q), 2) for q in level],
            "confused with": [OPS[p].letter for p in PARTNER],
        }
    )


def _combined(counts: pl.DataFrame, public: pl.DataFrame | None, rl_models: list[str]) -> pl.DataFrame:
    toy = counts.filter(pl.col("model").is_in(["base", *rl_models])).select(
        "model", "benchmark", "temperature", "problem_id", "n", "c"
    )
    if public is None:
        return toy
    return pl.concat([toy, public.select(toy.columns)], how="vertical_relaxed")


def target_table(findings: pl.DataFrame, condition: str = "default") -> pl.DataFrame:
    """For each target and temperature: in how many of the condition's seeds it is met."""
    rows = []
    own = findings.filter(pl.col("condition") == condition)
    for (t,), frame in own.group_by(["temperature"], maintain_order=True):
        for col, text in TARGETS:
            met = int(frame[col].sum())
            rows.append({"target": text, "temperature": t, "seeds met": f"{met} of {frame.height}"})
    return pl.DataFrame(rows).pivot(on="temperature", index="target", values="seeds met")


def _conditions(counts: pl.DataFrame) -> dict[str, str]:
    """RL model name -> its condition (``experiments.condition_of``)."""
    from analysis.toyworld2.experiments import condition_of

    return {m: c for m in counts["model"].unique().to_list() if (c := condition_of(m)) is not None}


def rarity_table(counts: pl.DataFrame, condition: str = "default") -> pl.DataFrame:
    """pass@1 and solved share (pass@n) of the base and of the ``condition`` RL runs (mean over
    seeds), by the rank of the problem's rarest skill (1 = most common in pretraining)."""
    members = [m for m, c in _conditions(counts).items() if c == condition]
    c = counts.with_columns(
        pl.when(pl.col("model") == "base")
        .then(pl.lit("base"))
        .when(pl.col("model").is_in(members))
        .then(pl.lit("rl"))
        .otherwise(None)
        .alias("who"),
        (pl.col("c") / pl.col("n")).alias("acc"),
        (pl.col("c") > 0).cast(pl.Float64).alias("solved"),
    ).drop_nulls("who")
    out = (
        c.group_by(["temperature", "rarest_rank", "who"])
        .agg(pl.col("acc").mean().alias("pass@1"), pl.col("solved").mean().alias("pass@n"))
        .pivot(on="who", index=["temperature", "rarest_rank"], values=["pass@1", "pass@n"])
        .sort(["temperature", "rarest_rank"])
    )
    problems = (
        counts.filter(pl.col("model") == "base")
        .group_by(["temperature", "rarest_rank"])
        .agg(pl.len().alias("problems"))
    )
    joined = out.join(problems, on=["temperature", "rarest_rank"]).sort(["temperature", "rarest_rank"])
    order = ["temperature", "rarest_rank", "pass@1_base", "pass@1_rl", "pass@n_base", "pass@n_rl", "problems"]
    joined = joined.select([c for c in order if c in joined.columns])  # the pivot's order follows the data
    return joined.with_columns(pl.col(pl.Float64).exclude("temperature").round(3))


def rarity_by_condition(counts: pl.DataFrame) -> pl.DataFrame:
    """:func:`rarity_table` for every RL condition of a results folder, one block per condition."""
    conditions = sorted(set(_conditions(counts).values()))
    frames = [rarity_table(counts, c).select(pl.lit(c).alias("condition"), pl.all()) for c in conditions]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def rarity_long(table: pl.DataFrame) -> pl.DataFrame:
    """A by-rarity table (:func:`rarity_table`, or :func:`rarity_by_condition` with its ``condition``
    column) in long form for :func:`analysis.charts.rarity_chart`: the base once, each condition's RL."""
    if table.is_empty():
        return pl.DataFrame()
    t = table if "condition" in table.columns else table.with_columns(pl.lit("default").alias("condition"))
    metrics = {"pass@1": "pass@1", "pass@n": "solved share (pass@256)"}
    frames = []
    for who in ("base", "rl"):
        rows = t.unique(["temperature", "rarest_rank"], keep="first", maintain_order=True) if who == "base" else t
        series = pl.lit("base") if who == "base" else pl.format("RL, {}", pl.col("condition"))
        for col, label in metrics.items():
            frames.append(
                rows.select(
                    "temperature",
                    "rarest_rank",
                    series.alias("series"),
                    pl.lit(label).alias("metric"),
                    pl.col(f"{col}_{who}").cast(pl.Float64).alias("value"),
                )
            )
    return pl.concat(frames)


def _rarity_chart(label: str, table: pl.DataFrame) -> alt.TopLevelMixin | None:
    return None if table.is_empty() else charts.rarity_chart(rarity_long(table), title=f"By the rarest skill: {label}")


def mechanism_sentence(label: str, table: pl.DataFrame) -> str:
    """Where, by the rank of a problem's rarest skill, RL's solved share (pass@256, mean over seeds)
    fell below the base's and where it rose, per RL condition of one variant world
    (:func:`rarity_by_condition`), with the largest fall."""
    d = table.with_columns((pl.col("pass@n_rl") - pl.col("pass@n_base")).alias("d"))
    per = [
        f"{cond}: fell in {int((g['d'] < 0).sum())}, rose in {int((g['d'] > 0).sum())} of {g.height}"
        for (cond,), g in d.group_by(["condition"], maintain_order=True)
    ]
    said = (
        f"In the {label} world, RL's solved share against the base's, by group (rarest-skill rank × temperature), "
        + "; ".join(per)
    )
    lost = d.filter(pl.col("d") < 0).sort("d")
    if lost.height:
        w = lost.row(0, named=True)
        said += (
            f" (largest fall: rank {w['rarest_rank']}, {w['condition']}, T = {w['temperature']:g}: "
            f"{w['pass@n_base']:.3f} → {w['pass@n_rl']:.3f}, pass@1 {w['pass@1_base']:.3f} → {w['pass@1_rl']:.3f})"
        )
    return said + "."


def _tally(frame: pl.DataFrame) -> dict[str, int]:
    """How many comparisons of ``frame`` (findings rows) are better at pass@1, narrowed, widened, sharpening."""
    new_pct = 100 * MAX_NEW_SHARE
    widened = (pl.col("Δ pass@n lo") > 0) | ((pl.col("Δ pass@n lo") <= 0) & (pl.col("other only (%)") > new_pct))
    return {
        "sharper": int((frame["Δ pass@1 lo"] > 0).sum()),
        "narrowed": int((frame["Δ pass@n hi"] < 0).sum()),
        "widened": frame.filter(widened).height,
        "sharpening": int((frame["outcome"] == "sharpening").sum()),
    }


def _narrowed_run(r: dict[str, Any]) -> str:
    """One run where the base won at pass@256, in the words of the findings row ``r``."""
    cross = f"crossover at k = {r['crossover k']}" if r.get("crossover k") is not None else "no crossover"
    return (
        f"{r['condition']}, seed {r['seed']}, T = {r['temperature']:g}: pass@1 {r['pass@1 base']:.3f} → "
        f"{r['pass@1 other']:.3f}, pass@256 {r['pass@n base']:.3f} → {r['pass@n other']:.3f}, {cross}, "
        f"{r['base only']} problems solved only by the base, RL's pass@256 − pass@1 = {r['rl_rise']:.2f}"
    )


def answer_text(findings: pl.DataFrame, by_rarity: pl.DataFrame, corpus_zipf: float | None = None) -> str:
    """Question 2 answered in plain words from the findings and the by-rarity table (``corpus_zipf``:
    the default world's pretraining exponent, to set the RL prompts' exponents beside)."""
    lines = []
    for (cond,), frame in findings.group_by(["condition"], maintain_order=True):
        first = frame.row(0, named=True)
        parts = []
        for (t,), ft in frame.group_by(["temperature"], maintain_order=True):
            tally = ft["outcome"].value_counts().sort("outcome")
            counts = ", ".join(f"{r['count']} {r['outcome']}" for r in tally.iter_rows(named=True))
            parts.append(
                f"at T = {t:g}: {counts} (of {ft.height} seeds); RL pass@1 − base "
                f"{ft['Δ pass@1'].mean():+.3f}, pass@256 − base {ft['Δ pass@n'].mean():+.3f} on average"
            )
        lines.append(
            f"* **{cond}** (β = {first['rl_beta']:g}, {first['rl_steps']} steps, group {first['rl_group_size']}, "
            f"sampling T = {first['rl_temperature']:g}, prompts {first['rl_prompts']}): " + "; ".join(parts) + "."
        )
    from analysis.toyworld2.experiments import IN_DISTRIBUTION

    new_pct = 100 * MAX_NEW_SHARE  # the findings module's threshold for "new problems"
    indist = findings.filter(pl.col("rl_prompts") == IN_DISTRIBUTION)
    t = _tally(indist)
    verdict = (
        f"{grader_sentence(['exact'])} Over all {indist.height} comparisons (runs × temperatures) with RL prompts "
        f"drawn like the test set: RL is better than the base at pass@1 in {t['sharper']}; the base is better at "
        f"pass@256 (coverage narrowed) in {t['narrowed']}; RL is better at pass@256 or solves more than "
        f"{new_pct:g}% of problems the base never solves (coverage widened) in {t['widened']}; the findings module "
        f"calls {t['sharpening']} of them sharpening, the paper's pattern."
    )
    skewed = findings.filter(pl.col("rl_prompts") != IN_DISTRIBUTION)
    if skewed.height:
        o = _tally(skewed)
        prompts = ", ".join(sorted(set(skewed["rl_prompts"].to_list())))
        pretraining = "" if corpus_zipf is None else f"; pretraining shows skill r with z = {corpus_zipf:g}"
        verdict += (
            "\n\n**Not in-distribution, and not the question above.** "
            f"{skewed.height} comparisons whose RL prompts drew skill r with weight 1/r^z instead of evenly "
            f"({prompts}{pretraining}), so rare skills were seldom or almost never in "
            f"them; a condition without a world's name is the default world's. There, RL is better at pass@1 "
            f"in {o['sharper']}; the base is better at pass@256 in {o['narrowed']}; coverage widened in "
            f"{o['widened']}; sharpening in {o['sharpening']}"
        )
        narrowed = skewed.filter((pl.col("Δ pass@n hi") < 0) | (pl.col("outcome") == "sharpening"))
        if narrowed.height:
            verdict += " (" + "; ".join(_narrowed_run(r) for r in narrowed.iter_rows(named=True)) + ")"
        verdict += "."
    rare = by_rarity.filter(pl.col("rarest_rank") >= 9)
    mech = ""
    if rare.height and {"pass@n_base", "pass@n_rl"} <= set(rare.columns):
        mech = (
            "\n\n**By the rarest skill.** Default recipe, on problems whose rarest skill is among the four rarest: "
            + "; ".join(
                f"T = {r['temperature']:g}: solved share base {r['pass@n_base']:.2f} → RL {r['pass@n_rl']:.2f}, "
                f"pass@1 base {r['pass@1_base']:.2f} → RL {r['pass@1_rl']:.2f}"
                for r in rare.group_by("temperature")
                .agg(pl.col(c).mean() for c in ("pass@n_base", "pass@n_rl", "pass@1_base", "pass@1_rl"))
                .sort("temperature")
                .iter_rows(named=True)
            )
            + " (mean over ranks 9–12)."
        )
    return "\n".join(lines) + "\n\n" + verdict + mech


REPRODUCE_KEYS = ("model", "temperature", "problem_id")


def study_run(config: str | Path) -> Path | None:
    """The folder of the study's own toy world 2 run (``Study.toyworld2_dir``), if its config has one."""
    from analysis.study import Study

    study = Study.load(config)
    return study.toyworld2_dir if study.config.toyworld2 is not None else None


def reproduction_note(committed: pl.DataFrame, live: Any) -> str:
    """Whether the study's own run of the default recipe (``live``: ``Results2`` of
    ``Study.toyworld2_dir``) gave the committed table's counts, problem by problem. Its checkpoints
    have the same keys as the committed default seeds, so with deterministic training they must."""
    if live is None:
        return ""
    keys = list(REPRODUCE_KEYS)
    mine = live.table.select(*keys, "n", "c")
    joined = mine.join(committed.select(*keys, "n", "c"), on=keys, how="left", suffix="_committed")
    runs = joined.select("model", "temperature").unique()
    absent = joined.filter(pl.col("c_committed").is_null()).select("model", "temperature").unique()
    differ = joined.filter((pl.col("c") != pl.col("c_committed")) | (pl.col("n") != pl.col("n_committed")))
    said = (
        f"**Checked against this study's own run.** This study ran the default recipe "
        f"(`{live.meta.get('command', '')}`{_training_words(live.meta)}) and evaluated its {runs.height} "
        "(model, temperature) pairs. "
    )
    if absent.height:
        said += f"{absent.height} of them are not in the committed table, so they cannot be checked. "
    checked = runs.height - absent.height
    if not differ.height:
        return said + f"All {checked} checked give exactly the committed counts, problem by problem."
    pairs = differ.select("model", "temperature").unique().sort(["model", "temperature"])
    names = ", ".join(f"{m} at T = {t:g}" for m, t in pairs.iter_rows())
    return said + (
        f"**They differ from the committed table** on {differ.height} (problem, model, temperature) rows, in "
        f"{pairs.height} of {checked} checked: {names}. The committed tables were not made by the code and "
        "machine of this run; the figures below are the committed ones."
    )


def _training_words(meta: dict[str, Any]) -> str:
    """How the run's checkpoints came to be: trained in the run, or reused from the checkpoint cache
    (the run's own training call took under half of the checkpoints' recorded training time)."""
    seconds = meta.get("checkpoint_training_seconds")
    if not seconds:
        return ""
    call = (meta.get("seconds") or {}).get("training_call")
    if call is None:
        return f"; {seconds / 60:.1f} minutes of training"
    if call >= 0.5 * seconds:
        return f"; its checkpoints trained in this run, {seconds / 60:.1f} minutes of training"
    return f"; its checkpoints came from the checkpoint cache, where they took {seconds / 60:.1f} minutes of training"


def toyworld2_page(
    results_dir: str | Path | None = None,
    public_dir: str | Path | None = None,
    reproduced_dir: str | Path | None = None,
) -> ToyWorld2Page:
    """Read the committed tables and build the page's tables, charts and answer; with ``reproduced_dir``
    (a study's own run of the default recipe), say whether it gave the committed counts."""
    from IPython.display import Markdown

    from analysis.pages.public import PUBLIC, public_counts
    from analysis.toyworld2.results import RESULTS_DIR, load_results

    folder = Path(results_dir or RESULTS_DIR)
    counts_r = load_results("counts", folder)
    findings_r = load_results("findings", folder)
    if counts_r is None or findings_r is None:
        missing = Markdown(f"No toy-world-2 results in {folder}: run `{COMMAND}`.")
        return ToyWorld2Page(missing, pl.DataFrame(), None, None, None, None, None, None, missing)
    counts, findings = counts_r.table, findings_r.table
    notes = [counts_r.note()]
    if reproduced_dir is not None:
        notes.append(reproduction_note(counts, load_results("counts", reproduced_dir)))
    worlds = {}  # variant worlds (own base): their findings join the comparisons, their mechanism tables show
    for sub, (label, config) in VARIANT_WORLDS.items():
        found, counted = load_results("findings", folder / sub), load_results("counts", folder / sub)
        if found is None:
            continue
        rows = found.table.with_columns(
            pl.when(pl.col("condition") == "default")
            .then(pl.lit(label))
            .otherwise(pl.format("{}, {}", pl.lit(label), pl.col("condition")))
            .alias("condition")
        )
        findings = pl.concat([findings, rows.select(findings.columns)], how="vertical_relaxed")
        notes.append(f"{label[0].upper() + label[1:]} (`{config}`, its own base): {found.note()}")
        if counted is not None:
            worlds[label] = rarity_by_condition(counted.table)
    pub_dir = Path(public_dir or PUBLIC)
    public = public_counts(pub_dir) if (pub_dir / "counts.csv").is_file() else None
    rl_default = sorted(m for m, c in _conditions(counts).items() if c == "default")
    both = _combined(counts, public, rl_default)
    roles = {m: ("base" if m in ("base", "qwen2.5-7b") else "rl") for m in both["model"].unique().to_list()}
    bases = both.filter(pl.col("model").is_in(["base", "qwen2.5-7b"]))
    hist = M.accuracy_histogram(bases, by=("model", "benchmark", "temperature"))
    hist_table = hist.with_columns(
        pl.format("{} T={}", pl.col("benchmark"), pl.col("temperature")).alias("base")
    ).pivot(on="base", index="bin", values="count")
    curves = M.pass_at_k_curve(both, by=("model", "benchmark", "temperature"))
    by_rarity = rarity_table(counts)
    from analysis.toyworld2.experiments import IN_DISTRIBUTION

    own = findings_r.table
    contrast = set(own.filter(pl.col("rl_prompts") != IN_DISTRIBUTION)["condition"].to_list())
    default_world = rarity_by_condition(counts).filter(pl.col("condition").is_in(["default", *sorted(contrast)]))
    default_label = "default world" if contrast else "default world, default recipe"
    shown = findings.select([c for c in FINDINGS_SHOWN if c in findings.columns]).with_columns(
        pl.col(pl.Float64).round(3)
    )
    return ToyWorld2Page(
        note=Markdown("\n\n".join(notes)),
        skills=skills_table(counts_r.meta["config"]),
        histogram_chart=charts.histogram_chart(hist, roles, title="The bases' accuracy"),
        histogram_table=hist_table,
        curves_chart=charts.passk_chart(curves, roles, title="pass@k: toy world 2 and MATH500 (public counts)"),
        findings=shown,
        targets=target_table(findings),
        by_rarity=by_rarity,
        answer=Markdown(
            answer_text(findings, by_rarity, counts_r.meta["config"]["corpus"]["zipf"])
            + "\n\n"
            + "\n".join(f"* {mechanism_sentence(k, v)}" for k, v in {"default": default_world, **worlds}.items())
        ),
        by_rarity_worlds=worlds,
        rarity_chart=_rarity_chart(default_label, default_world),
        rarity_charts={label: chart for label, table in worlds.items() if (chart := _rarity_chart(label, table))},
    )
