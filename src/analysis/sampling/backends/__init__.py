"""Sampling backends behind one interface.

A backend is opened once per model (``open_backend``) and then asked for completions of
batches of requests; sampling parameters come with every call, so one loaded model can serve
several runs (benchmarks, templates, temperatures). Heavy imports (torch, vllm, httpx) happen
only in the backend module that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analysis.sampling.types import Backend, Completion, GenParams, ProgressFn, Request

if TYPE_CHECKING:
    from analysis.sampling.config import SamplingConfig

__all__ = ["Backend", "Completion", "GenParams", "ProgressFn", "Request", "engine_key", "open_backend"]


def engine_key(config: SamplingConfig, model: dict[str, Any], tokenizer: dict[str, Any] | None) -> dict[str, Any]:
    """What an open backend must agree on with a run that wants to reuse it."""
    from analysis.sampling.identity import resolved_device, resolved_dtype

    key: dict[str, Any] = {"backend": config.backend, "model": model, "tokenizer": tokenizer}
    if config.backend == "hf":
        device = resolved_device(config)
        key.update(device=device, dtype=resolved_dtype(config, device), num_threads=config.num_threads)
    elif config.backend == "vllm":
        key.update(
            dtype=config.dtype, max_model_len=config.max_model_len, tensor_parallel_size=config.tensor_parallel_size
        )
    else:
        key.update(base_url=config.base_url)
    return key


def open_backend(config: SamplingConfig) -> Backend:
    """Load the model (or connect to the endpoint) that ``config`` names."""
    from analysis.sampling.identity import model_fingerprint, resolve_model

    model_ref = resolve_model(config.model, config.revision, config.backend)
    tok_ref = (
        resolve_model(config.tokenizer, config.tokenizer_revision, config.backend, "tokenizer")
        if config.tokenizer
        else None
    )
    key = engine_key(config, model_fingerprint(model_ref), model_fingerprint(tok_ref) if tok_ref else None)
    if config.backend == "hf":
        from analysis.sampling.backends.hf import HFBackend

        return HFBackend.from_config(config, model_ref, tok_ref, key)
    if config.backend == "vllm":
        from analysis.sampling.backends.vllm import VLLMBackend

        return VLLMBackend.from_config(config, model_ref, tok_ref, key)
    from analysis.sampling.backends.openai import OpenAIBackend

    return OpenAIBackend.from_config(config, model_ref, key)
