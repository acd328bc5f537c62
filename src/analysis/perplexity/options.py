"""``ScoringOptions``: how responses are encoded and scored, one value for every scoring function.

A module of its own, importing nothing from the package, so that ``score``, ``cross``,
``entropy``, ``hf`` and ``vllm`` can all take it without an import cycle.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

Backend = Literal["hf", "vllm"]
PaddingSide = Literal["left", "right"]
BACKENDS: tuple[str, ...] = ("hf", "vllm")
PADDING_SIDES: tuple[str, ...] = ("left", "right")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class ScoringOptions:
    """The scoring options shared by ``score_responses``, ``cross_perplexity`` and the entropy functions.

    Options that **change the result** (``RESULT_FIELDS``; the cache key of ``cross_perplexity``
    holds exactly these):

    * ``eos_token_id``: the token appended where ``include_eos`` is set (default ``None``: the
      tokenizer's ``eos_token_id``).
    * ``add_special_tokens``: whether the prompt string is encoded with the tokenizer's special
      tokens (e.g. a BOS); must match how the sampler encoded it (``analysis.perplexity.tokens``).
    * ``backend``: ``"hf"`` (transformers, the reference) or ``"vllm"`` (``prompt_logprobs``);
      the two agree to about 1e-4 nats, not bit for bit.

    Options that **shape only the computation** (``COMPUTE_FIELDS``; the transformers backend
    only, vLLM schedules its own batches), so two values differing only here give the same scores
    up to float rounding:

    * ``batch_size``: rows per forward pass.
    * ``max_tokens_per_batch``: padded tokens (rows x longest row) per forward pass; a longer
      single sequence runs alone.
    * ``padding_side``: ``"right"`` (no attention mask needed) or ``"left"``.
    * ``logits_chunk_tokens``: positions per float32 log-softmax chunk (default ``None``: what fits
      ``hf.LOGITS_CHUNK_BYTES``, 256 MiB).

    Per-row choices (``include_eos``), caching, model loading (``dtype``, ``device``,
    ``vllm_kwargs``) and ``progress`` are separate arguments of the functions. Derive a variant
    with ``dataclasses.replace(options, batch_size=1)``.
    """

    eos_token_id: int | None = None
    add_special_tokens: bool = True
    backend: Backend = "hf"
    batch_size: int = 16
    max_tokens_per_batch: int = 16384
    padding_side: PaddingSide = "right"
    logits_chunk_tokens: int | None = None

    RESULT_FIELDS: ClassVar[tuple[str, ...]] = ("eos_token_id", "add_special_tokens", "backend")
    COMPUTE_FIELDS: ClassVar[tuple[str, ...]] = (
        "batch_size",
        "max_tokens_per_batch",
        "padding_side",
        "logits_chunk_tokens",
    )

    def __post_init__(self) -> None:
        self._check()
        for name in ("eos_token_id", "batch_size", "max_tokens_per_batch", "logits_chunk_tokens"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, int(value))  # a numpy integer becomes a plain int

    def _check(self) -> None:
        if self.eos_token_id is not None and not (_is_int(self.eos_token_id) and self.eos_token_id >= 0):
            msg = f"eos_token_id must be None or a token id (an integer >= 0), got {self.eos_token_id!r}"
            raise ValueError(msg)
        if not isinstance(self.add_special_tokens, bool):
            msg = f"add_special_tokens must be True or False, got {self.add_special_tokens!r}"
            raise ValueError(msg)
        if self.backend not in BACKENDS:
            msg = f"backend must be one of {BACKENDS}, got {self.backend!r}"
            raise ValueError(msg)
        for name in ("batch_size", "max_tokens_per_batch"):
            value = getattr(self, name)
            if not (_is_int(value) and value >= 1):
                msg = f"{name} must be an integer of at least 1, got {value!r}"
                raise ValueError(msg)
        if self.padding_side not in PADDING_SIDES:
            msg = f"padding_side must be 'left' or 'right', got {self.padding_side!r}"
            raise ValueError(msg)
        chunk = self.logits_chunk_tokens
        if chunk is not None and not (_is_int(chunk) and chunk >= 1):
            msg = f"logits_chunk_tokens must be None or an integer of at least 1, got {chunk!r}"
            raise ValueError(msg)

    def result_settings(self) -> dict[str, Any]:
        """The options that change the scores (``RESULT_FIELDS``), by name."""
        return {name: getattr(self, name) for name in self.RESULT_FIELDS}


def resolve(options: ScoringOptions | None, *, backend: Backend | None = None) -> ScoringOptions:
    """``options`` or the defaults; with ``backend``, refuse options meant for the other backend.

    ``None`` gives ``ScoringOptions()`` (or ``ScoringOptions(backend=backend)``).
    """
    if options is None:
        return ScoringOptions() if backend is None else ScoringOptions(backend=backend)
    if not isinstance(options, ScoringOptions):
        msg = f"options must be a ScoringOptions (or None for the defaults), got {type(options).__name__}"
        raise TypeError(msg)
    if backend is not None and options.backend != backend:
        msg = f"this function is the {backend!r} backend, but options.backend is {options.backend!r}"
        raise ValueError(msg)
    return options
