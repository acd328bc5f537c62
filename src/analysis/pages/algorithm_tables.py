"""The six-algorithm grid's committed table (:mod:`analysis.toyworld.algo_grid`) in the paper's
forms: Table 2 (per algorithm, across training seeds), Table 3 (per training step), the Fig. 15
ablations, and the sentences that say what they show. Pure functions of the table; the page
(:mod:`analysis.pages.toyworld_algorithms`) assembles them.

Across training seeds a figure is shown as its mean and its range (lowest to highest seed): with
three seeds a range says more than a t-interval, whose 97.5% quantile is 4.3.
"""

from __future__ import annotations

import polars as pl

from analysis.answer import grader_sentence

# The paper's v2 Table 2 and Table 3, Omni-MATH-Test (its in-domain test set), in %: pass@1 and
# pass@256 of Qwen2.5-7B and of RL runs from it (PAPER.md §4.5). ΔSE = base pass@256 − pass@1.
PAPER_SOURCE = "v2 Tables 2 and 3, Omni-MATH-Test (in-domain), Qwen2.5-7B base (PAPER.md §4.5)"
PAPER_BASE = (10.2, 69.1)
PAPER = {
    "GRPO": (25.1, 68.3),
    "PPO": (26.8, 69.2),
    "ReMax": (23.8, 67.5),
    "RLOO": (28.1, 69.2),
    "Reinforce++": (28.0, 69.7),
    "DAPO": (26.5, 67.0),
}
PAPER_STEPS = {150: (25.1, 68.3), 300: (27.1, 66.6), 450: (28.3, 63.9)}  # GRPO, v2 Table 3
SMALL_SPREAD = 5.0  # ΔSE points: algorithms closer than this are not told apart by a few seeds
# The committed grid's regimes (configs/toyworld/algorithms.yaml): a short name (chart panels) and,
# in sentences, what the regime is beside the paper's.
REGIME_PANELS = {"indist": "RL prompts drawn like the test set", "easy": "RL prompts the base already solves"}
_REGIME_NOTES = {"indist": "as the paper's RL data was", "easy": "carry-free only; not the paper's setting"}
REGIME_WORDS = {r: f"{name} ({_REGIME_NOTES[r]})" for r, name in REGIME_PANELS.items()}
COMPARISON = pl.col("kind") == "algorithms"  # the six-algorithm comparison's rows (the grid's `kind`)
_PCT = ("pass@1", "pass_max", "base_pass_max", "delta_se")


def arm(default: str = "default") -> pl.Expr:
    """A row's arm for display: ``default`` for the comparison's runs, else the variant's name."""
    return pl.when(COMPARISON).then(pl.lit(default)).otherwise(pl.col("variant"))


def ablation_rows(table: pl.DataFrame, algorithm: str = "grpo") -> pl.DataFrame:
    """The final checkpoints of ``algorithm``'s comparison runs and of its ablations."""
    kinds = pl.col("kind").is_in(["algorithms", "ablation"])
    return final_rows(table.filter((pl.col("algorithm") == algorithm) & kinds))


def final_rows(table: pl.DataFrame) -> pl.DataFrame:
    """Each run's last evaluated step (its final checkpoint)."""
    keys = ["regime", "variant", "algorithm", "seed", "temperature"]
    return table.filter(pl.col("step") == pl.col("step").max().over(keys))


