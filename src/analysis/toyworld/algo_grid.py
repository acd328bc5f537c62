"""The paper's section 4.3 in miniature: six RL algorithms from one base, compared on the test set.

From the default base, one run of :mod:`analysis.toyworld.rl_family` per (algorithm, seed) with
the same RL settings (the config's ``algorithms.rl``); every final checkpoint is evaluated at
each temperature (:func:`analysis.toyworld.report.evaluation_job`, the fast sampler) and set
against the base through :func:`analysis.findings.compare_pair` (via
:func:`~analysis.toyworld.report.results_table`). Writes ``<table>`` (one row per run and
temperature: pass@1, pass@k_max, the base's pass@k_max, ΔSE = base pass@k_max − model pass@1
as in the paper's Table 2, the outcome) and ``<table stem>_curves.csv`` (per training step:
reward, response length, entropy, KL to the base), each with a ``.json`` provenance record that
adds :func:`~analysis.toyworld.algo_runs.family_code_version` to
:func:`~analysis.toyworld.results.provenance`. Run::

    python -m analysis.toyworld.algo_grid --config configs/toyworld/algorithms.yaml \
        --table data/toyworld/algorithms.csv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from analysis.store import atomic_write_text, is_complete, read_marker
from analysis.toyworld.algo_runs import (
    ALGORITHMS,
    LABELS,
    Algorithm,
    AlgorithmConfig,
    family_code_version,
    family_folder,
    family_job,
)
from analysis.toyworld.config import RLConfig, ToyWorldConfig, read_config_dict
from analysis.toyworld.report import evaluation_job, results_table
from analysis.toyworld.results import Results, load_results, provenance, write_meta
from analysis.toyworld.train import DEFAULT_ROOT, run_jobs, train_all

CURVE_FIELDS = ("reward", "length", "entropy", "kl")
TABLE_COLUMNS = ("algorithm", "label", "seed", "temperature", "pass@1", "pass_max", "base_pass@1", "base_pass_max")


class AlgoGridConfig(BaseModel):
    """The ``algorithms`` section of a config: which runs, their shared RL settings, temperatures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithms: tuple[Algorithm, ...] = ALGORITHMS
    seeds: tuple[int, ...] = (0,)
    rl: dict[str, Any] = {}  # RLConfig fields shared by every run (prompt mix, beta, steps, ...)
    settings: dict[str, dict[str, Any]] = {}  # per algorithm: AlgorithmConfig fields beyond the defaults
    temperatures: tuple[float, ...] = (0.6,)


def load_grid_config(path: str | os.PathLike[str]) -> tuple[ToyWorldConfig, AlgoGridConfig, dict[str, Any]]:
    """The world config, its ``algorithms`` section, and the whole config as hashed in provenance."""
    data = read_config_dict(path)
    grid = AlgoGridConfig.model_validate(data.pop("algorithms", {}))
    return ToyWorldConfig.model_validate(data), grid, data | {"algorithms": grid.model_dump(mode="json")}


def delta_se(table: pl.DataFrame) -> pl.Series:
    """ΔSE = base pass@k_max − model pass@1 (the paper's §4.3 / Table 2; lower is better)."""
    return (table["base_pass_max"] - table["pass@1"]).alias("delta_se")


def curves_table(folders: dict[tuple[str, int], Path]) -> pl.DataFrame:
    """Per-step training log of each run: reward, response length, entropy, KL to the base."""
    frames = []
    for (algorithm, seed), folder in folders.items():
        log = json.loads((folder / "train_log.json").read_text(encoding="utf-8"))
        rows = [{"step": e["step"]} | {f: e.get(f) for f in CURVE_FIELDS} for e in log]
        frame = pl.DataFrame(rows, schema={"step": pl.Int64} | dict.fromkeys(CURVE_FIELDS, pl.Float64))
        frames.append(frame.with_columns(pl.lit(algorithm).alias("algorithm"), pl.lit(seed).alias("seed")))
    return pl.concat(frames).select("algorithm", "seed", "step", *CURVE_FIELDS)


