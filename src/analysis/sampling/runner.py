"""Run a sampling config to a finished run folder, resuming whatever an earlier attempt wrote.

Order of work, so that bad input fails before anything heavy happens and nothing written is
ever touched by a failing call:

1. validate the config, the template, the problems and the model reference; hash the run;
2. refuse a folder that holds another config's run; a finished run returns here, without
   loading a tokenizer or a model;
3. load the tokenizer, render and tokenize the prompts, check ``max_model_len``;
4. lock the folder, write ``config.json`` and ``prompts.parquet`` (once), find the chunks no part
   file holds yet, load the model only if there are any, write one part per group of chunks;
5. check the whole table (every sample exactly once) and write the completion marker.

Steps 3 to 5 are ``analysis.sampling.fill.sample_missing_chunks``, which top-ups share.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from analysis import prompts, schemas
from analysis.benchmarks import load_benchmark, source_record
from analysis.sampling.backends import Backend
from analysis.sampling.config import SamplingConfig
from analysis.sampling.fill import library_versions, sample_missing_chunks
from analysis.sampling.identity import (
    ModelRef,
    SamplingError,
    identity_payload,
    model_fingerprint,
    problems_hash,
    resolve_model,
    run_hash,
)
from analysis.sampling.plan import make_chunks
from analysis.sampling.storage import CONFIG_NAME, PROMPTS_NAME, is_run_dir, list_parts, read_run_config
from analysis.store import canonical_json, is_complete, read_marker

DEFAULT_OUT_ROOT = Path("data/runs/samples")


@dataclass(frozen=True)
class RunSpec:
    """A validated run: what it samples and the hash that names it (no model loaded)."""

    config: SamplingConfig
    problems: pl.DataFrame
    template: prompts.PromptTemplate
    model_ref: ModelRef
    tokenizer_ref: ModelRef | None
    model_name: str
    identity: dict[str, Any]
    run_hash: str

    @property
    def stops(self) -> tuple[str, ...]:
        return prompts.stop_strings(self.template, self.config.stop)


def _as_config(config: SamplingConfig | dict[str, Any]) -> SamplingConfig:
    return config if isinstance(config, SamplingConfig) else SamplingConfig.model_validate(config)


def _problems(config: SamplingConfig, problems: pl.DataFrame | None) -> pl.DataFrame:
    if problems is None:
        problems = load_benchmark(config.benchmark, config.benchmark_source, config.limit, config.benchmark_sha256)
    else:
        schemas.check(problems, "problems")
        other = sorted(set(problems["benchmark"].unique().to_list()) - {config.benchmark})
        if other:
            msg = f"the problems table holds benchmark(s) {other}, the config names {config.benchmark!r}"
            raise SamplingError(msg)
        if config.limit is not None:
            problems = problems.head(config.limit)
    if problems.height == 0:
        msg = f"benchmark {config.benchmark!r} has no problems to sample"
        raise SamplingError(msg)
    if problems["problem_id"].is_duplicated().any():
        dup = problems.filter(pl.col("problem_id").is_duplicated())["problem_id"][0]
        msg = f"problem id {dup!r} occurs more than once"
        raise SamplingError(msg)
    return problems


def prepare_run(config: SamplingConfig | dict[str, Any], problems: pl.DataFrame | None = None) -> RunSpec:
    """Validate a run and compute its hash; loads the problems but no tokenizer and no model."""
    config = _as_config(config)
    template = prompts.get_template(config.template)
    problems = _problems(config, problems)
    model_ref = resolve_model(config.model, config.revision, config.backend)
    tok_ref = (
        resolve_model(config.tokenizer, config.tokenizer_revision, config.backend, "tokenizer")
        if config.tokenizer
        else None
    )
    model_name = config.model_name or model_ref.label
    identity = identity_payload(
        config,
        model_fingerprint(model_ref),
        model_fingerprint(tok_ref) if tok_ref else None,
        template,
        problems_hash(problems),
        model_name,
    )
    identity = json.loads(canonical_json(identity))  # exactly what config.json will hold
    return RunSpec(config, problems, template, model_ref, tok_ref, model_name, identity, run_hash(identity))


def run_path(
    config: SamplingConfig | dict[str, Any],
    out_root: str | os.PathLike[str] = DEFAULT_OUT_ROOT,
    problems: pl.DataFrame | None = None,
) -> Path:
    """The folder ``run_sampling`` writes for ``config`` (nothing is run or written)."""
    return Path(out_root) / prepare_run(config, problems).run_hash


def check_folder(out_root: Path, run_dir: Path, spec: RunSpec) -> None:
    if out_root.exists() and not out_root.is_dir():
        msg = f"output root {out_root} is a file, not a folder"
        raise SamplingError(msg)
    if is_run_dir(out_root):
        msg = f"output root {out_root} is itself a run folder; pass the folder that holds runs"
        raise SamplingError(msg)
    if run_dir.exists() and any(not p.name.startswith(".") for p in run_dir.iterdir()):
        if not is_run_dir(run_dir):
            msg = f"{run_dir} holds files but no {CONFIG_NAME}: not a sampling run folder, refusing to write there"
            raise SamplingError(msg)
        existing = read_run_config(run_dir)
        if existing.get("run_hash") != spec.run_hash or existing.get("identity") != spec.identity:
            theirs, ours = existing.get("identity", {}), spec.identity
            fields = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            msg = f"{run_dir} holds another config's run (differs in: {', '.join(fields) or 'run_hash'})"
            raise SamplingError(msg)


def context_caps(prompts_table: pl.DataFrame, config: SamplingConfig) -> pl.DataFrame:
    """``problem_id`` and ``cap`` of the problems whose prompt leaves fewer than ``max_tokens`` new
    tokens in ``max_model_len`` (``fit_to_context``; none without it). From the prompts table's token
    counts: exact for text; an image prompt is longer on the engine, so its cap is lower than shown."""
    if not config.fit_to_context or config.max_model_len is None:
        return pl.DataFrame(schema={"problem_id": pl.String, "cap": pl.Int64})
    room = config.max_model_len - pl.col("n_prompt_tokens").cast(pl.Int64)
    return prompts_table.filter(room < config.max_tokens).select("problem_id", room.alias("cap")).sort("problem_id")


def _summary(
    run_dir: Path, spec: RunSpec, n_chunks: int, new_samples: int, wall_s: float, sampling_s: float
) -> dict[str, Any]:
    parts = [p for _, _, p in list_parts(run_dir)]
    table = pl.scan_parquet(parts).select("problem_id", "sample_index", "n_tokens", "finish_reason").collect()
    expected = spec.problems.height * spec.config.samples_per_problem
    unique = table.select(pl.struct("problem_id", "sample_index").n_unique()).item()
    if table.height != expected or unique != expected:
        msg = f"{run_dir}: {table.height} samples ({unique} distinct), expected {expected}"
        raise SamplingError(msg)
    tokens = int(table["n_tokens"].sum() or 0)
    capped = context_caps(pl.read_parquet(run_dir / PROMPTS_NAME), spec.config)
    return {
        "run_hash": spec.run_hash,
        "model": spec.model_name,
        "benchmark": spec.config.benchmark,
        "backend": spec.config.backend,
        "problems": spec.problems.height,
        "samples": table.height,
        "tokens": tokens,
        "truncated_share": float((table["finish_reason"] == "length").mean() or 0.0),
        # fit_to_context: samples whose budget the context cut below max_tokens, and those of them
        # that ran into the context's end (finish reason "length" before max_tokens)
        "context_capped_samples": capped.height * spec.config.samples_per_problem,
        "context_cut_samples": table.filter(
            (pl.col("finish_reason") == "length") & (pl.col("n_tokens") < spec.config.max_tokens)
        ).height,
        "parts": len(parts),
        "chunks": n_chunks,
        "new_samples": new_samples,
        "sampling_s": round(sampling_s, 3),  # generating and writing, after the model is loaded
        "wall_s": round(wall_s, 3),  # this call, from start to finish
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }


def _summary_line(summary: dict[str, Any]) -> str:
    rate = summary["new_samples"] / summary["sampling_s"] if summary["sampling_s"] > 0 else 0.0
    capped, cut = summary.get("context_capped_samples"), summary.get("context_cut_samples")
    return (
        f"sampling {summary['run_hash']} ({summary['model']} on {summary['benchmark']}, {summary['backend']}): "
        f"{summary['samples']} samples ({summary['new_samples']} new, {rate:.1f}/s while sampling), "
        f"{summary['tokens']} tokens, truncated {summary['truncated_share']:.1%}"
        f"{f' ({cut} at the context end, of {capped} capped)' if capped else ''}, wall {summary['wall_s']:.1f} s\n"
    )


def run_sampling(
    config: SamplingConfig | dict[str, Any],
    out_root: str | os.PathLike[str] = DEFAULT_OUT_ROOT,
    *,
    problems: pl.DataFrame | None = None,
    backend: Backend | None = None,
    progress: bool = True,
) -> Path:
    """Sample ``config`` into ``<out_root>/<run_hash>/`` and return that folder once finished.

    ``problems``: a problems table to use instead of ``load_benchmark(config.benchmark, ...)``.
    ``backend``: an open backend (``open_backend``) to reuse across runs of the same model.
    A finished run returns at once; an unfinished one resumes. Bad input raises a ``ValueError``
    (``SamplingError``, ``TemplateError``, ``BenchmarkError`` or pydantic's ``ValidationError``)
    before any model is loaded or any file written.
    """
    started = time.perf_counter()
    spec = prepare_run(config, problems)
    cfg = spec.config
    out_root = Path(out_root)
    run_dir = out_root / spec.run_hash
    check_folder(out_root, run_dir, spec)
    if is_complete(run_dir):
        return run_dir
    chunks = make_chunks(spec.problems["problem_id"].to_list(), cfg.n, cfg.seeds, cfg.chunk_size)

    def record(n_parts: int) -> dict[str, Any]:
        return {
            "config": cfg.model_dump(mode="json"),
            # the file the problems came from and its SHA-256 (not part of the hash: the
            # problems' digest in the identity already pins their content)
            "benchmark_file": source_record(cfg.benchmark, cfg.benchmark_source, cfg.benchmark_sha256),
            "plan": {
                "problems": spec.problems.height,
                "samples_per_problem": cfg.samples_per_problem,
                "chunks": len(chunks),
                "parts": n_parts,
            },
        }

    def summarize(new_samples: int, sampling_s: float) -> dict[str, Any]:
        return _summary(run_dir, spec, len(chunks), new_samples, time.perf_counter() - started, sampling_s)

    summary = sample_missing_chunks(spec, run_dir, chunks, record, summarize, backend=backend, progress=progress)
    if summary is not None and progress:  # None: another process finished the folder first
        sys.stderr.write(_summary_line(summary))
    return run_dir


def run_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The summary a finished run's completion marker holds (``context_capped_samples`` and
    ``context_cut_samples``: see ``context_caps``; zero without ``fit_to_context``)."""
    return read_marker(run_dir)
