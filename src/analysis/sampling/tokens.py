"""Tokenizer loading and the token-level side of stopping."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.sampling.identity import ModelRef


def load_tokenizer(model: ModelRef, tokenizer: ModelRef | None = None) -> Any | None:
    """The tokenizer of a run (``tokenizer`` if given, else the model's); ``None`` for a served model."""
    ref = tokenizer or model
    if ref.kind == "served":
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ref.ref, revision=ref.revision)


def special_stop_ids(tokenizer: Any, stops: Iterable[str]) -> tuple[int, ...]:
    """Ids of the stop strings that are single special tokens of ``tokenizer``.

    Special tokens are left out of decoded text, so a stop string such as ``<|im_end|>`` can
    only stop generation as a token id. For Qwen2.5 models this gives the ids the official code
    hard-codes (151645, 151643).
    """
    if tokenizer is None:
        return ()
    special = set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab())
    ids = [tokenizer.convert_tokens_to_ids(s) for s in stops if s in special]
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, int) and i >= 0))


def eos_ids(tokenizer: Any, generation_config_eos: int | list[int] | None) -> tuple[int, ...]:
    """End-of-sequence ids: the tokenizer's plus the model's ``generation_config.json`` ones (as vLLM)."""
    ids: list[int] = []
    if tokenizer is not None and tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    if isinstance(generation_config_eos, int):
        ids.append(generation_config_eos)
    elif generation_config_eos:
        ids.extend(int(i) for i in generation_config_eos)
    return tuple(dict.fromkeys(ids))