def run_algo_grid(
    config: str | os.PathLike[str],
    table: str | os.PathLike[str],
    out_root: str | os.PathLike[str] = DEFAULT_ROOT,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Train and evaluate the runs of ``config``; write the two tables and their records."""
    t0 = time.perf_counter()
    cfg, grid, full = load_grid_config(config)
    root = Path(out_root)
    n_workers = cfg.workers if workers is None else workers
    world = cfg.model_copy(update={"rl": {}, "distill": None})
    base = train_all(world, root, workers=n_workers, progress=progress)["base"]
    rl = RLConfig.model_validate(grid.rl | {"seeds": grid.seeds})
    folders, jobs = {}, []
    for algorithm in grid.algorithms:
        algo = AlgorithmConfig.model_validate(grid.settings.get(algorithm, {}) | {"algorithm": algorithm})
        for seed in grid.seeds:
            folder = family_folder(world, rl, algo, seed, root)
            folders[(algorithm, seed)] = folder
            jobs.append(family_job(world, f"{algorithm} seed={seed}", rl, algo, seed, base, folder))
    t_train = time.perf_counter()
    run_jobs([j for j in jobs if not is_complete(j.kwargs["folder"])], n_workers, progress)
    t_train = time.perf_counter() - t_train

    eval_jobs, labels = [], {}
    for t in grid.temperatures:
        job = evaluation_job(f"eval base T={t}", base, base, world, t, root)
        eval_jobs.append(job)
        labels[job.name] = {"model": "base", "temperature": t}
        for (algorithm, seed), folder in folders.items():
            job = evaluation_job(f"eval {algorithm} seed={seed} T={t}", folder, base, world, t, root)
            eval_jobs.append(job)
            labels[job.name] = {
                "model": f"{algorithm}-seed{seed}",
                "algorithm": algorithm,
                "seed": seed,
                "temperature": t,
            }
    t_eval = time.perf_counter()
    results = run_jobs(eval_jobs, n_workers, progress, job_bars=False)
    t_eval = time.perf_counter() - t_eval

    kmax = max(cfg.eval.ks)
    rows = results_table(results, "base", list(cfg.eval.ks), labels).filter(pl.col("model") != "base")
    rows = rows.rename({f"pass@{kmax}": "pass_max", f"base_pass@{kmax}": "base_pass_max"})
    rows = rows.with_columns(pl.col("algorithm").replace_strict(LABELS).alias("label"), pl.lit(kmax).alias("k_max"))
    out = rows.select(*TABLE_COLUMNS, "k_max", "outcome", "pass1_gain_lo", "pass1_gain_hi", "only_model", "only_base")
    out = out.with_columns(delta_se(out)).sort(["temperature", "algorithm", "seed"])
    written = {"table": Path(table), "curves": Path(table).with_name(Path(table).stem + "_curves.csv")}
    written["table"].parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.write_csv(), written["table"])
    atomic_write_text(curves_table(folders).write_csv(), written["curves"])
    meta = provenance(
        full,
        f"python -m analysis.toyworld.algo_grid --config {config} --table {table}",
        family_code_version=family_code_version(),
        base_checkpoint=base.name,
        runs={f"{a} seed={s}": f.name for (a, s), f in folders.items()},
        seconds={"rl_training": t_train, "evaluation": t_eval, "total": time.perf_counter() - t0},
        checkpoint_training_seconds=sum(read_marker(f).get("seconds") or 0.0 for f in folders.values()),
    )
    for path in written.values():
        write_meta(meta, path)
    return written


def stale_reasons(results: Results) -> list[str]:
    """:meth:`Results.stale_reasons` plus a change of the six-algorithm trainer's own modules."""
    reasons = results.stale_reasons()
    if results.meta.get("family_code_version") != family_code_version():
        reasons.append(f"algorithm code {results.meta.get('family_code_version')} → {family_code_version()}")
    return reasons


def load_algo_results(name: str = "algorithms", folder: str | os.PathLike[str] | None = None) -> Results | None:
    """A committed table of this runner (``<folder>/<name>.csv`` and its record), or None."""
    return load_results(name, folder) if folder is not None else load_results(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--table", required=True, help="CSV to write (curves go beside it)")
    parser.add_argument("--out-root", default=str(DEFAULT_ROOT))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    written = run_algo_grid(args.config, args.table, args.out_root, workers=args.workers)
    for path in written.values():
        sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
