"""Study configs: a validated schema, loading from YAML, hashing, and the job plan.

A study names its models (with their roles), its benchmarks, how to sample, how to grade and
which analyses to run. ``load_config`` turns a YAML file into a ``StudyConfig`` or fails with
one line per bad field (``models.1.role: Input should be 'base', 'rl', 'distill' or
'other'``). ``sampling_jobs`` lists the sampling units (model x benchmark x temperature x
seed) that the workflow runs as separate jobs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from analysis.sampling.config import SamplingParams
from analysis.store import stable_hash

Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
Role = Literal["base", "rl", "distill", "other"]
GraderMode = Literal["strict", "paper", "exact", "code"]  # code: run in a sandbox (analysis.code)
TOYWORLD_PREFIX = "toyworld:"


class ConfigError(ValueError):
    """A study config that cannot be used; the message names each bad field and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """One model of the study."""

    name: Slug
    role: Role
    path: str = Field(description="local folder, hub ID, or 'toyworld:<name>' for a toy-world checkpoint")
    revision: str | None = Field(None, description="hub commit to pin (hub IDs only)")
    template: str = Field(description="prompt template name (analysis.prompts)")
    chat_template: bool = False
    base: Slug | None = Field(None, description="for rl/distill models: the name of the base model they start from")
    recipe: str | None = Field(
        None,
        description="what this model is, in plain words (the pages print it); models that share a recipe are "
        "training seeds of one recipe, and their seed-to-seed spread is shown",
    )
    # Per-model context limits (default: sampling.max_tokens / sampling.max_model_len, and where
    # those are unset, what the model's own config.json allows; see analysis.preflight).
    max_model_len: Annotated[int, Field(gt=0)] | None = Field(None, description="prompt + completion tokens")
    max_tokens: Annotated[int, Field(gt=0)] | None = Field(None, description="new tokens per sample at most")
    fit_to_context: bool | None = Field(
        None, description="cap each sample at max_model_len - its prompt tokens (default: sampling.fit_to_context)"
    )

    @property
    def is_toyworld(self) -> bool:
        return self.path.startswith(TOYWORLD_PREFIX)

    @property
    def toyworld_key(self) -> str | None:
        """The toy-world model this entry names (``toyworld:<key>``), else ``None``."""
        return self.path.removeprefix(TOYWORLD_PREFIX) if self.is_toyworld else None


class BenchmarkEntry(_Strict):
    """One benchmark of the study, with optional per-benchmark overrides."""

    name: str
    source: str | None = Field(None, description="folder holding <name>/test.jsonl, 'hub', or a task config")
    limit: Annotated[int, Field(gt=0)] | None = None
    n: Annotated[int, Field(gt=0)] | None = Field(None, description="samples per problem (default: sampling.n)")
    seeds: list[int] | None = Field(None, description="sampling seeds (default: sampling.seeds)")
    grader: GraderMode | None = Field(None, description="default: 'exact' for toy tasks, else grading.mode")
    models: list[Slug] | None = Field(None, description="the models that sample this benchmark (default: all)")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="pinned SHA-256 of <source>/<name>/test.jsonl (local folders); checked before use"
    )


class SamplingSettings(SamplingParams):
    """How completions are drawn. n per problem is split evenly over the seeds. The knobs shared
    with each run (top_p, chunk_size, batch_size, ...) and their defaults are ``SamplingParams``'."""

    n: Annotated[int, Field(gt=0, le=1_000_000)]
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    temperatures: list[Annotated[float, Field(ge=0.0, le=5.0)]] = Field(default_factory=lambda: [0.6], min_length=1)
    max_tokens: Annotated[int, Field(gt=0)]
    api_base: str | None = Field(None, description="openai backend: base URL of the completions endpoint")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            msg = f"seeds must be distinct, got {v}"
            raise ValueError(msg)
        return v


class GradingSettings(_Strict):
    mode: GraderMode = "strict"
    compare_modes: bool = Field(True, description="math benchmarks: also grade in 'paper' mode and report disagreement")
    workers: Annotated[int, Field(gt=0)] = 2
    deadline_s: Annotated[float, Field(gt=0)] = 5.0


class PerplexitySettings(_Strict):
    enabled: bool = True
    problems: Annotated[int, Field(gt=0)] = 50
    responses_per_problem: Annotated[int, Field(gt=0)] = 8
    temperature: float | None = Field(None, description="which sampling temperature's responses (default: the first)")


class EntropySettings(_Strict):
    """The entropy-matched comparison (paper Fig. 17), on the responses the perplexity analysis scores."""

    enabled: bool = False


