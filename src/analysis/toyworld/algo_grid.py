"""The paper's section 4 in miniature: six RL algorithms, GRPO's training steps, group size and
KL, from one base, compared on the test set.

From the default base, one run of :mod:`analysis.toyworld.rl_family` per (regime, variant,
algorithm, seed). A *regime* is an RL prompt mix (the config's ``algorithms.regimes``: for
example prompts drawn like the test set, or only problems the base already solves); the
variant ``six`` is the six-algorithm comparison with the shared settings (``algorithms.rl``);
every other variant (``algorithms.variants``) is one algorithm with some settings changed
(group size, KL, a longer run). Each run's final checkpoint and every snapshot in its
``snapshots`` is evaluated at each temperature (:func:`analysis.toyworld.report.evaluation_job`,
the fast sampler) and set against the base through :func:`analysis.findings.compare_pair`
(via :func:`~analysis.toyworld.report.results_table`). Writes ``<table>`` (one row per run,
evaluated step and temperature: pass@k for every k of ``eval.ks``, the base's pass@k_max,
ΔSE = base pass@k_max − model pass@1 as in the paper's Table 2, the outcome) and
``<table stem>_curves.csv`` (per run and training step: reward, response length, entropy, KL to
the base), each with a ``.json`` provenance record that adds
:func:`~analysis.toyworld.algo_runs.family_code_version` to
:func:`~analysis.toyworld.results.provenance`. Runs and evaluations are cached, so an
interrupted grid resumes where it stopped. Run::

    python -m analysis.toyworld.algo_grid --config configs/toyworld/algorithms.yaml \
        --table data/toyworld/algorithms.csv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, model_validator

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
from analysis.toyworld.rl import snapshot_dir
from analysis.toyworld.train import DEFAULT_ROOT, Job, run_jobs, train_all

CURVE_FIELDS = ("reward", "length", "entropy", "kl")
ID_COLUMNS = ("regime", "variant", "kind", "algorithm", "label", "seed", "step", "temperature")
SIX = "six"  # the variant name of the six-algorithm comparison


class Variant(BaseModel):
    """One arm beside the six-algorithm comparison: an algorithm with some settings changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["ablation", "steps"] = "ablation"  # steps: a longer run, for the per-step table
    algorithm: Algorithm = "grpo"
    rl: dict[str, Any] = {}  # RLConfig fields over the shared ones (group_size, beta, steps, snapshots, ...)
    settings: dict[str, Any] = {}  # AlgorithmConfig fields over the algorithm's shared ones
    seeds: tuple[int, ...] | None = None  # None: the grid's seeds


