"""``score_responses``: teacher-forced perplexity of responses given their exact prompts.

PPL_m(Y | x) = exp(-(1/T) sum_t log P_m(y_t | x, y_<t)) over the T response tokens only; the
prompt x is never scored. The tokenizer boundary and the EOS default are documented in
``analysis.perplexity.tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from analysis.perplexity import hf
from analysis.perplexity.frame import scores_frame
from analysis.perplexity.options import ScoringOptions, resolve
from analysis.perplexity.tokens import encode_pairs


def score_responses(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """Teacher-forced NLL and perplexity of each response under ``model``, in input order.

    Returns a frame with one row per response: ``nll_mean`` (mean negative log-likelihood per
    scored token, nats), ``ppl`` (exp of it) and ``n_tokens`` (scored tokens, EOS included when
    it is scored).

    ``options`` (default ``ScoringOptions()``) says how; see ``ScoringOptions`` for which of its
    fields change the scores (``eos_token_id``, ``add_special_tokens``, ``backend``) and which
    shape only the computation (``batch_size``, ``max_tokens_per_batch``, ``padding_side``,
    ``logits_chunk_tokens``).

    * ``options.backend == "hf"``: ``model`` is a transformers causal LM and ``tokenizer`` its
      tokenizer (or ``model`` is a folder or hub id, loaded with ``load_scorer``, and ``tokenizer``
      may be ``None``).
    * ``options.backend == "vllm"``: ``model`` is a ``vllm.LLM`` (or a model folder, loaded with
      ``analysis.perplexity.vllm.load_llm``); ``tokenizer`` may be ``None`` to use the engine's.
      Scores come from ``prompt_logprobs``; vLLM schedules its own batches, so the computation
      options are ignored.

    ``include_eos`` (default ``False``: score the response text only) is one flag for all or one
    per response; the appended token is ``options.eos_token_id`` (default: the tokenizer's). An
    empty response is refused.
    """
    options = resolve(options)
    if options.backend == "vllm":
        from analysis.perplexity import vllm as vllm_backend

        return vllm_backend.score_responses_vllm(
            model, tokenizer, prompts, responses, include_eos=include_eos, options=options, progress=progress
        )
    if isinstance(model, (str, os.PathLike)):
        model, folder_tokenizer = hf.load_scorer(model)
        tokenizer = tokenizer if tokenizer is not None else folder_tokenizer
    pairs = encode_pairs(
        tokenizer,
        prompts,
        responses,
        include_eos=include_eos,
        eos_token_id=options.eos_token_id,
        add_special_tokens=options.add_special_tokens,
    )
    sums, counts = hf.score_pairs(
        model, pairs, options, pad_token_id=getattr(tokenizer, "pad_token_id", None), progress=progress
    )
    return scores_frame(sums, counts)
