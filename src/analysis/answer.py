"""The study's answer in plain words, written only from the findings table.

Every sentence here is generated from numbers in the findings table (``analysis.findings_stage``)
and the study config; nothing is hard-coded. The answer names its grader, groups models by what
they are (their ``recipe``, e.g. "GRPO on problems the base already solves"), says which recipe
produced which outcome, and never counts comparisons as votes for or against the paper. For math,
each outcome is checked under the second grader too, and an outcome that flips is marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from analysis.config import ModelEntry
from analysis.findings import MAX_NEW_SHARE, OUTCOME_TEXT, PhaseBoundary
from analysis.guess_level import BASE_ONLY, GUESSER, OTHER_ONLY

# What each grading mode is, for the sentence that names the grader.
GRADER_TEXT = {
    "exact": "`exact`: the final answer must equal the true result exactly (the toy world's grader)",
    "paper": "`paper`: the rules of the paper's official evaluator, which produced the paper's published numbers",
    "strict": "`strict`: math-verify on the boxed answer, a stricter reading than the paper's evaluator",
    "official-recorded": "`official-recorded`: the verdicts the paper's official evaluator recorded",
    "code": "`code`: the program must pass the benchmark's tests in the project's sandbox",
    "imported-counts": "`imported-counts`: per-problem counts graded outside this project (the import states by whom)",
}
ROLE_TEXT = {"rl": "RL-trained", "distill": "distilled", "other": "other", "base": "base"}


def grader_sentence(graders: Sequence[str]) -> str:
    """'Graded with …' for the primary grader(s), and the cross-check where there is one."""
    primary = [g for g in graders if g]
    if not primary:
        return ""
    names = "; ".join(GRADER_TEXT.get(g, f"`{g}`") for g in dict.fromkeys(primary))
    return f"**Grader:** {names}."


def _fmt(x: float) -> str:
    return f"{x:+.3f}"


def _range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return _fmt(lo) if abs(hi - lo) < 5e-4 else f"{_fmt(lo)} to {_fmt(hi)}"


def _ints(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo} to {hi}"


def _guessed(rows: list[dict[str, Any]], column: str, solved: list[int], who: str) -> str:
    """How many of the problems only one model solves are guess-level for it (``analysis.guess_level``),
    where the findings have that count; empty otherwise, or when none are."""
    guessed = [r.get(column) for r in rows]
    if any(g is None for g in guessed) or not any(guessed):
        return ""
    beyond = [s - int(g) for s, g in zip(solved, guessed, strict=True)]
    return (
        f" ({_ints([int(g) for g in guessed])} of them at guess level: {who}'s correct count is within what "
        f"{GUESSER} would plausibly get, one-sided binomial test at 5%, so the count alone cannot tell them from "
        f"guessing; {_ints(beyond)} solved more often than that)"
    )


def _group_models(models: Sequence[ModelEntry], present: set[str]) -> list[tuple[str, list[ModelEntry]]]:
    """Compared models grouped by (role, recipe), in config order."""
    groups: dict[tuple[str, str], list[ModelEntry]] = {}
    for m in models:
        if m.role == "base" or m.name not in present:
            continue
        label = m.recipe or f"`{m.name}`"
        groups.setdefault((m.role, label), []).append(m)
    return [(label, ms) for (_, label), ms in groups.items()]


def recipe_sentence(label: str, names: Sequence[str], rows: list[dict[str, Any]], role: str) -> str:
    """One bullet: what a recipe's comparisons found, with the numbers that decided it."""
    outcomes: dict[str, list[str]] = {}
    for r in rows:
        outcomes.setdefault(r["outcome"], []).append(r["other"])
    total = len(rows)
    parts = []
    for outcome, who in outcomes.items():
        tag = OUTCOME_TEXT[outcome]
        whom = ", ".join(f"`{w}`" for w in dict.fromkeys(who))
        parts.append(f"{tag} in {len(who)} of {total}" + (f" ({whom})" if len(outcomes) > 1 else ""))
    n_values = sorted({int(r["n"]) for r in rows})
    k_n = "k = n" if len(n_values) > 1 else f"k = {n_values[0]}"
    problems = max(int(r["problems"]) for r in rows)
    new = [int(r["other only"]) for r in rows]
    lost = [int(r["base only"]) for r in rows]
    numbers = (
        f"Δ pass@1 (model − base) {_range([r['Δ pass@1'] for r in rows])}, Δ pass@{k_n.split()[-1]} "
        f"{_range([r['Δ pass@n'] for r in rows])}; problems solved only by the model: "
        f"{_ints(new)}{_guessed(rows, OTHER_ONLY, new, 'the model')} of {problems}, only by the base: "
        f"{_ints(lost)}{_guessed(rows, BASE_ONLY, lost, 'the base')}"
    )
    kind = ROLE_TEXT.get(role, role)
    who = f"{kind}: {', '.join(f'`{n}`' for n in names)}" if not label.startswith("`") else kind
    return f"- **{label}** ({who}): {'; '.join(parts)}. {numbers}."


