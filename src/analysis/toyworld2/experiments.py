"""Toy world 2's experiments: one base, GRPO runs (the default recipe over its seeds and named
conditions), every model evaluated on the test set, every RL run compared with the base through
``analysis.findings.compare_pair``, and the issue's targets checked.

Writes under ``results_dir``: ``counts.csv`` (one row per model, temperature and problem),
``findings.csv`` (one row per RL run and temperature: the finding, the condition's settings and
the target checks), ``base_histogram.csv`` and ``results.json`` (the provenance record shared
by the three). Checkpoints and per-model evaluations are cached under ``root``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import polars as pl

from analysis.findings import compare_pair
from analysis.metrics import accuracy_histogram
from analysis.store import atomic_write_parquet, atomic_write_text, read_marker, stable_hash
from analysis.toyworld.model import load_model
from analysis.toyworld2.config import ToyWorld2Config, load_config
from analysis.toyworld2.evaluate import evaluate
from analysis.toyworld2.results import provenance, write_meta_path
from analysis.toyworld2.targets import histogram_checks, run_checks
from analysis.toyworld2.train import train_base, train_rl

# ``rl_prompts`` of a run whose RL prompts are drawn like the test set (in-distribution RL); other
# runs say which Zipf exponent drew their prompts' skills ("zipf 1").
IN_DISTRIBUTION = "like the test set"


def rl_model_name(condition: str, seed: int) -> str:
    """The model name of an RL run in the tables: ``rl-<condition>-s<seed>``."""
    return f"rl-{condition}-s{seed}"


def condition_of(model: str) -> str | None:
    """The RL condition in a model name of :func:`rl_model_name` (``None`` for the base)."""
    m = re.fullmatch(r"rl-(.+)-s\d+", model)
    return m[1] if m else None


def cached_eval(folder: Path, name: str, cfg: ToyWorld2Config, temperature: float, root: Path) -> pl.DataFrame:
    """The counts of the checkpoint in ``folder`` at ``temperature`` (cached by checkpoint and test set)."""
    key = stable_hash({"ckpt": folder.name, "t": temperature, "task": cfg.task, "eval": cfg.eval})
    path = root / "evals" / f"{key}.parquet"
    if path.is_file():
        return pl.read_parquet(path).with_columns(pl.lit(name).alias("model"))
    frame = evaluate(load_model(folder), name, cfg, temperature)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(frame, path)
    return frame


def run_experiments(
    config: str | os.PathLike[str],
    root: str | os.PathLike[str],
    results_dir: str | os.PathLike[str],
    conditions: list[str] | None = None,
) -> dict[str, Path]:
    """Train, evaluate, compare and write the tables (see the module docstring)."""
    t0 = time.perf_counter()
    cfg, full = load_config(config)
    root = Path(root)
    base = train_base(cfg, root)
    runs = {k: v for k, v in cfg.rl_runs().items() if conditions is None or k in conditions}
    folders = {("base", None): base}
    for cond, rl in runs.items():
        for seed in rl.seeds:
            folders[(cond, seed)] = train_rl(cfg, rl, seed, root)
    t_train = time.perf_counter() - t0
    frames, rows = [], []
    for t in cfg.eval.temperatures:
        base_counts = cached_eval(base, "base", cfg, t, root)
        frames.append(base_counts)
        for (cond, seed), folder in folders.items():
            if cond == "base":
                continue
            name = rl_model_name(cond, seed)
            rl_counts = cached_eval(folder, name, cfg, t, root)
            frames.append(rl_counts)
            pair = pl.concat([base_counts, rl_counts]).drop("length", "rarest_rank")
            finding = compare_pair(pair, "base", name)
            settings = runs[cond].run_settings()
            rows.append(
                finding.row()
                | {"condition": cond, "seed": seed}
                | {f"rl_{k}": v for k, v in settings.items() if k != "prompt_zipf"}
                | {
                    "rl_prompts": IN_DISTRIBUTION
                    if settings["prompt_zipf"] is None
                    else f"zipf {settings['prompt_zipf']:g}"
                }
                | run_checks(rl_counts, finding)
            )
    counts = pl.concat(frames)
    hist = accuracy_histogram(counts.filter(pl.col("model") == "base"), by=["model", "temperature"])
    spread = [
        {"temperature": t} | histogram_checks(counts.filter((pl.col("model") == "base") & (pl.col("temperature") == t)))
        for t in cfg.eval.temperatures
    ]
    findings = pl.DataFrame(rows, infer_schema_length=None).join(pl.DataFrame(spread), on="temperature", how="left")
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"counts": out / "counts.csv", "findings": out / "findings.csv", "histogram": out / "base_histogram.csv"}
    atomic_write_text(counts.write_csv(), written["counts"])
    atomic_write_text(findings.write_csv(), written["findings"])
    atomic_write_text(hist.write_csv(), written["histogram"])
    seconds = {str(f.name): read_marker(f).get("seconds") for f in folders.values()}
    cmd = f"python -m analysis.toyworld2 --config {config} --results {results_dir}"
    if conditions is not None:
        cmd += " --conditions " + " ".join(conditions)
    meta = provenance(
        full,
        cmd,
        base_checkpoint=base.name,
        rl_runs=len(folders) - 1,
        seconds={"total": time.perf_counter() - t0, "training_call": t_train},
        checkpoint_training_seconds=sum(s or 0.0 for s in seconds.values()),
        checkpoint_seconds=seconds,
    )
    written["meta"] = write_meta_path(meta, out / "results.json")
    return written
