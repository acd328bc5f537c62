"""Evaluate the trained models of a toy-world config against its base (for experiments).

Every (checkpoint, temperature) evaluation is a job: sample ``n`` responses per test problem,
grade them, score a few per problem under the base (perplexity). Results are cached as JSON
under ``<out_root>/evals/`` by a hash of everything that determines them, so an interrupted
phase diagram resumes where it stopped. :func:`compare_to_base` turns the results into one
row per model and temperature with the paper's comparisons (pass@1, pass@k, coverage sets), and
the outcome that :func:`analysis.findings.compare_pair` gives it (paired bootstrap intervals, the
project's one set of thresholds).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis.findings import compare_pair
from analysis.store import atomic_write_json, read_marker, stable_hash
from analysis.toyworld.config import TaskConfig, ToyWorldConfig, code_version
from analysis.toyworld.evaluate import pass_curve
from analysis.toyworld.train import Job, Progress


def eval_code_version() -> str:
    """Hash of the code that determines an evaluation's result (cache key of evaluations)."""
    return code_version(("evaluate.py", "sampler.py", "model.py", "tasks.py", "corpus.py"))


def job_evaluate(
    checkpoint: str,
    base_checkpoint: str,
    task: dict[str, Any],
    temperature: float,
    top_p: float,
    n: int,
    seed: int,
    max_new_tokens: int,
    keep_per_problem: int,
    cache_file: str,
    progress: Progress,
) -> dict[str, Any]:
    """Evaluate one checkpoint at one temperature (cached in ``cache_file``)."""
    cache = Path(cache_file)
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from analysis.toyworld.evaluate import evaluate_model, sequence_perplexities
    from analysis.toyworld.model import load_model
    from analysis.toyworld.tasks import held_out_problems, teacher_solution

    problems = held_out_problems(TaskConfig.model_validate(task))
    model = load_model(checkpoint)
    progress(0, 2, {})
    res = evaluate_model(
        model,
        problems,
        n=n,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        max_new_tokens=max_new_tokens,
        keep_per_problem=keep_per_problem,
    )
    progress(1, 2, {"pass@1": float(res.c.mean() / n)})
    base = model if Path(checkpoint) == Path(base_checkpoint) else load_model(base_checkpoint)
    ppl = sequence_perplexities(base, problems, res.kept)
    lengths = np.array([len(t) for _, t in res.kept], dtype=np.float64)
    ok = np.isfinite(ppl)
    teacher = [
        (i, teacher_solution(int(a), int(b), problems.n_digits))
        for i, (a, b) in enumerate(zip(problems.a, problems.b, strict=True))
    ]
    ppl_teacher = sequence_perplexities(base, problems, teacher)
    out = {
        "checkpoint": checkpoint,
        "temperature": temperature,
        "top_p": top_p,
        "n": n,
        "c": res.c.tolist(),
        "carries": res.carries.tolist(),
        "formats": res.formats,
        "correct_formats": res.correct_formats,
        "correct_valid": res.correct_valid,
        "ppl_base_median": float(np.median(ppl[ok])),
        "ppl_base_tokens": float(np.exp(np.sum(np.log(ppl[ok]) * lengths[ok]) / lengths[ok].sum())),
        "ppl_base_teacher_median": float(np.median(ppl_teacher)),
    }
    progress(2, 2, {"pass@1": float(res.c.mean() / n)})
    atomic_write_json(out, cache)
    return out


def evaluation_job(
    name: str,
    checkpoint: str | os.PathLike[str],
    base_checkpoint: str | os.PathLike[str],
    cfg: ToyWorldConfig,
    temperature: float,
    out_root: str | os.PathLike[str],
    seed: int = 1,
) -> Job:
    """The job evaluating ``checkpoint`` at ``temperature`` with ``cfg.eval``'s settings."""
    e = cfg.eval
    ck = Path(checkpoint)
    ident = {
        "checkpoint": read_marker(ck.parent.parent if ck.parent.name == "snapshots" else ck).get("key", str(ck)),
        "path_tail": ck.name,
        "base": Path(base_checkpoint).name,
        "task": cfg.task,
        "temperature": temperature,
        "top_p": e.top_p,
        "n": e.n,
        "seed": seed,
        "max_new_tokens": e.max_new_tokens,
        "keep": e.perplexity_samples,
        "code": eval_code_version(),
    }
    cache = Path(out_root) / "evals" / f"{stable_hash(ident)}.json"
    return Job(
        name,
        job_evaluate,
        {
            "checkpoint": str(ck),
            "base_checkpoint": str(base_checkpoint),
            "task": cfg.task.model_dump(mode="json"),
            "temperature": temperature,
            "top_p": e.top_p,
            "n": e.n,
            "seed": seed,
            "max_new_tokens": e.max_new_tokens,
            "keep_per_problem": e.perplexity_samples,
            "cache_file": str(cache),
        },
    )


