"""One study from its config: where everything lives, and one function per workflow stage.

The workflow (``workflow/Snakefile``) and the notebooks call these functions; each stage reads
what the previous stages wrote and writes atomically, so any stage can be rerun on its own.

Files of a study (``<output_root>`` defaults to ``data/runs``)::

    <output_root>/samples/<run_hash>/           sampling runs, shared by studies (analysis.sampling)
    <output_root>/toyworld/...                  toy-world checkpoints, cached by config hash
    <output_root>/cache/grading/                grading verdict cache, shared by studies
    <output_root>/studies/<name>/
        models.json                             model name -> resolved path and revision
        samples/<job>.json                      pointer: job -> finished sampling run folder
        grades/<job>.<mode>.parquet             grades of one job in one grading mode
        scores/perplexity.parquet               cross perplexity table
        results/*.parquet, *.json               small tables the book shows
        notebooks/...                           executed notebooks (papermill outputs)
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import SamplingJob, StudyConfig, load_config, sampling_jobs
from analysis.store import atomic_write_json, atomic_write_parquet

MATH_BENCHMARKS = frozenset({"gsm8k", "math500", "minerva_math", "olympiadbench", "aime24", "amc23"})
CODE_BENCHMARKS = frozenset({"humanevalplus", "mbppplus", "livecodebench_v5"})  # graded by analysis.code


PROGRESS_ENV = "RLVR_PROGRESS"


@contextlib.contextmanager
def progress_to_terminal() -> Iterator[None]:
    """Send progress bars and log lines to the terminal instead of the notebook.

    The workflow runs each stage's notebook with ``RLVR_PROGRESS=terminal``: its long work then
    shows progress where the user ran ``make study`` (the kernel's own stderr), and the executed
    notebook, which becomes a page of the book, keeps only results. Elsewhere (a notebook opened
    in JupyterLab) progress stays in the notebook.
    """
    if os.environ.get(PROGRESS_ENV) == "terminal" and sys.__stderr__ is not None and sys.stderr is not sys.__stderr__:
        with contextlib.redirect_stderr(sys.__stderr__):
            yield
    else:
        yield


def project_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding both
    ``pyproject.toml`` and ``workflow/Snakefile``, or ``None``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "workflow" / "Snakefile").is_file():
            return folder
    return None


@dataclass(frozen=True)
class Study:
    """A loaded study config and the paths of everything it writes."""

    config: StudyConfig
    config_path: Path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Study:
        """Load a study config. A relative config path that does not exist from the working directory
        is looked up from the project root (a notebook opened in JupyterLab runs in ``notebooks/``).
        Relative paths inside the config are relative to the project root (:meth:`resolve`); the
        working directory is never changed."""
        p = Path(path)
        if not p.is_absolute() and not p.exists():
            root = project_root()
            if root is not None and (root / p).exists():
                p = root / p
        return cls(load_config(p), p)

    @cached_property
    def base_dir(self) -> Path:
        """What relative paths in the config are relative to: the project holding the config file,
        else the project around the working directory, else the working directory."""
        return project_root(self.config_path.resolve().parent) or project_root() or Path.cwd()

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` from the config, made absolute against :attr:`base_dir`."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def resolve_source(self, source: str | None) -> str | None:
        """A benchmark ``source`` with a relative folder or file resolved (``None`` and ``hub`` kept)."""
        if source is None or source == "hub":
            return source
        return str(self.resolve(source))

    # ---- paths -------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.resolve(self.config.output_root)

    @property
    def dir(self) -> Path:
        return self.root / "studies" / self.config.name

    @property
    def samples_root(self) -> Path:
        return self.root / "samples"

    @property
    def toyworld_root(self) -> Path:
        return self.root / "toyworld"

    @property
    def grading_cache(self) -> Path:
        return self.root / "cache" / "grading"

    @property
    def models_manifest(self) -> Path:
        return self.dir / "models.json"

    def pointer(self, job: str) -> Path:
        return self.dir / "samples" / f"{job}.json"

    def grades_path(self, job: str, mode: str) -> Path:
        return self.dir / "grades" / f"{job}.{mode}.parquet"

    def grades_marker(self, job: str) -> Path:
        """Written last by the grading stage of ``job``: mode -> grades file."""
        return self.dir / "grades" / f"{job}.json"

    @property
    def scores_path(self) -> Path:
        return self.dir / "scores" / "perplexity.parquet"

    @property
    def results_dir(self) -> Path:
        return self.dir / "results"

    # ---- imported generations (analysis.importers) --------------------------------------
    @property
    def is_import(self) -> bool:
        """Whether the study analyses imported generations or counts instead of sampling."""
        return bool(self.config.imports)

    @property
    def imports_dir(self) -> Path:
        return self.dir / "imports"

    @property
    def import_marker(self) -> Path:
        """Written last by the import stage: what was imported, with provenance."""
        return self.imports_dir / "imports.json"

    def imported_problems_path(self, benchmark: str) -> Path:
        return self.imports_dir / "problems" / f"{benchmark}.parquet"

    def import_generations(self, progress: bool = True) -> dict[str, Any]:
        """The import stage: read, validate and grade every ``imports`` source (``analysis.importers.stage``)."""
        from analysis.importers.stage import run_imports

        with progress_to_terminal():
            return run_imports(self, progress=progress)

    @property
    def has_texts(self) -> bool:
        """Whether the study has response texts (pages that read texts need them). A sampling study
        always does; an import study does when a source carries texts (after the import stage: as
        imported; before: as its formats promise)."""
        if not self.is_import:
            return True
        if self.import_marker.is_file():
            return bool(json.loads(self.import_marker.read_text(encoding="utf-8"))["has_texts"])
        from analysis.importers.stage import expects_texts

        return expects_texts(self.config)

    @property
    def has_grades(self) -> bool:
        """Whether per-sample verdicts exist (a counts-only import study has none)."""
        if not self.is_import:
            return True
        if self.import_marker.is_file():
            return bool(json.loads(self.import_marker.read_text(encoding="utf-8"))["has_grades"])
        return self.has_texts

    @property
    def skipped_pages(self) -> dict[str, str]:
        """Page name -> why this study cannot have it (empty for a sampling study)."""
        if not self.is_import:
            return {}
        skipped = {
            "perplexity": "the generations were imported: the study samples nothing, so no model scores "
            "responses it drew (perplexity needs the study's own runs and local weights)"
        }
        if not self.has_grades:
            skipped["grading"] = (
                "only per-problem counts were imported: there are no response texts or per-sample "
                "verdicts to show or re-grade"
            )
        return skipped

    # ---- the plan ----------------------------------------------------------------------
    @cached_property
    def jobs(self) -> dict[str, SamplingJob]:
        """The sampling jobs (none in an import study: it samples nothing)."""
        if self.is_import:
            return {}
        return {j.key: j for j in sampling_jobs(self.config)}

    def index_offset(self, key: str) -> int:
        """Where job ``key``'s samples start in its problem's pooled sample indices.

        Each seed is its own sampling run with indices 0..n-1; pooled over the seeds of a
        benchmark, seed number i (in config order) holds indices i*n .. (i+1)*n - 1.
        """
        job = self.job(key)
        seeds = self.config.seeds_for(self.config.benchmark(job.benchmark))
        return seeds.index(job.seed) * job.n

    def job(self, key: str) -> SamplingJob:
        if key not in self.jobs:
            msg = f"no sampling job {key!r} in study {self.config.name!r}"
            raise KeyError(msg)
        return self.jobs[key]

    @property
    def roles(self) -> dict[str, str]:
        """Model name -> role, in config order (charts colour by it)."""
        return {m.name: m.role for m in self.config.models}

    def grading_modes(self, benchmark: str) -> list[str]:
        """The primary grading mode of ``benchmark`` first, then any comparison mode."""
        entry = self.config.benchmark(benchmark)
        if self.is_import:
            from analysis.importers.stage import grading_modes

            recorded = grading_modes(self, benchmark)
            if recorded is not None:
                return recorded
        if entry.grader is not None:
            primary = entry.grader
        elif benchmark in MATH_BENCHMARKS:
            primary = self.config.grading.mode
        elif benchmark in CODE_BENCHMARKS:
            primary = "code"
        else:
            primary = "exact"
        modes = [primary]
        if primary in ("strict", "paper") and self.config.grading.compare_modes:
            modes.append("paper" if primary == "strict" else "strict")
        return modes

    def primary_mode(self, benchmark: str) -> str:
        return self.grading_modes(benchmark)[0]

    # ---- stage: models -----------------------------------------------------------------
    def prepare_models(self, progress: bool = True) -> dict[str, dict[str, Any]]:
        """Train the toy world's models when the study needs them; write ``models.json``."""
        trained: dict[str, Path] = {}
        if self.config.toyworld is not None:
            from analysis.toyworld.train import train_all

            with progress_to_terminal():
                # every core this process may use: checkpoints are bit-identical whatever the count
                workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
                folders = train_all(
                    self.resolve(self.config.toyworld), self.toyworld_root, workers=workers, progress=progress
                )
            trained = {k: Path(v) for k, v in folders.items()}
        manifest: dict[str, dict[str, Any]] = {}
        for m in self.config.models:
            if m.is_toyworld:
                key = m.path.removeprefix("toyworld:")
                if key not in trained:
                    msg = f"model {m.name!r}: the toy world trains no model {key!r} (it trains {sorted(trained)})"
                    raise KeyError(msg)
                manifest[m.name] = {"path": str(trained[key]), "revision": None, "role": m.role}
            else:
                local = self.resolve(m.path)  # a relative local folder; a hub ID stays as it is
                path = str(local) if not Path(m.path).is_absolute() and local.exists() else m.path
                manifest[m.name] = {"path": path, "revision": m.revision, "role": m.role}
        atomic_write_json(manifest, self.models_manifest)
        return manifest

    def models(self) -> dict[str, dict[str, Any]]:
        if not self.models_manifest.is_file():
            msg = f"{self.models_manifest} does not exist: run the models stage first (Study.prepare_models)"
            raise FileNotFoundError(msg)
        return json.loads(self.models_manifest.read_text(encoding="utf-8"))

    # ---- stage: sampling ---------------------------------------------------------------
    def sampling_config(self, key: str) -> Any:
        """The ``analysis.sampling.SamplingConfig`` of sampling job ``key``."""
        from analysis.sampling import SamplingConfig

        job = self.job(key)
        model = self.config.model(job.model)
        bench = self.config.benchmark(job.benchmark)
        resolved = self.models()[job.model]
        s = self.config.sampling
        return SamplingConfig(
            backend=s.backend,
            model=resolved["path"],
            revision=resolved["revision"],
            model_name=model.name,
            benchmark=bench.name,
            benchmark_source=self.resolve_source(bench.source),
            benchmark_sha256=bench.sha256,
            limit=bench.limit,
            template=model.template,
            chat_template=model.chat_template,
            n=job.n,
            seeds=(job.seed,),
            chunk_size=min(s.chunk_size, job.n),
            batch_size=s.batch_size,
            temperature=job.temperature,
            top_p=s.top_p,
            max_tokens=self.config.max_tokens_for(model),
            max_model_len=self._max_model_len(model, resolved),
            tensor_parallel_size=s.tensor_parallel_size,
            device=s.device,
            base_url=s.api_base,
        )

    def _max_model_len(self, model: Any, resolved: dict[str, Any]) -> int | None:
        """The model's own or the study's ``max_model_len``; vLLM without either: the model's trained positions."""
        explicit = self.config.max_model_len_for(model)
        if explicit is not None or self.config.sampling.backend != "vllm":
            return explicit
        from analysis.preflight import model_context, read_model_config

        return model_context(read_model_config(resolved["path"], resolved["revision"])).positions

    def sample(self, key: str, progress: bool = True) -> Path:
        """Run (or resume, or reuse) sampling job ``key``; write its pointer; return the run folder."""
        from analysis.sampling import run_sampling

        with progress_to_terminal():
            run_dir = run_sampling(self.sampling_config(key), self.samples_root, progress=progress)
        job = self.job(key)
        atomic_write_json({"run_dir": str(run_dir), **job.model_dump(mode="json")}, self.pointer(key))
        return run_dir

    def run_dir(self, key: str) -> Path:
        path = self.pointer(key)
        if not path.is_file():
            msg = f"sampling job {key!r} has not run yet ({path} is missing)"
            raise FileNotFoundError(msg)
        return Path(json.loads(path.read_text(encoding="utf-8"))["run_dir"])

    def problems(self, benchmark: str) -> pl.DataFrame:
        from analysis.benchmarks import load_benchmark

        bench = self.config.benchmark(benchmark)
        if self.is_import and bench.source is None:  # ids (and strata) as imported; no questions or gold
            path = self.imported_problems_path(benchmark)
            if not path.is_file():
                msg = f"{path} does not exist: run the import stage first"
                raise FileNotFoundError(msg)
            return pl.read_parquet(path)
        return load_benchmark(bench.name, self.resolve_source(bench.source), bench.limit, bench.sha256)

    # ---- stage: grading ----------------------------------------------------------------
    def grade(self, key: str, progress: bool = True) -> dict[str, Path]:
        """Grade sampling job ``key`` in each of its benchmark's modes; return the grades files."""
        from analysis.grading import grade_samples
        from analysis.sampling import load_samples

        job = self.job(key)
        samples = load_samples(self.run_dir(key))
        problems = self.problems(job.benchmark)
        out = {}
        for mode in self.grading_modes(job.benchmark):
            if mode == "code":  # programs run in the sandbox (analysis.code), not the math pool
                out[mode] = atomic_write_parquet(self._grade_code(key, samples, progress), self.grades_path(key, mode))
                continue
            with progress_to_terminal():
                grades = grade_samples(
                    samples,
                    problems,
                    mode,
                    workers=self.config.grading.workers,
                    deadline_s=self.config.grading.deadline_s,
                    cache_dir=self.grading_cache,
                    progress=progress,
                )
            out[mode] = atomic_write_parquet(grades, self.grades_path(key, mode))
        atomic_write_json({m: str(p) for m, p in out.items()}, self.grades_marker(key))
        return out

    def _grade_code(self, key: str, samples: pl.LazyFrame | pl.DataFrame, progress: bool) -> pl.DataFrame:
        from analysis.code.prompts import prefilled_fence
        from analysis.code.samples import grade_code_job

        job = self.job(key)
        bench = self.config.benchmark(job.benchmark)
        model = self.config.model(job.model)
        with progress_to_terminal():
            return grade_code_job(
                samples,
                bench.name,
                self.resolve_source(bench.source),
                prefilled=prefilled_fence(model.template),
                workers=self.config.grading.workers,
                cache_dir=self.grading_cache,
                progress=progress,
            )

    def grade_summary(self, key: str) -> pl.DataFrame:
        """One row per grading mode of job ``key``: verdict counts and shares (``summarize_grades``)."""
        from analysis.grading import summarize_grades

        return pl.concat(
            [
                summarize_grades(pl.read_parquet(self.grades_path(key, m)))
                for m in self.grading_modes(self.job(key).benchmark)
            ],
            how="diagonal_relaxed",
        )

    # ---- readers for the analyses ------------------------------------------------------
    def grades(self, mode: str = "primary") -> pl.LazyFrame:
        """All grades of the study (one mode; ``primary`` = each benchmark's primary mode), with
        the job's ``temperature`` and ``seed`` as extra columns and ``sample_index`` pooled over
        seeds (``index_offset``)."""
        if self.is_import:
            from analysis.importers.stage import imported_grades

            return imported_grades(self, mode)
        frames = []
        for key, job in self.jobs.items():
            wanted = self.primary_mode(job.benchmark) if mode == "primary" else mode
            if wanted not in self.grading_modes(job.benchmark):
                continue
            path = self.grades_path(key, wanted)
            if not path.is_file():
                msg = f"grades of job {key!r} ({wanted}) are missing: {path}"
                raise FileNotFoundError(msg)
            frames.append(
                pl.scan_parquet(path).with_columns(
                    pl.col("sample_index") + self.index_offset(key),
                    pl.lit(job.temperature).alias("temperature"),
                    pl.lit(job.seed, dtype=pl.Int64).alias("seed"),
                )
            )
        if not frames:
            msg = f"study {self.config.name!r} has no grades in mode {mode!r}"
            raise FileNotFoundError(msg)
        return pl.concat(frames, how="diagonal_relaxed")

    def counts(self, mode: str = "primary") -> pl.DataFrame:
        """The counts table (model x benchmark x temperature x problem: n, c), seeds pooled. An import
        study serves imported counts where only counts exist (``analysis.importers.stage``)."""
        from analysis.metrics import counts_from_grades

        if self.is_import:
            from analysis.importers.stage import imported_counts

            return imported_counts(self, mode)

        return counts_from_grades(self.grades(mode), by=("temperature",))

    def samples(self, columns: list[str] | None = None) -> pl.LazyFrame:
        """All samples of the study with the job's temperature (``columns`` to read fewer)."""
        from analysis.sampling import load_samples

        if self.is_import:
            from analysis.importers.stage import imported_samples

            lf = imported_samples(self)
            return lf.select([*columns, "temperature"]) if columns is not None else lf
        frames = []
        for key, job in self.jobs.items():
            lf = load_samples(self.run_dir(key)).with_columns(pl.col("sample_index") + self.index_offset(key))
            if columns is not None:
                lf = lf.select(columns)
            frames.append(lf.with_columns(pl.lit(job.temperature).alias("temperature")))
        return pl.concat(frames, how="diagonal_relaxed")

    def prompts(self) -> pl.DataFrame:
        """The exact prompt string of every (model, benchmark, problem)."""
        from analysis.sampling import load_prompts

        frames = []
        seen = set()
        for key, job in self.jobs.items():
            if (job.model, job.benchmark) in seen:
                continue
            seen.add((job.model, job.benchmark))
            frames.append(
                load_prompts(self.run_dir(key))
                .select("problem_id", "prompt")
                .with_columns(pl.lit(job.model).alias("model"), pl.lit(job.benchmark).alias("benchmark"))
            )
        return pl.concat(frames)

    # ---- stage: perplexity -------------------------------------------------------------
    def perplexity_responses(self) -> pl.DataFrame:
        """The responses the perplexity analysis scores: for each benchmark, the first
        ``analysis.perplexity.problems`` problems and each model's first
        ``responses_per_problem`` samples on them, at one temperature, with their exact prompts."""
        from analysis.sampling import load_samples

        ppl = self.config.analysis.perplexity
        temperature = ppl.temperature if ppl.temperature is not None else self.config.sampling.temperatures[0]
        frames = []
        for bench in self.config.benchmarks:
            keep = self.problems(bench.name)["problem_id"].head(ppl.problems).to_list()
            for key, job in self.jobs.items():
                if job.benchmark != bench.name or job.temperature != temperature:
                    continue
                frames.append(
                    load_samples(self.run_dir(key))
                    .with_columns(pl.col("sample_index") + self.index_offset(key))
                    .filter(pl.col("problem_id").is_in(keep) & (pl.col("sample_index") < ppl.responses_per_problem))
                    .select("model", "benchmark", "problem_id", "sample_index", "text", "finish_reason")
                    .collect()
                )
        if not frames:
            msg = f"no samples at temperature {temperature} to score"
            raise FileNotFoundError(msg)
        responses = pl.concat(frames).unique(["model", "benchmark", "problem_id", "sample_index"], keep="first")
        prompts = self.prompts()
        joined = responses.join(prompts, on=["model", "benchmark", "problem_id"], how="left")
        if joined["prompt"].null_count():
            msg = "some responses have no prompt in their sampling run"
            raise ValueError(msg)
        return joined.rename({"model": "generator"}).sort(["generator", "benchmark", "problem_id", "sample_index"])

    def families(self) -> dict[str, list[str]]:
        """Base model -> the models of its family (itself first, then the models naming it as base)."""
        fam: dict[str, list[str]] = {m.name: [m.name] for m in self.config.models if m.role == "base"}
        for m in self.config.models:
            if m.base is not None:
                fam[m.base].append(m.name)
        return fam

    def score_perplexity(self, progress: bool = True) -> pl.DataFrame:
        """Cross perplexity within each model family (every member scores every member's
        responses); written to ``scores_path``. Models served only through an endpoint are skipped."""
        from analysis.perplexity import cross_perplexity

        responses = self.perplexity_responses()
        models = self.models()
        frames = []
        for members in self.families().values():
            local = [m for m in members if Path(models[m]["path"]).is_dir() or models[m]["revision"] is not None]
            subset = responses.filter(pl.col("generator").is_in(local))
            if len(local) < 1 or subset.is_empty():
                continue
            scorers = {m: self.local_model(m) for m in local}
            with progress_to_terminal():
                scored = cross_perplexity(
                    scorers, subset, cache_dir=self.root / "cache" / "perplexity", progress=progress
                )
            frames.append(scored)
        if not frames:
            msg = "no model family has local weights to score with"
            raise ValueError(msg)
        scores = pl.concat(frames)
        atomic_write_parquet(scores, self.scores_path)
        return scores

    def local_model(self, name: str) -> str:
        """A folder holding model ``name``'s weights: its own folder, or the pinned hub snapshot
        (downloaded on first use, from the local cache afterwards)."""
        entry = self.models()[name]
        if Path(entry["path"]).is_dir():
            return entry["path"]
        if entry["revision"] is None:
            msg = f"model {name!r} ({entry['path']}) is neither a local folder nor a pinned hub model"
            raise FileNotFoundError(msg)
        from huggingface_hub import snapshot_download

        return snapshot_download(entry["path"], revision=entry["revision"])

    @property
    def entropy_path(self) -> Path:
        return self.dir / "scores" / "entropy.parquet"

    def score_entropy(self, progress: bool = True) -> pl.DataFrame:
        """The paper's entropy-matched comparison (Fig. 17): per benchmark, each base model's mean
        token entropy over its own responses at the first sampling temperature, and for every
        other member of its family, that model's entropy at the same temperature and the
        temperature at which its entropy matches the base's. Teacher forced on the responses the
        perplexity analysis uses."""
        from analysis.perplexity import match_temperature, mean_entropy
        from analysis.perplexity.hf import load_scorer

        temperature = self.config.sampling.temperatures[0]
        responses = self.perplexity_responses()
        rows = []
        for base, members in self.families().items():
            for bench in responses["benchmark"].unique(maintain_order=True).to_list():

                def own(model: str, bench: str = bench) -> tuple[list[str], list[str]]:
                    part = responses.filter((pl.col("generator") == model) & (pl.col("benchmark") == bench))
                    return part["prompt"].to_list(), part["text"].to_list()

                prompts, texts = own(base)
                if not prompts:
                    continue
                with progress_to_terminal():
                    net, tok = load_scorer(self.local_model(base))
                    target = mean_entropy(net, tok, prompts, texts, temperature=temperature)
                    del net
                    for other in members[1:]:
                        p2, t2 = own(other)
                        if not p2:
                            continue
                        net, tok = load_scorer(self.local_model(other))
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
        atomic_write_parquet(table, self.entropy_path)
        return table

    def scores(self) -> pl.DataFrame:
        if not self.scores_path.is_file():
            msg = f"perplexity scores are missing: {self.scores_path} (run the perplexity stage)"
            raise FileNotFoundError(msg)
        return pl.read_parquet(self.scores_path)
