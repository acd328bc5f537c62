"""The study's stages: the only code that writes a study's files.

Each function runs one stage of a :class:`analysis.study.Study` (the workflow's rules call them
through the stage notebooks): ``train_models`` (toy world: train; otherwise resolve, and write
``models.json``), ``sample``, ``grade``, ``import_generations``, ``score_perplexity`` and
``score_entropy``. Each reads what the stages before it wrote (through the ``Study`` readers)
and writes atomically, so any stage can be rerun on its own. Pages only read.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from analysis.store import atomic_write_json, atomic_write_parquet
from analysis.study import Study

PROGRESS_ENV = "RLVR_PROGRESS"


@contextlib.contextmanager
def progress_to_terminal() -> Iterator[None]:
    """Send progress bars and log lines to the terminal instead of the notebook.

    The workflow runs each stage's notebook with ``RLVR_PROGRESS=terminal``: its long work then
    shows progress where the user ran ``make study`` (the kernel's own stderr), and the executed
    notebook keeps only results. Elsewhere (a notebook opened in JupyterLab) progress stays in
    the notebook.
    """
    if os.environ.get(PROGRESS_ENV) == "terminal" and sys.__stderr__ is not None and sys.stderr is not sys.__stderr__:
        with contextlib.redirect_stderr(sys.__stderr__):
            yield
    else:
        yield


def import_generations(study: Study, progress: bool = True) -> dict[str, Any]:
    """The import stage: read, validate and grade every ``imports`` source (``analysis.importers.stage``)."""
    from analysis.importers.stage import run_imports

    with progress_to_terminal():
        return run_imports(study, progress=progress)


def train_models(study: Study, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Train the toy world's models when the study needs them (all in one call, in worker
    processes); write every model's record and ``models.json`` (``analysis.models_stage``)."""
    from analysis.models_stage import TOYWORLD_BASE, gather_models, write_model_record, write_toyworld_base_marker

    trained: dict[str, Path] = {}
    if study.config.toyworld is not None:
        from analysis.toyworld.train import train_all

        with progress_to_terminal():
            # every core this process may use: checkpoints are bit-identical whatever the count
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            folders = train_all(
                study.resolve(study.config.toyworld), study.toyworld_root, workers=workers, progress=progress
            )
        trained = {k: Path(v) for k, v in folders.items()}
        write_toyworld_base_marker(study, trained[TOYWORLD_BASE])
    for m in study.config.models:
        key = m.toyworld_key
        if key is not None and key not in trained:
            msg = f"model {m.name!r}: the toy world trains no model {key!r} (it trains {sorted(trained)})"
            raise KeyError(msg)
        write_model_record(study, m.name, trained.get(key) if key else None, progress)
    return gather_models(study)


def sampling_config(study: Study, key: str) -> Any:
    """The ``analysis.sampling.SamplingConfig`` of sampling job ``key``: the study's shared
    sampling knobs (``SamplingParams``) as set, and what is particular to the job."""
    from analysis.sampling import SamplingConfig
    from analysis.sampling.config import SamplingParams

    job = study.job(key)
    model = study.config.model(job.model)
    bench = study.config.benchmark(job.benchmark)
    resolved = study.model_entry(job.model)
    s = study.config.sampling
    shared = {name: getattr(s, name) for name in SamplingParams.model_fields}
    return SamplingConfig(
        **shared
        | {
            "chunk_size": min(s.chunk_size, job.n),
            "max_model_len": _max_model_len(study, model, resolved),
            "fit_to_context": study.config.fit_to_context_for(model),
        },
        model=resolved["path"],
        revision=resolved["revision"],
        model_name=model.name,
        benchmark=bench.name,
        benchmark_source=study.resolve_source(bench.source),
        benchmark_sha256=bench.sha256,
        limit=bench.limit,
        template=model.template,
        chat_template=model.chat_template,
        n=job.n,
        seeds=(job.seed,),
        temperature=job.temperature,
        max_tokens=study.config.max_tokens_for(model),
        base_url=s.api_base,
    )


def _max_model_len(study: Study, model: Any, resolved: dict[str, Any]) -> int | None:
    """The model's own or the study's ``max_model_len``; vLLM or ``fit_to_context`` without either: the
    model's trained positions."""
    explicit = study.config.max_model_len_for(model)
    if explicit is not None or (study.config.sampling.backend != "vllm" and not study.config.fit_to_context_for(model)):
        return explicit
    from analysis.preflight import model_context, read_model_config

    return model_context(read_model_config(resolved["path"], resolved["revision"])).positions


def sample(study: Study, key: str, progress: bool = True) -> Path:
    """Run (or resume, or reuse) sampling job ``key``; write its pointer; return the run folder."""
    from analysis.sampling import run_sampling

    with progress_to_terminal():
        run_dir = run_sampling(sampling_config(study, key), study.samples_root, progress=progress)
    job = study.job(key)
    atomic_write_json({"run_dir": str(run_dir), **job.model_dump(mode="json")}, study.pointer(key))
    return run_dir


def grade(study: Study, key: str, progress: bool = True) -> dict[str, Path]:
    """Grade sampling job ``key`` in each of its benchmark's modes; return the grades files."""
    from analysis.grading import grade_samples
    from analysis.sampling import load_samples

    job = study.job(key)
    samples = load_samples(study.run_dir(key))
    problems = study.problems(job.benchmark)
    out = {}
    for mode in study.grading_modes(job.benchmark):
        if mode == "code":  # programs run in the sandbox (analysis.code), not the math pool
            out[mode] = atomic_write_parquet(_grade_code(study, key, samples, progress), study.grades_path(key, mode))
            continue
        with progress_to_terminal():
            grades = grade_samples(
                samples,
                problems,
                mode,
                workers=study.config.grading.workers,
                deadline_s=study.config.grading.deadline_s,
                cache_dir=study.grading_cache,
                progress=progress,
            )
        out[mode] = atomic_write_parquet(grades, study.grades_path(key, mode))
    atomic_write_json({m: str(p) for m, p in out.items()}, study.grades_marker(key))
    return out


def _grade_code(study: Study, key: str, samples: pl.LazyFrame | pl.DataFrame, progress: bool) -> pl.DataFrame:
    from analysis.code.prompts import prefilled_fence
    from analysis.code.samples import grade_code_job

    job = study.job(key)
    bench = study.config.benchmark(job.benchmark)
    model = study.config.model(job.model)
    with progress_to_terminal():
        return grade_code_job(
            samples,
            bench.name,
            study.resolve_source(bench.source),
            prefilled=prefilled_fence(model.template),
            workers=study.config.grading.workers,
            cache_dir=study.grading_cache,
            progress=progress,
        )


def perplexity_responses(study: Study) -> pl.DataFrame:
    """The responses the perplexity analysis scores: for each benchmark, the first
    ``analysis.perplexity.problems`` problems and each model's first
    ``responses_per_problem`` samples on them, at one temperature, with their exact prompts."""
    from analysis.sampling import load_samples

    ppl = study.config.analysis.perplexity
    temperature = ppl.temperature if ppl.temperature is not None else study.config.sampling.temperatures[0]
    frames = []
    for bench in study.config.benchmarks:
        keep = study.problems(bench.name)["problem_id"].head(ppl.problems).to_list()
        for key, job in study.jobs.items():
            if job.benchmark != bench.name or job.temperature != temperature:
                continue
            frames.append(
                load_samples(study.run_dir(key))
                .with_columns(pl.col("sample_index") + study.index_offset(key))
                .filter(pl.col("problem_id").is_in(keep) & (pl.col("sample_index") < ppl.responses_per_problem))
                .select("model", "benchmark", "problem_id", "sample_index", "text", "finish_reason")
                .collect()
            )
    if not frames:
        msg = f"no samples at temperature {temperature} to score"
        raise FileNotFoundError(msg)
    responses = pl.concat(frames).unique(["model", "benchmark", "problem_id", "sample_index"], keep="first")
    prompts = study.prompts()
    joined = responses.join(prompts, on=["model", "benchmark", "problem_id"], how="left")
    if joined["prompt"].null_count():
        msg = "some responses have no prompt in their sampling run"
        raise ValueError(msg)
    return joined.rename({"model": "generator"}).sort(["generator", "benchmark", "problem_id", "sample_index"])


def score_perplexity(study: Study, progress: bool = True) -> pl.DataFrame:
    """Cross perplexity within each model family (every member scores every member's
    responses); written to ``scores_path``. Models served only through an endpoint are skipped."""
    from analysis.perplexity import cross_perplexity

    responses = perplexity_responses(study)
    models = study.models()
    frames = []
    for members in study.families().values():
        local = [m for m in members if Path(models[m]["path"]).is_dir() or models[m]["revision"] is not None]
        subset = responses.filter(pl.col("generator").is_in(local))
        if len(local) < 1 or subset.is_empty():
            continue
        scorers = {m: local_model(study, m) for m in local}
        with progress_to_terminal():
            scored = cross_perplexity(scorers, subset, cache_dir=study.root / "cache" / "perplexity", progress=progress)
        frames.append(scored)
    if not frames:
        msg = "no model family has local weights to score with"
        raise ValueError(msg)
    scores = pl.concat(frames)
    atomic_write_parquet(scores, study.scores_path)
    return scores


def local_model(study: Study, name: str) -> str:
    """A folder holding model ``name``'s weights: its own folder, or the pinned hub snapshot
    (downloaded on first use, from the local cache afterwards)."""
    entry = study.models()[name]
    if Path(entry["path"]).is_dir():
        return entry["path"]
    if entry["revision"] is None:
        msg = f"model {name!r} ({entry['path']}) is neither a local folder nor a pinned hub model"
        raise FileNotFoundError(msg)
    from huggingface_hub import snapshot_download

    return snapshot_download(entry["path"], revision=entry["revision"])


def score_entropy(study: Study, progress: bool = True) -> pl.DataFrame:
    """The paper's entropy-matched comparison (Fig. 17): per benchmark, each base model's mean
    token entropy over its own responses at the first sampling temperature, and for every
    other member of its family, that model's entropy at the same temperature and the
    temperature at which its entropy matches the base's. Teacher forced on the responses the
    perplexity analysis uses."""
    from analysis.perplexity import match_temperature, mean_entropy
    from analysis.perplexity.hf import load_scorer

    temperature = study.config.sampling.temperatures[0]
    responses = perplexity_responses(study)
    rows = []
    for base, members in study.families().items():
        for bench in responses["benchmark"].unique(maintain_order=True).to_list():

            def own(model: str, bench: str = bench) -> tuple[list[str], list[str]]:
                part = responses.filter((pl.col("generator") == model) & (pl.col("benchmark") == bench))
                return part["prompt"].to_list(), part["text"].to_list()

            prompts, texts = own(base)
            if not prompts:
                continue
            with progress_to_terminal():
                net, tok = load_scorer(local_model(study, base))
                target = mean_entropy(net, tok, prompts, texts, temperature=temperature)
                del net
                for other in members[1:]:
                    p2, t2 = own(other)
                    if not p2:
                        continue
                    net, tok = load_scorer(local_model(study, other))
                    at_same = mean_entropy(net, tok, p2, t2, temperature=temperature)
                    try:
                        match = match_temperature(net, tok, p2, t2, target)
                        matched, at_matched = match.temperature, match.entropy
                    except ValueError:
                        matched = at_matched = None
                    del net
                    rows.append(
                        {
                            "benchmark": bench,
                            "base": base,
                            "model": other,
                            "temperature": temperature,
                            "entropy base": target,
                            "entropy model": at_same,
                            "matched temperature": matched,
                            "entropy at matched": at_matched,
                        }
                    )
    table = pl.DataFrame(rows) if rows else pl.DataFrame()
    atomic_write_parquet(table, study.entropy_path)
    return table


# models: train (toy world) and resolve every model at once; the workflow splits it into
# toyworld-base, one model job per model, and manifest (analysis.models_stage).
STAGES = ("models", "toyworld-base", "model", "manifest", "sample", "grade", "score")


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.stages <stage> <config> [job]``: run one stage (the workflow's rules
    call this; the stage notebooks in ``notebooks/`` call the same functions)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m analysis.stages", description=main.__doc__)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("config", help="the study config (YAML)")
    parser.add_argument("job", nargs="?", help="sample, grade: the sampling job key; model: the model's name")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    study = Study.load(args.config)
    progress = not args.quiet
    if args.stage in ("sample", "grade"):
        if not args.job:
            parser.error(f"the {args.stage} stage needs a job key (one of: {', '.join(study.jobs) or 'none'})")
        study.job(args.job)  # a clear error for an unknown key
    if args.stage == "model" and not args.job:
        parser.error(f"the model stage needs a model name (one of: {', '.join(m.name for m in study.config.models)})")
    if args.stage == "models":
        manifest = train_models(study, progress=progress)
        sys.stdout.write(f"models: {len(manifest)} in {study.models_manifest}\n")
    elif args.stage in ("toyworld-base", "model", "manifest"):
        from analysis import models_stage

        with progress_to_terminal():
            if args.stage == "toyworld-base":
                sys.stdout.write(f"toy-world base: {models_stage.train_toyworld_base(study, progress)}\n")
            elif args.stage == "model":
                record = models_stage.write_model_record(study, args.job, progress=progress)
                sys.stdout.write(f"model {args.job}: {record['path']}\n")
            else:
                sys.stdout.write(f"models: {len(models_stage.gather_models(study))} in {study.models_manifest}\n")
    elif args.stage == "sample":
        sys.stdout.write(f"samples: {sample(study, args.job, progress=progress)}\n")
    elif args.stage == "grade":
        for mode, path in grade(study, args.job, progress=progress).items():
            sys.stdout.write(f"grades ({mode}): {path}\n")
    else:
        scores = score_perplexity(study, progress=progress)
        sys.stdout.write(f"perplexity: {scores.height} scores in {study.scores_path}\n")
        if study.config.analysis.entropy.enabled:
            score_entropy(study, progress=progress)
            sys.stdout.write(f"entropy: {study.entropy_path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
