"""One study from its config: where everything lives, and readers of what its stages wrote.

``Study`` holds paths and reads; it writes nothing. The stages that write (train or resolve the
models, sample, grade, import, score) are functions in ``analysis.stages``.

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

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import SamplingJob, StudyConfig, load_config, sampling_jobs

MATH_BENCHMARKS = frozenset({"gsm8k", "math500", "minerva_math", "olympiadbench", "aime24", "amc23"})
CODE_BENCHMARKS = frozenset({"humanevalplus", "mbppplus", "livecodebench_v5"})  # graded by analysis.code


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
    def toyworld2_root(self) -> Path:
        """Toy world 2's checkpoints and evaluations (shared with ``python -m analysis.toyworld2``)."""
        return self.root / "toyworld2"

    @property
    def toyworld2_dir(self) -> Path:
        """This study's toy world 2 tables (``config.toyworld2``: its default recipe, retrained here)."""
        return self.dir / "toyworld2"

    @property
    def grading_cache(self) -> Path:
        return self.root / "cache" / "grading"

    @property
    def models_manifest(self) -> Path:
        """Every model's record (``analysis.models_stage.gather_models``)."""
        return self.dir / "models.json"

    def model_record_path(self, name: str) -> Path:
        """One model's record, written by its models-stage job (``analysis.models_stage``)."""
        return self.dir / "models" / f"{name}.json"

    @property
    def toyworld_base_marker(self) -> Path:
        """Written when the toy world's base is trained (the other toy-world models start from it)."""
        return self.dir / "models" / "toyworld-base.marker.json"

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
    def models(self) -> dict[str, dict[str, Any]]:
        if not self.models_manifest.is_file():
            msg = f"{self.models_manifest} does not exist: run the models stage first (analysis.stages.train_models)"
            raise FileNotFoundError(msg)
        return json.loads(self.models_manifest.read_text(encoding="utf-8"))

    def model_entry(self, name: str) -> dict[str, Any]:
        """Model ``name``'s record (path, revision, role), written as soon as that model is ready."""
        self.config.model(name)  # a clear error for an unknown name
        path = self.model_record_path(name)
        if not path.is_file():
            msg = f"{path} does not exist: run the models stage first (analysis.stages.train_models)"
            raise FileNotFoundError(msg)
        return json.loads(path.read_text(encoding="utf-8"))

    # ---- stage: sampling ---------------------------------------------------------------
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

    def upper_bound_benchmarks(self) -> list[str]:
        """Code benchmarks graded on public tests only (LiveCodeBench without its hidden tests,
        ``analysis.code``): their pass@k and coverage are upper bounds, and every page says so."""
        out = []
        for bench in self.config.benchmarks:
            if self.primary_mode(bench.name) != "code":
                continue
            paths = [self.grades_path(k, "code") for k, j in self.jobs.items() if j.benchmark == bench.name]
            paths = [p for p in paths if p.is_file()]
            if not paths or "upper_bound" not in pl.scan_parquet(paths[0]).collect_schema():
                continue
            if pl.scan_parquet(paths).select(pl.col("upper_bound").any()).collect().item():
                out.append(bench.name)
        return out

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
    def families(self) -> dict[str, list[str]]:
        """Base model -> the models of its family (itself first, then the models naming it as base)."""
        fam: dict[str, list[str]] = {m.name: [m.name] for m in self.config.models if m.role == "base"}
        for m in self.config.models:
            if m.base is not None:
                fam[m.base].append(m.name)
        return fam

    @property
    def entropy_path(self) -> Path:
        return self.dir / "scores" / "entropy.parquet"

    def scores(self) -> pl.DataFrame:
        if not self.scores_path.is_file():
            msg = f"perplexity scores are missing: {self.scores_path} (run the perplexity stage)"
            raise FileNotFoundError(msg)
        return pl.read_parquet(self.scores_path)
