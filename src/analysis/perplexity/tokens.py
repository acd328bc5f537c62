"""Turning (prompt, response) strings into the token ids that are scored, and planning batches.

The tokenizer boundary
----------------------
The prompt and the response are tokenised **separately** and their ids concatenated::

    prompt_ids   = tokenizer(prompt, add_special_tokens=add_special_tokens).input_ids
    response_ids = tokenizer(response, add_special_tokens=False).input_ids  (+ [eos] if included)

This is what a sampler did: it encoded the prompt string (vLLM's ``generate(prompt_str)`` encodes
with the tokenizer's special tokens, e.g. a BOS where the tokenizer adds one; pass
``add_special_tokens=False`` where the sampler was given already-templated ids without them) and
then generated the response tokens one by one after the last prompt token. Tokenising the
concatenated string instead would let a BPE merge straddle the boundary (a prompt ending in
``"="`` and a response starting with ``"="`` can encode to one ``"=="`` token), so the scored
tokens would not be the tokens the model produced and the first response token could swallow the
end of the prompt.

Two caveats, both documented rather than hidden:

* The samples table stores response *text*, not ids. Re-encoding the text gives the canonical
  tokenisation, which for byte-level BPE tokenizers (Qwen2.5, Llama 3, DeepSeek distills) is
  what a model emits in practice; a sampled non-canonical split (rare) is scored canonically.
* SentencePiece tokenizers that prepend a dummy prefix space (Llama 2 style) would add a space
  to a separately encoded response; the study's models do not use them.

The end-of-sequence token
-------------------------
``include_eos`` defaults to ``False``: only the response text is scored. The stored text never
contains the stop token, a response cut at the length limit never produced one, and chat models
stop on a template token (``<|im_end|>``) that is not always ``tokenizer.eos_token``. Pass
``include_eos=True`` (or one flag per response, e.g. ``finish_reason == "stop"``) to append
``eos_token_id`` (default ``tokenizer.eos_token_id``) and count it as a scored token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EncodedPair:
    """The token ids of one (prompt, response) pair; only ``response_ids`` are scored."""

    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return self.prompt_ids + self.response_ids

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


def eos_flags(include_eos: bool | Sequence[bool], n: int) -> list[bool]:
    """One EOS flag per response: a single bool broadcast, or a sequence of ``n`` bools."""
    if isinstance(include_eos, bool):
        return [include_eos] * n
    flags = list(include_eos)
    if len(flags) != n:
        msg = f"include_eos has {len(flags)} flags for {n} responses"
        raise ValueError(msg)
    for i, flag in enumerate(flags):
        if not isinstance(flag, bool):
            msg = f"include_eos[{i}] is {flag!r}, expected a bool"
            raise TypeError(msg)
    return flags


def encode_pairs(
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    include_eos: bool | Sequence[bool] = False,
    eos_token_id: int | None = None,
    add_special_tokens: bool = True,
) -> list[EncodedPair]:
    """Tokenise each pair as a sampler would have (see the module docstring).

    Raises ``ValueError`` for mismatched lengths, an empty response (its perplexity is
    undefined), or a prompt that encodes to no tokens (nothing to condition the first response
    token on).
    """
    if isinstance(prompts, str) or isinstance(responses, str):
        msg = "prompts and responses must be sequences of strings, not a single string"
        raise TypeError(msg)
    prompts, responses = list(prompts), list(responses)
    if len(prompts) != len(responses):
        msg = f"{len(prompts)} prompts but {len(responses)} responses"
        raise ValueError(msg)
    for name, values in (("prompts", prompts), ("responses", responses)):
        for i, value in enumerate(values):
            if not isinstance(value, str):
                msg = f"{name}[{i}] is {type(value).__name__} {value!r}, expected str"
                raise TypeError(msg)
    for i, response in enumerate(responses):
        if response == "":
            msg = (
                f"response {i} is empty: its perplexity is undefined (no tokens to score); "
                f"drop it before scoring (prompt {prompts[i][:60]!r})"
            )
            raise ValueError(msg)
    flags = eos_flags(include_eos, len(responses))
    if any(flags):
        if eos_token_id is None:
            eos_token_id = getattr(tokenizer, "eos_token_id", None)
        if eos_token_id is None:
            msg = "include_eos is set but the tokenizer has no eos_token_id; pass eos_token_id explicitly"
            raise ValueError(msg)
    if not prompts:
        return []
    prompt_ids = tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"]
    response_ids = tokenizer(responses, add_special_tokens=False)["input_ids"]
    pairs = []
    for i, (p_ids, r_ids, flag) in enumerate(zip(prompt_ids, response_ids, flags, strict=True)):
        if not p_ids:
            msg = f"prompt {i} ({prompts[i]!r}) encodes to no tokens: the first response token has no context"
            raise ValueError(msg)
        if not r_ids:
            msg = f"response {i} ({responses[i]!r}) encodes to no tokens: its perplexity is undefined"
            raise ValueError(msg)
        r = tuple(int(t) for t in r_ids) + ((int(eos_token_id),) if flag else ())
        pairs.append(EncodedPair(tuple(int(t) for t in p_ids), r))
    return pairs


def plan_batches(lengths: Sequence[int], batch_size: int, max_tokens_per_batch: int) -> list[list[int]]:
    """Group indices into batches, longest first, bounded by rows and by padded tokens.

    Sorting by length keeps padding small; the padded size of a batch (rows x longest row) stays
    at most ``max_tokens_per_batch`` unless a single sequence is longer, which then runs alone.
    Longest first, so that a batch that does not fit in memory fails at the start of a run.
    """
    if batch_size < 1:
        msg = f"batch_size must be at least 1, got {batch_size}"
        raise ValueError(msg)
    if max_tokens_per_batch < 1:
        msg = f"max_tokens_per_batch must be at least 1, got {max_tokens_per_batch}"
        raise ValueError(msg)
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and (len(current) == batch_size or (len(current) + 1) * longest > max_tokens_per_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