class AlgoGridConfig(BaseModel):
    """The ``algorithms`` section of a config: which runs, their shared RL settings, temperatures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithms: tuple[Algorithm, ...] = ALGORITHMS
    seeds: tuple[int, ...] = (0,)
    rl: dict[str, Any] = {}  # RLConfig fields shared by every run (prompt mix, beta, steps, ...)
    settings: dict[str, dict[str, Any]] = {}  # per algorithm: AlgorithmConfig fields beyond the defaults
    regimes: dict[str, dict[str, Any]] = {"indist": {}}  # name -> RLConfig fields over the shared ones
    variants: dict[str, Variant] = {}
    temperatures: tuple[float, ...] = (0.6,)

    @model_validator(mode="after")
    def _names(self) -> AlgoGridConfig:
        msg = ""
        if not self.regimes:
            msg = "algorithms.regimes: name at least one regime"
        elif SIX in self.variants:
            msg = f"algorithms.variants: {SIX!r} is the six-algorithm comparison's name"
        if msg:
            raise ValueError(msg)
        return self


@dataclass(frozen=True)
class Run:
    """One RL run of the grid."""

    regime: str
    variant: str
    kind: str  # "algorithms" (the six-algorithm comparison), "ablation" or "steps"
    algorithm: str
    seed: int
    rl: RLConfig
    algo: AlgorithmConfig

    @property
    def name(self) -> str:
        return f"{self.regime}/{self.variant}/{self.algorithm}/seed{self.seed}"


def grid_runs(grid: AlgoGridConfig) -> list[Run]:
    """Every run of ``grid``, regime by regime: the six algorithms first, then the variants."""
    runs = []
    for regime, over in grid.regimes.items():
        arms = [(SIX, "algorithms", a, {}, {}, grid.seeds) for a in grid.algorithms]
        arms += [(n, v.kind, v.algorithm, v.rl, v.settings, v.seeds or grid.seeds) for n, v in grid.variants.items()]
        for variant, kind, algorithm, rl_over, settings, seeds in arms:
            rl = RLConfig.model_validate(grid.rl | over | rl_over | {"seeds": seeds})
            shared = grid.settings.get(algorithm, {})
            algo = AlgorithmConfig.model_validate(shared | settings | {"algorithm": algorithm})
            runs += [Run(regime, variant, kind, algorithm, s, rl, algo) for s in seeds]
    return runs


def load_grid_config(path: str | os.PathLike[str]) -> tuple[ToyWorldConfig, AlgoGridConfig, dict[str, Any]]:
    """The world config, its ``algorithms`` section, and the whole config as hashed in provenance."""
    data = read_config_dict(path)
    grid = AlgoGridConfig.model_validate(data.pop("algorithms", {}))
    return ToyWorldConfig.model_validate(data), grid, data | {"algorithms": grid.model_dump(mode="json")}


def delta_se(table: pl.DataFrame) -> pl.Series:
    """ΔSE = base pass@k_max − model pass@1 (the paper's §4.3 / Table 2; lower is better)."""
    return (table["base_pass_max"] - table["pass@1"]).alias("delta_se")


def curves_table(runs: list[Run], folders: dict[str, Path]) -> pl.DataFrame:
    """Per-step training log of each run: reward, response length, entropy, KL to the base."""
    frames = []
    for run in runs:
        log = json.loads((folders[run.name] / "train_log.json").read_text(encoding="utf-8"))
        rows = [{"step": e["step"]} | {f: e.get(f) for f in CURVE_FIELDS} for e in log]
        frame = pl.DataFrame(rows, schema={"step": pl.Int64} | dict.fromkeys(CURVE_FIELDS, pl.Float64))
        ids = {"regime": run.regime, "variant": run.variant, "kind": run.kind, "algorithm": run.algorithm}
        frames.append(frame.with_columns(*[pl.lit(v).alias(k) for k, v in (ids | {"seed": run.seed}).items()]))
    return pl.concat(frames).select(*ID_COLUMNS[:4], "seed", "step", *CURVE_FIELDS)


def _unique_by_folder(jobs: list[Job], key: str) -> list[Job]:
    """``jobs`` without a second job writing the same place (two arms may be the same run)."""
    seen: dict[str, Job] = {}
    for job in jobs:
        seen.setdefault(str(job.kwargs[key]), job)
    return list(seen.values())


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
    world = cfg.base_world()
    base = train_all(world, root, workers=n_workers, progress=progress)["base"]
    runs = grid_runs(grid)
    folders = {r.name: family_folder(world, r.rl, r.algo, r.seed, root) for r in runs}
    jobs = [family_job(world, r.name, r.rl, r.algo, r.seed, base, folders[r.name]) for r in runs]
    t_train = time.perf_counter()
    todo = [j for j in _unique_by_folder(jobs, "folder") if not is_complete(j.kwargs["folder"])]
    run_jobs(todo, n_workers, progress)
    t_train = time.perf_counter() - t_train

    by_job: dict[str, Job] = {}  # evaluation jobs by cache file (one per checkpoint and temperature)
    labels: dict[str, dict[str, Any]] = {}
    for t in grid.temperatures:
        job = evaluation_job(f"eval base T={t}", base, base, world, t, root)
        by_job.setdefault(job.kwargs["cache_file"], job)
        labels[job.name] = {"model": "base", "temperature": t}
        for run in runs:
            for step in (*run.rl.snapshots, run.rl.steps):
                ck = folders[run.name] if step == run.rl.steps else snapshot_dir(folders[run.name], step)
                job = evaluation_job(f"eval {run.name}@{step} T={t}", ck, base, world, t, root)
                job = by_job.setdefault(job.kwargs["cache_file"], job)
                ids = {"regime": run.regime, "variant": run.variant, "kind": run.kind}
                ids |= {"algorithm": run.algorithm, "seed": run.seed}
                labels[f"{run.name}@{step} T={t}"] = ids | {
                    "model": f"{run.name}@{step}",
                    "step": step,
                    "temperature": t,
                    "job": job.name,
                }
    t_eval = time.perf_counter()
    evaluated = run_jobs(list(by_job.values()), n_workers, progress, job_bars=False)
    t_eval = time.perf_counter() - t_eval
    results = {name: evaluated[lab.get("job", name)] for name, lab in labels.items()}

    ks = list(cfg.eval.ks)
    kmax = max(ks)
    rows = results_table(results, "base", ks, labels).filter(pl.col("model") != "base")
    rows = rows.with_columns(
        pl.col("algorithm").replace_strict(LABELS).alias("label"),
        pl.col(f"pass@{kmax}").alias("pass_max"),
        pl.col(f"base_pass@{kmax}").alias("base_pass_max"),
        pl.lit(kmax).alias("k_max"),
    )
    passk = [f"pass@{k}" for k in ks]
    out = rows.select(
        *ID_COLUMNS,
        *passk,
        "pass_max",
        *[f"base_{c}" for c in passk],
        "base_pass_max",
        "k_max",
        "outcome",
        "pass1_gain_lo",
        "pass1_gain_hi",
        "only_model",
        "only_base",
        "crossover_k",
    )
    order = {r.name: i for i, r in enumerate(runs)}  # the config's order: regimes, then arms, then seeds
    run_of = pl.concat_str("regime", "variant", "algorithm", pl.format("seed{}", "seed"), separator="/")
    out = out.with_columns(delta_se(out)).sort(run_of.replace_strict(order), "step", "temperature")
    written = {"table": Path(table), "curves": Path(table).with_name(Path(table).stem + "_curves.csv")}
    written["table"].parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.write_csv(), written["table"])
    atomic_write_text(curves_table(runs, folders).write_csv(), written["curves"])
    meta = provenance(
        full,
        f"python -m analysis.toyworld.algo_grid --config {config} --table {table}",
        family_code_version=family_code_version(),
        base_checkpoint=base.name,
        runs={name: f.name for name, f in folders.items()},
        seconds={"rl_training": t_train, "evaluation": t_eval, "total": time.perf_counter() - t0},
        checkpoint_training_seconds=sum(read_marker(f).get("seconds") or 0.0 for f in set(folders.values())),
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
