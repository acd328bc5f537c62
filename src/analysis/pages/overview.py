"""The overview (the study's answer) and the comparison with the paper's published numbers.

Both read the findings table that the findings stage wrote; neither reruns a bootstrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.answer import GRADER_TEXT, answer_text
from analysis.findings import phase_boundary
from analysis.findings_stage import read_findings
from analysis.guess_level import BASE_ONLY, OTHER_ONLY
from analysis.pages.common import GROUP, upper_bound_note
from analysis.study import Study

# The paper's published numbers, for the comparison page (a file of this checkout).
PUBLISHED = Path(__file__).resolve().parents[3] / "data" / "paper" / "published.json"
# The grading mode whose rules produced the published numbers (the official evaluator's).
PUBLISHED_GRADER = "paper"
FINDINGS_COLUMNS = (
    "grader", "benchmark", "temperature", "base", "other", "outcome", "reason", "pass@1 base", "pass@1 other",
    "Δ pass@1", "Δ pass@1 lo", "Δ pass@1 hi", "n", "pass@n base", "pass@n other", "Δ pass@n", "Δ pass@n lo",
    "Δ pass@n hi", "other only", "base only", BASE_ONLY, OTHER_ONLY, "problems", "crossover k",
)  # fmt: skip
TOYWORLD_CAVEAT = (
    "*Caveat:* the toy world's corpus was tuned after a first look at its results (see *The toy world: methods*), "
    "so the sharpening of the easy-prompt recipe is a property of this designed miniature, not independent evidence "
    "for the paper; with prompts drawn like the test set, as the paper's RL data was, the toy world expands instead."
)


def imported_graders(study: Study) -> str:
    """Who graded a study's imported verdicts, as its ``imports`` entries state (empty if none do)."""
    stated = {f"`{i.model}` on `{i.benchmark}`": i.grader for i in study.config.imports if getattr(i, "grader", None)}
    return "; ".join(f"{who}: {grader}" for who, grader in stated.items())


def findings_view(found: pl.DataFrame) -> pl.DataFrame:
    """The findings columns a reader needs, rounded."""
    if found.is_empty():
        return found
    keep = [c for c in FINDINGS_COLUMNS if c in found.columns]
    return found.select(keep).with_columns(pl.col(pl.Float64).exclude("temperature").round(4))


@dataclass
class Overview:
    description: Any
    answer: Any
    findings: pl.DataFrame
    chart: alt.TopLevelMixin | str


def _phase() -> tuple[list[Any], str | None]:
    """The committed phase diagram's boundary, and the caveat with its staleness."""
    from analysis.toyworld.results import RESULTS_DIR, base_difference, load_results

    phase = load_results("phase_summary", RESULTS_DIR, meta_name="phase_diagram")
    if phase is None:
        return [], TOYWORLD_CAVEAT
    caveat = TOYWORLD_CAVEAT
    other_base = base_difference(phase.meta.get("config"))
    if other_base:
        caveat += f" The phase diagram's runs start from another base: {other_base}."
    reasons = phase.stale_reasons()
    if reasons:
        caveat += f" The phase diagram's table is stale ({'; '.join(reasons)}); see the toy-world page."
    return phase_boundary(phase.table), caveat


def overview_page(study: Study) -> Overview:
    """The study's answer in plain words (``analysis.answer``), from the stored findings."""
    from IPython.display import Markdown

    cfg = study.config
    found = read_findings(study)
    models = "\n".join(
        f"- `{m.name}` ({m.role}{f', from `{m.base}`' if m.base else ''}): {m.recipe or 'no description given'}"
        for m in cfg.models
    )
    benches = ", ".join(
        f"`{b.name}` (n = {cfg.n_for(b)}, graded with `{study.primary_mode(b.name)}`)" for b in cfg.benchmarks
    )
    temps = ", ".join(f"{t:g}" for t in cfg.sampling.temperatures)
    description = Markdown(
        f"**Study:** {cfg.title} (`{cfg.name}`, config hash `{cfg.hash}`).\n\n{cfg.description}\n\n"
        f"**Models:**\n\n{models}\n\n**Benchmarks:** {benches}.\n\n**Sampling:** temperature {temps}, "
        f"top-p {cfg.sampling.top_p}, at most {cfg.sampling.max_tokens} new tokens, seeds {cfg.sampling.seeds}."
    )
    graded_elsewhere = imported_graders(study)
    if graded_elsewhere:
        description = Markdown(f"{description.data}\n\n**Imported verdicts, graded by:** {graded_elsewhere}.")
    skipped = study.skipped_pages
    if skipped:
        listed = "\n".join(f"- **{name}**: {why}." for name, why in skipped.items())
        description = Markdown(f"{description.data}\n\n**Pages this study's book leaves out, and why:**\n\n{listed}")
    phase, caveat = _phase() if cfg.toyworld is not None else ([], None)
    text = answer_text(found, cfg.models, phase=phase, phase_caveat=caveat)
    bound = upper_bound_note(study)
    if bound:  # where the claim is, not on a later page
        text = f"{bound}\n\n{text}"
    primary = found.filter(pl.col("primary")) if not found.is_empty() else found
    chart: alt.TopLevelMixin | str = "No pair to compare."
    if not primary.is_empty():
        chart = charts.findings_chart(primary, study.roles)
    return Overview(description, Markdown(text), findings_view(found), chart)


