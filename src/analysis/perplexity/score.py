"""``score_responses``: teacher-forced perplexity of responses given their exact prompts.

PPL_m(Y | x) = exp(-(1/T) sum_t log P_m(y_t | x, y_<t)) over the T response tokens only; the
prompt x is never scored. The tokenizer boundary and the EOS default are documented in
``analysis.perplexity.tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import polars as pl

from analysis.perplexity import hf
from analysis.perplexity.frame import scores_frame
from analysis.perplexity.tokens import encode_pairs

Backend = Literal["hf", "vllm"]
BACKENDS: tuple[str, ...] = ("hf", "vllm")


def score_responses(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    include_eos: bool | Sequence[bool] = False,
    eos_token_id: int | None = None,
    add_special_tokens: bool = True,
    batch_size: int = 16,
    max_tokens_per_batch: int = 16384,
    padding_side: hf.PaddingSide = "right",
    logits_chunk_tokens: int | None = None,
    backend: Backend = "hf",
    progress: bool = True,
) -> pl.DataFrame:
    """Teacher-forced NLL and perplexity of each response under ``model``, in input order.

    Returns a frame with one row per response: ``nll_mean`` (mean negative log-likelihood per
    scored token, nats), ``ppl`` (exp of it) and ``n_tokens`` (scored tokens, EOS included when
    it is scored).

    * ``backend="hf"``: ``model`` is a transformers causal LM and ``tokenizer`` its tokenizer (or
      ``model`` is a folder or hub id, loaded with ``load_scorer``, and ``tokenizer`` may be ``None``).
      ``batch_size`` (rows), ``max_tokens_per_batch`` (padded tokens), ``padding_side`` and
      ``logits_chunk_tokens`` (positions per float32 log-softmax chunk; default fits 256 MiB)
      shape the computation, never the result.
    * ``backend="vllm"``: ``model`` is a ``vllm.LLM`` (or a model folder, loaded with
      ``analysis.perplexity.vllm.load_llm``); ``tokenizer`` may be ``None`` to use the engine's.
      Scores come from ``prompt_logprobs``; vLLM schedules its own batches, so the four
      HF-only knobs above are ignored.

    ``include_eos`` (default ``False``: score the response text only) is one flag for all or one
    per response; ``eos_token_id`` defaults to the tokenizer's. ``add_special_tokens`` must
    match how the sampler encoded the prompt string. An empty response is refused.
    """
    if backend not in BACKENDS:
        msg = f"backend must be one of {BACKENDS}, got {backend!r}"
        raise ValueError(msg)
    if backend == "vllm":
        from analysis.perplexity import vllm as vllm_backend

        return vllm_backend.score_responses_vllm(
            model,
            tokenizer,
            prompts,
            responses,
            include_eos=include_eos,
            eos_token_id=eos_token_id,
            add_special_tokens=add_special_tokens,
            progress=progress,
        )
    if isinstance(model, (str, os.PathLike)):
        model, folder_tokenizer = hf.load_scorer(model)
        tokenizer = tokenizer if tokenizer is not None else folder_tokenizer
    pairs = encode_pairs(
        tokenizer,
        prompts,
        responses,
        include_eos=include_eos,
        eos_token_id=eos_token_id,
        add_special_tokens=add_special_tokens,
    )
    sums, counts = hf.score_pairs(
        model,
        pairs,
        batch_size=batch_size,
        max_tokens_per_batch=max_tokens_per_batch,
        padding_side=padding_side,
        pad_token_id=getattr(tokenizer, "pad_token_id", None),
        logits_chunk_tokens=logits_chunk_tokens,
        progress=progress,
    )
    return scores_frame(sums, counts)