def robustness_sentence(findings: pl.DataFrame) -> str | None:
    """Whether each primary-grader outcome holds under the other grader (math studies)."""
    if "grader" not in findings.columns or findings["grader"].n_unique() < 2:
        return None
    keys = ["benchmark", "temperature", "base", "other"]
    primary = findings.filter(pl.col("primary")).select(*keys, "grader", "outcome")
    other = findings.filter(~pl.col("primary")).select(
        *keys, pl.col("grader").alias("g2"), pl.col("outcome").alias("o2")
    )
    both = primary.join(other, on=keys, how="inner")
    if both.is_empty():
        return None
    flips = both.filter(pl.col("outcome") != pl.col("o2"))
    g1, g2 = both["grader"][0], both["g2"][0]
    if flips.is_empty():
        same = f"{both.height} of {both.height}"
        return f"**Grader check:** every outcome above is the same under `{g2}` as under `{g1}` ({same})."
    listed = "; ".join(
        f"`{r['other']}` on {r['benchmark']} (T = {r['temperature']:g}): {r['outcome']} under `{g1}`, "
        f"{r['o2']} under `{g2}`"
        for r in flips.iter_rows(named=True)
    )
    return (
        f"**Grader check:** {both.height - flips.height} of {both.height} outcomes hold under both `{g1}` and "
        f"`{g2}`. These flip with the grader, so they are not claims of this study: {listed}."
    )


def answer_text(
    findings: pl.DataFrame,
    models: Sequence[ModelEntry],
    *,
    phase: Sequence[PhaseBoundary] = (),
    phase_caveat: str | None = None,
) -> str:
    """The overview's answer: grader, one bullet per recipe with its outcome and numbers, the grader
    check, and (toy world) the phase boundary with its caveat."""
    if findings.is_empty():
        return "This study names no (base, other) pair to compare, so it makes no claim about RLVR."
    primary = findings.filter(pl.col("primary")) if "primary" in findings.columns else findings
    lines = (
        [grader_sentence(primary["grader"].unique(maintain_order=True).to_list())]
        if "grader" in primary.columns
        else []
    )
    lines.append(
        f"Outcomes are decided from paired {primary['ci'][0]:.0%} bootstrap intervals over problems at k = 1 and "
        f"k = n, and from coverage (at most {MAX_NEW_SHARE:.0%} of problems solved only by the model for "
        "sharpening). Per recipe:\n"
    )
    rows_by_model: dict[str, list[dict[str, Any]]] = {}
    for r in primary.iter_rows(named=True):
        rows_by_model.setdefault(r["other"], []).append(r)
    summary = []
    for label, members in _group_models(models, set(rows_by_model)):
        rows = [r for m in members for r in rows_by_model[m.name]]
        lines.append(recipe_sentence(label, [m.name for m in members], rows, members[0].role))
        outcomes = sorted({r["outcome"] for r in rows}, key=list(OUTCOME_TEXT).index)
        summary.append(f"{label} → {' / '.join(OUTCOME_TEXT[o] for o in outcomes)}")
    lines.append("")
    lines.append("**So, in this run:** " + "; ".join(summary) + ".")
    check = robustness_sentence(findings)
    if check:
        lines += ["", check]
    if phase:
        lines += [
            "",
            "**Toy world phase diagram** (committed runs, RL prompt difficulty × KL × seeds): "
            + "; ".join(str(b) for b in phase)
            + ".",
        ]
        if phase_caveat:
            lines.append(phase_caveat)
    return "\n".join(lines)