# ---------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    findings: pl.DataFrame
    published: pl.DataFrame
    notes: Any


def published_numbers(path: str | Path = PUBLISHED) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def comparison_page(study: Study) -> Comparison:
    """This run's findings under the published numbers' grader, and the published numbers of a
    matching setting beside this run's."""
    from IPython.display import Markdown

    data = published_numbers()
    found = read_findings(study)
    graders = set(found["grader"].to_list()) if not found.is_empty() else set()
    grader = PUBLISHED_GRADER if PUBLISHED_GRADER in graders else None
    shown = (
        found.filter(pl.col("grader") == grader) if grader else found.filter(pl.col("primary")) if graders else found
    )
    elsewhere = imported_graders(study)
    if grader:
        which = f"Graded with {GRADER_TEXT[grader]}, the same rules as the published numbers."
    elif elsewhere:
        which = (
            f"This study's counts were graded outside this project, by: {elsewhere}. Where that is the paper's "
            "official evaluator, its numbers and the published ones come from the same rules."
        )
    else:
        used = ", ".join(f"`{g}`" for g in sorted(graders)) or "none"
        which = (
            f"This study's benchmarks are graded with {used}, not with the official evaluator's rules that produced "
            "the published numbers, so its numbers are not directly comparable with them."
        )
    setting = study.config.paper_setting
    if setting is None or setting not in data["settings"]:
        claims = "\n".join(f"- {c}" for c in data["claims"])
        note = (
            f"{which}\n\nNo published setting matches this study, so there are no published numbers to put beside "
            f"its own. The paper's claims, which the findings table checks one by one:\n\n{claims}"
        )
        return Comparison(findings_view(shown), pl.DataFrame(), Markdown(note))
    spec = data["settings"][setting]
    counts = study.counts(grader) if grader else study.counts()
    measured = [_measure(study, counts, spec["roles"], m) for m in spec["metrics"]]
    note = Markdown(
        f"{which}\n\nSetting `{setting}`: {spec['description']} Measured values come from this run "
        "(the first temperature where several were sampled); a missing value means this run lacks the "
        "benchmark or the model."
    )
    return Comparison(findings_view(shown), pl.DataFrame(measured), note)


def _measure(study: Study, counts: pl.DataFrame, roles: dict[str, str], metric: dict[str, Any]) -> dict[str, Any]:
    row = {k: metric.get(k) for k in ("benchmark", "metric", "k", "role", "part", "bin", "source")}
    row["published"] = metric["value"]
    t = study.config.sampling.temperatures[0]
    frame = counts.filter((pl.col("benchmark") == metric["benchmark"]) & (pl.col("temperature") == t))
    value = None
    model = roles.get(metric.get("role", ""))
    if not frame.is_empty():
        if metric["metric"] == "pass@k" and model in frame["model"].to_list():
            sub = frame.filter(pl.col("model") == model)
            if int(sub["n"].min()) >= metric["k"]:
                curve = M.pass_at_k_curve(sub, ks=[metric["k"]], by=("model", *GROUP))
                value = round(float(curve["pass_at_k"][0]), 6)
        elif metric["metric"] == "coverage" and {roles["base"], roles["rl"]} <= set(frame["model"].to_list()):
            s = M.coverage_split(frame, roles["base"], roles["rl"], by=GROUP)
            value = len(
                {"both": s.both, "base only": s.only_a, "other only": s.only_b, "neither": s.neither}[metric["part"]]
            )
        elif metric["metric"] == "histogram" and model in frame["model"].to_list():
            h = M.accuracy_histogram(frame.filter(pl.col("model") == model), by=("model", *GROUP))
            value = int(h.filter(pl.col("bin") == metric["bin"])["count"][0])
    row["this run"] = value
    return row