def seed_summary(rows: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group of ``by``: the number of seeds, and mean, lowest and highest of each figure (in %),
    and the outcomes with their counts (``3× expansion``)."""
    aggs = [pl.col("seed").n_unique().alias("seeds")]
    for c in _PCT:
        aggs += [(pl.col(c).mean() * 100).alias(c), (pl.col(c).min() * 100).alias(f"{c}_lo")]
        aggs.append((pl.col(c).max() * 100).alias(f"{c}_hi"))
    aggs.append(pl.col("outcome").sort().alias("outcomes"))
    out = rows.group_by(by, maintain_order=True).agg(aggs)
    return out.with_columns(pl.col("outcomes").map_elements(_count_words, return_dtype=pl.String))


def _count_words(outcomes: pl.Series) -> str:
    counts = outcomes.value_counts(sort=True)
    return ", ".join(f"{n}× {o}" if n > 1 else str(o) for o, n in counts.rows())


def with_ranges(summary: pl.DataFrame) -> pl.DataFrame:
    """``mean [lo to hi]`` text for each figure (one number when there is one seed)."""

    def fmt(c: str) -> pl.Expr:
        mean, lo, hi = (pl.col(x).round(1).cast(pl.String) for x in (c, f"{c}_lo", f"{c}_hi"))
        return pl.when(pl.col("seeds") > 1).then(pl.format("{} [{} to {}]", mean, lo, hi)).otherwise(mean).alias(c)

    drop = [f"{c}_{e}" for c in _PCT for e in ("lo", "hi")]
    ranged = [c for c in _PCT if c != "base_pass_max"]  # one base: the same for every seed
    return summary.with_columns(*[fmt(c) for c in ranged], pl.col("base_pass_max").round(1)).drop(drop)


def table2(table: pl.DataFrame) -> pl.DataFrame:
    """Table 2 in miniature: per regime, temperature and algorithm, its seeds' final pass@1,
    pass@k_max and ΔSE (mean [range], %), outcomes, and the paper's figures for the algorithm."""
    six = final_rows(table.filter(COMPARISON))
    summary = with_ranges(seed_summary(six, ["regime", "temperature", "label"]))
    paper = pl.DataFrame(
        [
            {"label": k, "paper_pass@1": p1, "paper_pass@256": pk, "paper_delta_se": round(PAPER_BASE[1] - p1, 1)}
            for k, (p1, pk) in PAPER.items()
        ]
    )
    return summary.join(paper, on="label", how="left")


def step_table(table: pl.DataFrame, algorithm: str = "grpo") -> pl.DataFrame:
    """Table 3 in miniature: ``algorithm``'s pass@1, pass@k_max and ΔSE per training step, from
    the comparison's runs (their snapshots and final checkpoints) and from the longer variants,
    beside the paper's GRPO at 150, 300 and 450 steps."""
    rows = table.filter((pl.col("algorithm") == algorithm) & pl.col("kind").is_in(["algorithms", "steps"]))
    rows = rows.with_columns(pl.format("{}-step run", pl.col("step").max().over(["regime", "variant"])).alias("run"))
    summary = with_ranges(seed_summary(rows, ["regime", "temperature", "run", "step"]))
    paper = pl.DataFrame(
        [{"step": s, "paper_pass@1": p1, "paper_pass@256": pk} for s, (p1, pk) in PAPER_STEPS.items()],
        schema={"step": summary.schema["step"], "paper_pass@1": pl.Float64, "paper_pass@256": pl.Float64},
    )
    order = {r: i for i, r in enumerate(table["regime"].unique(maintain_order=True))}
    out = summary.join(paper, on="step", how="left")
    return out.sort(pl.col("regime").replace_strict(order), "temperature", "step", "run")


def ablation_table(table: pl.DataFrame, algorithm: str = "grpo") -> pl.DataFrame:
    """Fig. 15 in miniature: ``algorithm``'s default final checkpoints (every seed, so their range
    shows how far seeds alone move a figure) and each variant's."""
    rows = ablation_rows(table, algorithm).with_columns(arm().alias("variant"))
    return with_ranges(seed_summary(rows, ["regime", "temperature", "variant"]))


def ablation_sentence(table: pl.DataFrame, regime: str, algorithm: str = "grpo") -> str:
    """Per variant, computed: its outcome and ΔSE against the default's, and whether its ΔSE lies
    outside the range of the default's seeds (at the first temperature, the paper's T = 0.6)."""
    rows = ablation_rows(table, algorithm).filter(pl.col("regime") == regime)
    if rows.filter(pl.col("kind") == "ablation").is_empty():
        return ""
    t = float(rows["temperature"].min())
    at = rows.filter(pl.col("temperature") == t)
    default = at.filter(COMPARISON)
    lo, hi = float(default["delta_se"].min()) * 100, float(default["delta_se"].max()) * 100
    mean = float(default["delta_se"].mean()) * 100
    parts = []
    for (variant,), g in at.filter(pl.col("kind") == "ablation").group_by("variant", maintain_order=True):
        d = float(g["delta_se"].mean()) * 100
        where = "inside" if lo - 0.05 <= d <= hi + 0.05 else "outside"
        parts.append(
            f"{variant}: {'/'.join(sorted(set(g['outcome'])))}, ΔSE {d:.1f} "
            f"({_signed(d - mean)} points from the default's mean, {where} its seeds' range)"
        )
    return (
        f"**Ablations, {REGIME_WORDS.get(regime, regime)}, T = {t:g}:** the default "
        f"({default['seed'].n_unique()} seeds: {'/'.join(sorted(set(default['outcome'])))}, ΔSE {_span(lo, hi)}); "
        + "; ".join(parts)
        + "."
    )


def _against_paper(by_regime: dict[str, list[str]]) -> str:
    """The paper's own runs (RL data like its test set) beside the miniature's runs in that regime."""
    if "indist" not in by_regime:
        return ""
    pk = [v[1] for v in PAPER.values()]
    span = f"{min(pk):.1f}–{max(pk):.1f}% pass@256 against its base's {PAPER_BASE[1]:.1f}%"
    if by_regime["indist"] == ["sharpening"]:
        return f" The paper's runs, trained on data like its test set, also stay at its base's ceiling ({span})."
    ours = ", ".join(by_regime["indist"])
    return (
        f" The paper's runs, trained on data like its test set, end at {span} (no algorithm above the base's "
        f"ceiling by more than {max(pk) - PAPER_BASE[1]:.1f} points); in that regime the miniature's runs end in "
        f"{ours}, so here the miniature disagrees with the paper."
    )


def algorithm_verdict(table: pl.DataFrame, regime: str) -> str:
    """One sentence, computed from the table: under ``regime``, does algorithm choice move the
    boundary? It does when the algorithms' outcomes against the base differ while each
    algorithm's own seeds agree; otherwise only their distance to the base's ceiling (ΔSE) can
    differ."""
    six = final_rows(table.filter(COMPARISON & (pl.col("regime") == regime)))
    words = REGIME_WORDS.get(regime, f"the {regime!r} prompts")
    parts, verdicts = [], []
    for (t,), at in six.group_by("temperature", maintain_order=True):
        per_algo = {lab: set(g["outcome"]) for (lab,), g in at.group_by("label", maintain_order=True)}
        kinds = set().union(*per_algo.values())
        seeds_agree = all(len(v) == 1 for v in per_algo.values())
        means = at.group_by("label").agg(pl.col("delta_se").mean() * 100)["delta_se"]
        spread = float(means.max() - means.min())
        seed_spread = float(
            (at.group_by("label").agg(pl.col("delta_se").max() - pl.col("delta_se").min())["delta_se"] * 100).max()
        )
        if len(kinds) == 1:
            verdict = f"all {len(per_algo)} algorithms and every seed end in {next(iter(kinds))}"
            verdicts.append("same")
        elif seeds_agree:
            verdict = "the outcome depends on the algorithm: " + ", ".join(
                f"{lab} {next(iter(v))}" for lab, v in per_algo.items()
            )
            verdicts.append("moves")
        else:
            verdict = "outcomes differ between the seeds of one algorithm: " + ", ".join(
                f"{lab} {'/'.join(sorted(v))}" for lab, v in per_algo.items()
            )
            verdicts.append("seeds")
        pmax = at["pass_max"] * 100
        parts.append(
            f"at T = {t:g}, {verdict}; pass@k_max {_span(pmax.min(), pmax.max())}% "
            f"(base {float(at['base_pass_max'][0]) * 100:.1f}%), mean ΔSE per algorithm "
            f"{_span(means.min(), means.max())} points (spread {spread:.1f}; seeds of one algorithm differ by up to "
            f"{seed_spread:.1f})"
        )
    n_seeds = six["seed"].n_unique()
    seeds = f"{n_seeds} training seed{'s' if n_seeds != 1 else ''} per algorithm"
    if all(v == "same" for v in verdicts):
        claim = "algorithm choice does not move the boundary"
    elif "moves" in verdicts:
        claim = "algorithm choice does move the boundary"
    else:
        claim = "the training seed moves the outcome as much as the algorithm does"
    return f"{grader_sentence(['exact'])} **With {words}, {claim}** ({seeds}): " + "; ".join(parts) + "."


def regime_answer(table: pl.DataFrame) -> str:
    """One sentence: does the RL prompt regime or the algorithm decide the outcome against the base?"""
    six = final_rows(table.filter(COMPARISON))
    by_regime = {r: sorted(set(g["outcome"])) for (r,), g in six.group_by("regime", maintain_order=True)}
    if len(by_regime) < 2:
        return "Only one RL prompt regime was run, so regime and algorithm cannot be compared here."
    within = [r for r, kinds in by_regime.items() if len(kinds) > 1]
    said = "; ".join(f"{REGIME_WORDS.get(r, r)}: {', '.join(k)}" for r, k in by_regime.items())
    if not within and len({tuple(k) for k in by_regime.values()}) > 1:
        return (
            f"**The regime decides, not the algorithm:** every algorithm, seed and temperature ends in "
            f"the same outcome within a regime, and the regimes differ ({said}).{_against_paper(by_regime)}"
        )
    if not within:
        return f"**Neither regime nor algorithm changes the outcome here** ({said})."
    return (
        f"**The outcome varies within a regime** ({said}), so the algorithm or the seed matters as well as "
        "the regime; see the tables."
    )


def _signed(x: float) -> str:
    """``x`` with its sign and one decimal, and no "-0.0"."""
    return "0.0" if round(x, 1) == 0 else f"{x:+.1f}"


def _span(lo: float, hi: float) -> str:
    """``lo`` to ``hi`` with one decimal, or one number when they round alike."""
    a, b = f"{lo:.1f}", f"{hi:.1f}"
    return a if a == b else f"{a} to {b}"


PAPER_SETTINGS = "the paper's v2 runs: 128 prompts × 8 rollouts per step, T = 1.0, no KL, up to 8,192 tokens"


def settings_sentence(config: dict) -> str:
    """The grid's RL settings, from its provenance record, beside the paper's."""
    from analysis.toyworld.config import RLConfig

    grid = config.get("algorithms") or {}
    rl = RLConfig.model_validate(grid.get("rl") or {})
    model = config.get("model") or {}
    kl = f"KL β = {rl.beta:g} against the base" if rl.beta else "no KL penalty"
    steps = (config.get("pretrain") or {}).get("steps")
    shape = (
        f"a {model.get('num_layers')}-layer, {model.get('hidden_size')}-wide character model"
        + (f" pretrained for {steps} steps" if steps else "")
        if model
        else "the toy base"
    )
    seeds = grid.get("seeds") or [0]
    variants = "; ".join(
        f"{name}: {spec.get('algorithm', 'grpo')} with "
        + ", ".join(f"{k} {v}" for k, v in (spec.get("rl") or {}).items())
        + f" (seeds {', '.join(map(str, spec.get('seeds') or seeds))})"
        for name, spec in (grid.get("variants") or {}).items()
    )
    return (
        f"Every run starts from the same base ({shape}) and trains for {rl.steps} steps of "
        f"{rl.prompts_per_step} prompts × {rl.group_size} responses at T = {rl.temperature:g}, up to "
        f"{rl.max_new_tokens} new tokens, {kl}, learning rate {rl.lr:g}; {PAPER_SETTINGS}. "
        f"Training seeds per algorithm: {len(seeds)}. Variants beside them: {variants or 'none'}."
    )
