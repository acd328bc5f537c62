"""Sampling engine: many completions per problem, from vLLM, transformers or an OpenAI-compatible endpoint.

    from analysis.sampling import SamplingConfig, run_sampling, load_samples

    config = SamplingConfig(backend="hf", model="path/to/model", benchmark="math500",
                            benchmark_source="../shared/benchmarks/math", template="qwen-boxed",
                            n=32, seeds=(0, 1, 2, 3), max_tokens=16384)
    run_dir = run_sampling(config, "data/runs/samples")   # resumable; returns the finished folder
    samples = load_samples(run_dir).collect()              # analysis.schemas.SAMPLES

The same from a shell: ``python -m analysis.sampling --help``. The run folder layout is in
``analysis.sampling.storage``; what goes into the run hash in ``analysis.sampling.identity``;
chunking and seeds in ``analysis.sampling.plan``. More samples for chosen problems of a finished
run (a top-up, its own run; indices continue): ``topup(run_dir, {problem_id: extra})``, see
``analysis.sampling.top_up``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use, so that ``analysis.sampling.backends.hf`` (torch and
# transformers only) can be used where polars and pydantic are not installed (benchmarks/gpu_sampling.py).
_EXPORTS = {
    "Backend": "analysis.sampling.types",
    "Completion": "analysis.sampling.types",
    "GenParams": "analysis.sampling.types",
    "Request": "analysis.sampling.types",
    "open_backend": "analysis.sampling.backends",
    "SamplingConfig": "analysis.sampling.config",
    "SamplingError": "analysis.sampling.identity",
    "request_seed": "analysis.sampling.plan",
    "prepare_run": "analysis.sampling.runner",
    "run_path": "analysis.sampling.runner",
    "run_sampling": "analysis.sampling.runner",
    "run_summary": "analysis.sampling.runner",
    "load_prompts": "analysis.sampling.storage",
    "load_samples": "analysis.sampling.storage",
    "read_run_config": "analysis.sampling.storage",
    "topup": "analysis.sampling.top_up",
    "topup_lineage": "analysis.sampling.top_up",
}

__all__ = [
    "Backend",
    "Completion",
    "GenParams",
    "Request",
    "SamplingConfig",
    "SamplingError",
    "load_prompts",
    "load_samples",
    "open_backend",
    "prepare_run",
    "read_run_config",
    "request_seed",
    "run_path",
    "run_sampling",
    "run_summary",
    "topup",
    "topup_lineage",
]

if TYPE_CHECKING:
    from analysis.sampling.backends import open_backend
    from analysis.sampling.config import SamplingConfig
    from analysis.sampling.identity import SamplingError
    from analysis.sampling.plan import request_seed
    from analysis.sampling.runner import prepare_run, run_path, run_sampling, run_summary
    from analysis.sampling.storage import load_prompts, load_samples, read_run_config
    from analysis.sampling.top_up import topup, topup_lineage
    from analysis.sampling.types import Backend, Completion, GenParams, Request


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        msg = f"module 'analysis.sampling' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
