"""The phase diagram: when does RLVR narrow the base's coverage, and when does it expand it?

From one base, GRPO runs over a grid of three knobs: the share of harder prompts in the RL
data (prompts with at least one carry, spread evenly over 1..n carries; the rest carry-free),
the KL coefficient, and the number of RL steps (snapshots of the same runs). Every checkpoint
is evaluated on the test set against the base; the table records pass@1, pass@k, coverage
sets and the paper's pattern for each cell and seed. Results are written to
``<results>/phase_diagram.csv`` (one row per run, step and temperature),
``phase_summary.csv`` (one row per cell, over seeds) and ``phase_diagram.json`` (the config,
its hash, the code versions and timings that produced them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from analysis.store import atomic_write_text, is_complete, read_marker
from analysis.toyworld.config import RLConfig, ToyWorldConfig, read_config_dict, rl_key
from analysis.toyworld.report import evaluation_job, results_table
from analysis.toyworld.results import provenance, write_meta
from analysis.toyworld.rl import snapshot_dir
from analysis.toyworld.train import checkpoint_folders, rl_job, run_jobs, train_all


class PhaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hard_shares: tuple[float, ...] = (0.0, 0.05, 0.15, 0.5)
    betas: tuple[float, ...] = (0.0, 0.05, 0.2)
    seeds: tuple[int, ...] = (0, 1)
    rl: dict[str, Any] = {}  # RLConfig fields shared by every run (steps, snapshots, lr, ...)
    temperatures_all_steps: tuple[float, ...] = (1.0,)
    temperatures_final: tuple[float, ...] = (0.6,)


def hard_mixture(share: float, n_digits: int) -> dict[int, float]:
    """RL prompt weights: ``1 - share`` carry-free, ``share`` spread evenly over 1..n carries."""
    if not 0 <= share <= 1:
        msg = f"hard share {share} is not in [0, 1]"
        raise ValueError(msg)
    weights = {0: 1 - share} | dict.fromkeys(range(1, n_digits + 1), share / n_digits)
    return {k: w for k, w in weights.items() if w > 0}


def load_phase_config(path: str | os.PathLike[str]) -> tuple[ToyWorldConfig, PhaseConfig, dict[str, Any]]:
    data = read_config_dict(path)
    phase = PhaseConfig.model_validate(data.pop("phase", {}))
    return ToyWorldConfig.model_validate(data), phase, data | {"phase": phase.model_dump(mode="json")}


def run_phase_diagram(
    config: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    results_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Train and evaluate the grid of ``config`` (a YAML file with a ``phase`` section)."""
    t0 = time.perf_counter()
    cfg, phase, full = load_phase_config(config)
    root = Path(out_root)
    n_workers = cfg.workers if workers is None else workers
    probe = cfg.base_world()
    base = train_all(probe, root, workers=n_workers, progress=progress)["base"]
    runs: dict[str, tuple[dict[str, Any], RLConfig, int]] = {}
    for share in phase.hard_shares:
        for beta in phase.betas:
            rl = RLConfig.model_validate(
                phase.rl
                | {"prompt_carries": hard_mixture(share, cfg.task.n_digits), "beta": beta, "seeds": phase.seeds}
            )
            for seed in phase.seeds:
                name = f"h={share:g} beta={beta:g} seed={seed}"
                runs[name] = ({"hard_share": share, "beta": beta, "seed": seed}, rl, seed)
    jobs = [
        rl_job(probe, name, rl, seed, base, root / f"rl-{rl_key(probe, rl, seed)}")
        for name, (_, rl, seed) in runs.items()
    ]
    t_train = time.perf_counter()
    run_jobs([j for j in jobs if not is_complete(j.kwargs["folder"])], n_workers, progress)
    t_train = time.perf_counter() - t_train

    eval_jobs, labels = [], {}
    for t in sorted(set(phase.temperatures_all_steps) | set(phase.temperatures_final)):
        job = evaluation_job(f"eval base T={t}", base, base, cfg, t, root)
        eval_jobs.append(job)
        labels[job.name] = {"model": "base", "temperature": t}
    for job in jobs:
        name = job.name
        lab, rl, _seed = runs[name]
        final = Path(job.kwargs["folder"])
        points = [(s, snapshot_dir(final, s)) for s in rl.snapshots if s < rl.steps] + [(rl.steps, final)]
        for step, folder in points:
            temps = set(phase.temperatures_all_steps) | (set(phase.temperatures_final) if step == rl.steps else set())
            for t in sorted(temps):
                ej = evaluation_job(f"eval {name} step={step} T={t}", folder, base, cfg, t, root)
                eval_jobs.append(ej)
                labels[ej.name] = {"model": name, "temperature": t, "step": step} | lab
    t_eval = time.perf_counter()
    results = run_jobs(eval_jobs, n_workers, progress, job_bars=False)
    t_eval = time.perf_counter() - t_eval
    ks = list(cfg.eval.ks)
    table = results_table(results, "base", ks, labels).filter(pl.col("model") != "base")
    table = table.sort(["temperature", "hard_share", "beta", "step", "seed"])
    summary = summarize_phase(table, cfg.task.test_size)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "table": out / "phase_diagram.csv",
        "summary": out / "phase_summary.csv",
        "meta": (out / "phase_diagram.csv").with_suffix(".json"),
    }
    atomic_write_text(table.write_csv(), written["table"])
    atomic_write_text(summary.write_csv(), written["summary"])
    write_meta(
        provenance(
            full,
            f"python -m analysis.toyworld phase --config {config}",
            base_checkpoint=base.name,
            rl_runs=len(jobs),
            evaluations=len(eval_jobs),
            seconds={"rl_training": t_train, "evaluation": t_eval, "total": time.perf_counter() - t0},
            # what training the checkpoints cost when they were made (possibly by earlier calls)
            checkpoint_training_seconds=sum(
                read_marker(f).get("seconds") or 0.0 for f in [base, *(j.kwargs["folder"] for j in jobs)]
            ),
        ),
        written["table"],
    )
    return written


def summarize_phase(table: pl.DataFrame, n_problems: int) -> pl.DataFrame:
    """One row per (temperature, hard share, beta, step): means over seeds and pattern counts."""
    return (
        table.group_by(["temperature", "hard_share", "beta", "step"])
        .agg(
            pl.len().alias("seeds"),
            pl.col("paper_pattern").sum().alias("paper_pattern_seeds"),
            pl.col("expansion").sum().alias("expansion_seeds"),
            pl.col("pass1_gain").mean(),
            pl.col("passmax_gain").mean(),
            pl.col("only_model").mean().alias("only_rl_mean"),
            pl.col("only_model").max().alias("only_rl_max"),
            pl.col("only_base").mean().alias("only_base_mean"),
            pl.col("share_L").mean(),
            pl.col("valid_cot").mean(),
            pl.col("ppl_base_median").mean(),
            pl.col("base_ppl_base_median").first(),
        )
        .with_columns((pl.col("only_rl_mean") / n_problems).alias("only_rl_share"))
        .sort(["temperature", "hard_share", "beta", "step"])
    )


__all__ = ["PhaseConfig", "checkpoint_folders", "hard_mixture", "load_phase_config", "run_phase_diagram"]