class AnalysisSettings(_Strict):
    ci: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    resamples: Annotated[int, Field(gt=0)] = 1000
    seed: int = 0
    delta_se_k: Annotated[int, Field(gt=0)] | None = Field(None, description="k_max of ΔSE (default: n)")
    cover_taus: list[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=lambda: [0.1, 0.25, 0.5, 0.75])
    perplexity: PerplexitySettings = PerplexitySettings()
    entropy: EntropySettings = EntropySettings()

    @model_validator(mode="after")
    def _entropy_needs_perplexity(self) -> Self:
        if self.entropy.enabled and not self.perplexity.enabled:
            msg = "analysis.entropy needs analysis.perplexity enabled (it scores the same responses)"
            raise ValueError(msg)
        return self


ImportFormat = Literal["paper-evaluator", "lm-eval", "lighteval", "jsonl", "counts"]


class ImportEntry(_Strict):
    """Generations (or per-problem counts) made elsewhere, for one model on one benchmark
    (``analysis.importers``). A study with ``imports`` samples nothing: it analyses these."""

    model: Slug = Field(description="the study model these generations belong to")
    benchmark: str
    format: ImportFormat
    path: str = Field(description="a file, a folder or a glob (relative to the project root)")
    temperature: float | None = Field(None, description="which sampling temperature (default: the first)")
    seeds: list[int] | None = Field(None, description="paper-evaluator: the seed files that must all be present")
    task: str | None = Field(None, description="lm-eval / lighteval: the task, where a folder holds several")
    source_model: str | None = Field(None, description="jsonl / counts files with a 'model' column: whose rows")
    grader: str | None = Field(None, description="counts: who graded them, for the record")
    regrade: bool = Field(True, description="grade imported texts with the study's grading modes")


