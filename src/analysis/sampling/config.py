"""The sampling config: every knob of a run, typed and validated.

A run is (model, benchmark, template, sampling parameters, seeds). Fields that decide what
the samples are go into the run's hash (``analysis.sampling.identity``); fields that only
decide how fast or where the work runs (endpoint URL, concurrency, retries, GPU memory share,
the benchmark folder's location) do not.

Samples per problem: ``n`` for each seed in ``seeds``, so a problem gets ``n * len(seeds)``
samples (the paper pools seeds: 4 seeds x 32 = 128). Each seed's ``n`` samples are requested in
chunks of at most ``chunk_size`` (one vLLM request of n = 1024 is known to stall the engine);
every chunk has its own seed derived from (run seed, problem id, chunk index).

Context limit: by default every prompt plus ``max_tokens`` must fit in ``max_model_len`` (the
run refuses a prompt that does not). With ``fit_to_context`` (an explicit opt-in, part of the
run's identity) each request generates at most ``min(max_tokens, max_model_len - its prompt
tokens)`` instead, as vLLM does at the context's end: what the paper's code did for its
4,096-position models (PAPER.md 6.5). Such samples end with finish reason ``length``; a prompt
must still leave room for one generated token.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BackendName = Literal["hf", "vllm", "openai"]
DType = Literal["auto", "float32", "bfloat16", "float16"]

# Sequences per part (one generate call / one written file) when ``batch_size`` is not set.
DEFAULT_BATCH_SIZE: dict[str, int] = {"hf": 128, "vllm": 2048, "openai": 512}


class SamplingParams(BaseModel):
    """The sampling knobs a study config and a run config share, with their one set of defaults
    (the paper's top-p; chunks small enough for vLLM). A study's ``sampling`` section
    (``analysis.config.SamplingSettings``) and every run it makes (``SamplingConfig``) extend it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: BackendName = "hf"
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    chunk_size: int = Field(32, ge=1, description="samples per request (vLLM request n)")
    batch_size: int | None = Field(None, ge=1, description="sequences per generate call / written part")
    max_model_len: int | None = Field(None, ge=1, description="prompt + completion tokens (required for vllm)")
    tensor_parallel_size: int = Field(1, ge=1)
    device: str = Field("auto", description="hf: 'auto', 'cpu', 'cuda' or 'cuda:N'")
    fit_to_context: bool = Field(
        False, description="cap each request at max_model_len - its prompt tokens instead of refusing long prompts"
    )

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in {"auto", "cpu", "cuda"} and not (value.startswith("cuda:") and value[5:].isdigit()):
            msg = f"device {value!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _fit_backend(self) -> SamplingParams:
        if self.fit_to_context and self.backend == "openai":
            msg = (
                "fit_to_context works with the hf and vllm backends; the openai backend sends max_tokens as given "
                "(a vLLM server refuses a prompt plus max_tokens over its max_model_len)"
            )
            raise ValueError(msg)
        return self


class SamplingConfig(SamplingParams):
    """What to sample, from which model, how; see the module docstring for the sample count."""

    backend: BackendName
    model: str = Field(description="local model folder, hub ID, or (openai) the served model name")
    revision: str | None = Field(None, description="hub commit of the model (required for hub IDs)")
    tokenizer: str | None = Field(None, description="tokenizer folder or hub ID; default: the model's")
    tokenizer_revision: str | None = Field(None, description="hub commit of the tokenizer (for a hub ID)")
    model_name: str | None = Field(None, description="label in the samples table; default from model")
    benchmark: str
    benchmark_source: str | None = Field(None, description="folder holding <benchmark>/test.jsonl, or 'hub'")
    benchmark_sha256: str | None = Field(None, description="pinned SHA-256 of the local benchmark file (checked)")
    limit: int | None = Field(None, ge=1, description="keep the first `limit` problems")
    template: str
    chat_template: bool = False
    n: int = Field(ge=1, description="samples per problem for each seed")
    seeds: tuple[int, ...] = (0,)
    temperature: float = Field(0.6, ge=0.0)
    max_tokens: int = Field(16384, ge=1, description="new tokens per sample at most")
    stop: tuple[str, ...] | None = Field(None, description="stop strings; default: the template's")
    stop_token_ids: tuple[int, ...] = ()
    dtype: DType = "auto"
    num_threads: int | None = Field(None, ge=1, description="hf on CPU: torch threads (default 1)")
    # vllm engine
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)
    enable_prefix_caching: bool = True
    enforce_eager: bool = False
    # openai-compatible endpoint
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    concurrency: int = Field(8, ge=1)
    max_retries: int = Field(6, ge=0)
    retry_backoff_s: float = Field(1.0, ge=0.0, description="first retry delay; doubles each retry")
    request_timeout_s: float = Field(600.0, gt=0.0)

    @field_validator("model", "benchmark", "template")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            msg = "must not be empty"
            raise ValueError(msg)
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            msg = "needs at least one seed"
            raise ValueError(msg)
        if len(set(value)) != len(value):
            msg = f"seeds repeat: {list(value)}"
            raise ValueError(msg)
        if any(s < 0 for s in value):
            msg = f"seeds must be >= 0: {list(value)}"
            raise ValueError(msg)
        return value

    @field_validator("stop")
    @classmethod
    def _stop(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and any(not s for s in value):
            msg = "empty stop string"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _backend_needs(self) -> SamplingConfig:
        if self.backend == "vllm" and self.max_model_len is None:
            msg = "the vllm backend needs max_model_len set explicitly (at least prompt + max_tokens)"
            raise ValueError(msg)
        if self.backend == "openai" and not self.base_url:
            msg = "the openai backend needs base_url (e.g. http://127.0.0.1:8000/v1)"
            raise ValueError(msg)
        if self.fit_to_context and self.max_model_len is None:
            msg = "fit_to_context caps each sample at max_model_len - its prompt tokens: set max_model_len"
            raise ValueError(msg)
        if self.max_model_len is not None and self.max_model_len <= self.max_tokens and not self.fit_to_context:
            msg = (
                f"max_model_len={self.max_model_len} leaves no room for a prompt with max_tokens={self.max_tokens}; "
                "it must be at least prompt + max_tokens (or set fit_to_context to cap each sample at "
                "max_model_len - its prompt tokens)"
            )
            raise ValueError(msg)
        if self.batch_size is not None and self.batch_size < min(self.chunk_size, self.n):
            msg = f"batch_size={self.batch_size} is smaller than one chunk ({min(self.chunk_size, self.n)} samples)"
            raise ValueError(msg)
        return self

    @property
    def samples_per_problem(self) -> int:
        """``n * len(seeds)``."""
        return self.n * len(self.seeds)

    @property
    def effective_batch_size(self) -> int:
        """Sequences per part: ``batch_size`` or the backend's default, never below one chunk."""
        size = self.batch_size or DEFAULT_BATCH_SIZE[self.backend]
        return max(size, min(self.chunk_size, self.n))