def summary_row(result: dict[str, Any], ks: list[int]) -> dict[str, Any]:
    """Flat figures of one evaluation: pass@k, strategy shares, valid solutions, perplexity."""
    c = np.array(result["c"])
    n = int(result["n"])
    total = sum(result["formats"].values())
    row: dict[str, Any] = {f"pass@{k}": v for k, v in pass_curve(c, n, ks).items()}
    row["solved"] = int((c > 0).sum())
    for f in ("L", "S", "R"):
        row[f"share_{f}"] = result["formats"].get(f, 0) / total
    row["valid_cot"] = result["correct_valid"] / c.sum() if c.sum() else float("nan")
    row["ppl_base_median"] = result["ppl_base_median"]
    row["ppl_base_tokens"] = result["ppl_base_tokens"]
    row["ppl_base_teacher_median"] = result["ppl_base_teacher_median"]
    carries = np.array(result["carries"])
    for k in sorted(set(carries.tolist())):
        sel = carries == k
        row[f"pass@1_c{k}"] = float(c[sel].mean() / n)
        row[f"pass@{n}_c{k}"] = float((c[sel] > 0).mean())
    return row


def compare_to_base(result: dict[str, Any], base: dict[str, Any], ks: list[int]) -> dict[str, Any]:
    """A model's figures next to its base's at the same temperature, and the paper's tests."""
    c, cb = np.array(result["c"]), np.array(base["c"])
    n = int(result["n"])
    s, sb = set(np.flatnonzero(c > 0).tolist()), set(np.flatnonzero(cb > 0).tolist())
    row = summary_row(result, ks)
    b = summary_row(base, ks)
    row |= {f"base_{k}": v for k, v in b.items() if k.startswith(("pass@", "ppl_"))}
    row["only_model"] = len(s - sb)
    row["only_base"] = len(sb - s)
    row["problems"] = len(c)
    kmax = max(ks)
    curve, curve_b = pass_curve(c, n, ks), pass_curve(cb, n, ks)
    row["crossover_k"] = next((k for k in ks if curve_b[k] >= curve[k]), None)
    row["pass1_gain"] = curve[1] - curve_b[1]
    row["passmax_gain"] = curve[kmax] - curve_b[kmax]
    finding = compare_pair(_counts(c, cb, n), "base", "model")
    row["outcome"] = finding.outcome
    row["pass1_gain_lo"], row["pass1_gain_hi"] = finding.at_1.lo, finding.at_1.hi
    row["passmax_gain_lo"], row["passmax_gain_hi"] = finding.at_n.lo, finding.at_n.hi
    row["paper_pattern"] = finding.outcome == "sharpening"
    row["expansion"] = finding.outcome == "expansion"
    return row


def _counts(c: np.ndarray, cb: np.ndarray, n: int) -> pl.DataFrame:
    """A counts table of one evaluation (``model``) and its base (``base``) for the findings module."""
    ids = [str(i) for i in range(len(c))]
    return pl.DataFrame(
        {
            "model": ["model"] * len(c) + ["base"] * len(cb),
            "benchmark": ["toyworld"] * (len(c) + len(cb)),
            "temperature": [0.0] * (len(c) + len(cb)),
            "problem_id": ids + ids,
            "n": [n] * (len(c) + len(cb)),
            "c": np.concatenate([c, cb]).astype(np.int64),
        }
    )


def results_table(
    results: dict[str, dict[str, Any]], base_name: str, ks: list[int], labels: dict[str, dict[str, Any]]
) -> pl.DataFrame:
    """One row per evaluated (model, temperature), compared to the base at that temperature.

    ``results`` maps job names to evaluation results; ``labels[job name]`` holds the row's
    identifying columns (must include ``model`` and ``temperature``).
    """
    base_by_t = {lab["temperature"]: results[j] for j, lab in labels.items() if lab["model"] == base_name}
    rows = []
    for job, lab in labels.items():
        res = results[job]
        rows.append(dict(lab) | compare_to_base(res, base_by_t[lab["temperature"]], ks))
    return pl.DataFrame(rows)


def evaluate_config(
    config: str | os.PathLike[str] | ToyWorldConfig | None = None,
    out_root: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    snapshots: bool = False,
) -> pl.DataFrame:
    """Train (or reuse) every model of ``config`` and evaluate each at ``cfg.eval.temperatures``.

    Returns one row per (model, temperature) with pass@k, coverage against the base, strategy
    shares, valid-solution share and perplexity under the base (see :func:`compare_to_base`).
    With ``snapshots`` the RL runs' snapshots are evaluated too (model ``<name>@<step>``).
    """
    from analysis.toyworld.config import load_config
    from analysis.toyworld.rl import snapshot_dir
    from analysis.toyworld.train import DEFAULT_ROOT, run_jobs, train_all

    cfg = config if isinstance(config, ToyWorldConfig) else load_config(config)
    root = Path(out_root) if out_root is not None else DEFAULT_ROOT
    folders = train_all(cfg, root, workers=workers, progress=progress)
    models: dict[str, Path] = dict(folders)
    if snapshots:
        for run, rl in cfg.rl.items():
            from analysis.toyworld.config import rl_model_names

            for name in rl_model_names(run, rl):
                for step in rl.snapshots:
                    models[f"{name}@{step}"] = snapshot_dir(folders[name], step)
    jobs, labels = [], {}
    for name, folder in models.items():
        for t in cfg.eval.temperatures:
            job = evaluation_job(f"eval {name} T={t}", folder, folders["base"], cfg, t, root)
            jobs.append(job)
            labels[job.name] = {"model": name, "temperature": t}
    results = run_jobs(jobs, cfg.workers if workers is None else workers, progress, job_bars=False)
    return results_table(results, "base", list(cfg.eval.ks), labels)