class StudyConfig(_Strict):
    """A whole study: what to compare, on what, and how."""

    name: Slug
    title: str
    description: str = ""
    toyworld: str | None = Field(None, description="toy-world training config to run first (toy studies only)")
    toyworld2: str | None = Field(
        None,
        description="toy world 2's config: the study retrains and evaluates its default recipe and checks the "
        "committed tables (data/toyworld2) against it",
    )
    output_root: str = "data/runs"
    paper_setting: str | None = Field(None, description="key of a published setting to compare with (data/paper)")
    models: list[ModelEntry] = Field(min_length=1)
    benchmarks: list[BenchmarkEntry] = Field(min_length=1)
    sampling: SamplingSettings
    grading: GradingSettings = GradingSettings()
    analysis: AnalysisSettings = AnalysisSettings()
    imports: list[ImportEntry] = Field(default_factory=list, description="analyse these instead of sampling")

    @model_validator(mode="after")
    def _imports_consistent(self) -> Self:
        models, benches = {m.name for m in self.models}, {b.name for b in self.benchmarks}
        seen: set[tuple[str, str, float]] = set()
        for i, e in enumerate(self.imports):
            t = e.temperature if e.temperature is not None else self.sampling.temperatures[0]
            if e.model not in models or e.benchmark not in benches:
                msg = f"imports.{i}: model {e.model!r} / benchmark {e.benchmark!r} is not one of the study's"
                raise ValueError(msg)
            if t not in self.sampling.temperatures:
                msg = f"imports.{i}: temperature {t:g} is not in sampling.temperatures {self.sampling.temperatures}"
                raise ValueError(msg)
            if (e.model, e.benchmark, t) in seen:
                msg = f"imports.{i}: {e.model} on {e.benchmark} at T = {t:g} is imported twice"
                raise ValueError(msg)
            seen.add((e.model, e.benchmark, t))
        for b in benches:
            modes = {e.regrade for e in self.imports if e.benchmark == b and e.format != "counts"}
            if len(modes) > 1:
                msg = f"imports of benchmark {b!r} must agree on regrade (counts of one benchmark need one grader)"
                raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"model names must be unique, repeated: {dupes}"
            raise ValueError(msg)
        if not any(m.role == "base" for m in self.models):
            msg = "at least one model must have role 'base'"
            raise ValueError(msg)
        by_name = {m.name: m for m in self.models}
        for m in self.models:
            if m.base is not None and (m.base not in by_name or by_name[m.base].role != "base"):
                msg = f"model {m.name!r}: base {m.base!r} is not a model of role 'base' in this study"
                raise ValueError(msg)
            limit = self.max_model_len_for(m)
            if limit is not None and limit <= self.max_tokens_for(m) and not self.fit_to_context_for(m):
                msg = (
                    f"model {m.name!r}: max_model_len={limit} leaves no room for a prompt "
                    f"with max_tokens={self.max_tokens_for(m)} (or set fit_to_context)"
                )
                raise ValueError(msg)
            if self.fit_to_context_for(m) and self.sampling.backend == "openai":
                msg = f"model {m.name!r}: fit_to_context works with the hf and vllm backends, not openai"
                raise ValueError(msg)
        if any(m.is_toyworld for m in self.models) and self.toyworld is None:
            msg = "models with a 'toyworld:' path need the 'toyworld' training config"
            raise ValueError(msg)
        bench = [b.name for b in self.benchmarks]
        if len(set(bench)) != len(bench):
            msg = f"benchmark names must be unique, got {bench}"
            raise ValueError(msg)
        for b in self.benchmarks:
            unknown = sorted(set(b.models or []) - set(names))
            if unknown:
                msg = f"benchmark {b.name!r}: models {unknown} are not models of this study"
                raise ValueError(msg)
            n, seeds = self.n_for(b), self.seeds_for(b)
            if n % len(seeds):
                msg = f"benchmark {b.name!r}: n = {n} is not divisible by the {len(seeds)} seeds {seeds}"
                raise ValueError(msg)
        return self

    def n_for(self, bench: BenchmarkEntry) -> int:
        return bench.n or self.sampling.n

    def seeds_for(self, bench: BenchmarkEntry) -> list[int]:
        return bench.seeds or self.sampling.seeds

    def model(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        msg = f"no model named {name!r} in study {self.name!r}; models: {[m.name for m in self.models]}"
        raise KeyError(msg)

    def benchmark(self, name: str) -> BenchmarkEntry:
        for b in self.benchmarks:
            if b.name == name:
                return b
        msg = f"no benchmark named {name!r} in study {self.name!r}"
        raise KeyError(msg)

    def max_tokens_for(self, model: ModelEntry) -> int:
        """New tokens per sample for ``model``: its own ``max_tokens`` or ``sampling.max_tokens``."""
        return model.max_tokens or self.sampling.max_tokens

    def max_model_len_for(self, model: ModelEntry) -> int | None:
        """``model``'s own ``max_model_len`` or ``sampling.max_model_len``; ``None``: the model's config decides."""
        return model.max_model_len or self.sampling.max_model_len

    def fit_to_context_for(self, model: ModelEntry) -> bool:
        """Whether ``model``'s samples are capped at max_model_len - their prompt (its own setting or the study's)."""
        return self.sampling.fit_to_context if model.fit_to_context is None else model.fit_to_context

    def pairs(self) -> list[tuple[str, str]]:
        """(base, other) for every rl/distill/other model that names its base."""
        return [(m.base, m.name) for m in self.models if m.base is not None]

    @property
    def hash(self) -> str:
        return stable_hash(self.model_dump(mode="json"))


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: object, origin: str = "<config>") -> StudyConfig:
    """Validate a mapping as a study config; ``ConfigError`` lists every bad field."""
    if not isinstance(data, dict):
        msg = f"{origin}: a study config must be a mapping, got {type(data).__name__}"
        raise ConfigError(msg)
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as e:
        msg = f"{origin}: invalid study config\n{_format_errors(e)}"
        raise ConfigError(msg) from None


def load_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study config YAML file."""
    p = Path(path)
    if not p.is_file():
        msg = f"study config not found: {p}"
        raise ConfigError(msg)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        msg = f"{p}: not valid YAML ({e})"
        raise ConfigError(msg) from None
    return parse_config(data, str(p))


def _temp_label(t: float) -> str:
    return f"T{t:g}"


class SamplingJob(_Strict):
    """One sampling unit of the workflow: a model on a benchmark at one temperature and seed."""

    model: str
    benchmark: str
    temperature: float
    seed: int
    n: int  # samples per problem drawn by this job

    @property
    def key(self) -> str:
        """File-name-safe identifier, unique within a study."""
        raw = f"{self.model}__{self.benchmark}__{_temp_label(self.temperature)}__s{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.=-]", "-", raw)


def sampling_jobs(cfg: StudyConfig) -> list[SamplingJob]:
    """Every sampling unit of ``cfg``: models x benchmarks x temperatures x seeds."""
    jobs = []
    for m in cfg.models:
        for b in cfg.benchmarks:
            if b.models is not None and m.name not in b.models:
                continue
            seeds = cfg.seeds_for(b)
            per_seed = cfg.n_for(b) // len(seeds)
            for t in cfg.sampling.temperatures:
                jobs.extend(
                    SamplingJob(model=m.name, benchmark=b.name, temperature=t, seed=s, n=per_seed) for s in seeds
                )
    return jobs
