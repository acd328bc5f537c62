"""The records backends exchange with the runner (no heavy imports: torch-only scripts use them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

ProgressFn = Callable[[int, int], None]  # (samples finished, tokens generated) since the last call


@dataclass(frozen=True, slots=True)
class Request:
    """``n`` samples of one prompt under one seed."""

    prompt: str
    prompt_ids: list[int] | None
    n: int
    seed: int


ENDINGS = ("eos", "stop_string", "length")


@dataclass(frozen=True, slots=True)
class Completion:
    """One sample: text cut at the stop string (excluded), tokens generated, why it ended.

    ``ended_by`` refines ``finish_reason``: "eos" (an end-of-sequence or stop token id),
    "stop_string" (a stop string of the template, recorded in ``stop_string``) or "length";
    ``None`` where the backend does not say which. Neither takes part in equality, so a backend
    that does not set them still compares equal.
    """

    text: str
    n_tokens: int | None
    finish_reason: str  # "stop" (EOS, stop token or stop string) or "length" (max_tokens reached)
    ended_by: str | None = field(default=None, compare=False)
    stop_string: str | None = field(default=None, compare=False)


def ending(finish_reason: str, stop_reason: object) -> tuple[str, str | None]:
    """``(ended_by, stop_string)`` from vLLM's ``finish_reason`` and ``stop_reason``.

    vLLM (offline ``CompletionOutput`` and its server's ``choices[i].stop_reason``) reports
    ``stop_reason`` as the matched stop string (str), the stop token id (int), or ``None`` for
    the model's EOS.
    """
    if finish_reason == "length":
        return "length", None
    if isinstance(stop_reason, str):
        return "stop_string", stop_reason
    return "eos", None


@dataclass(frozen=True, slots=True)
class GenParams:
    """Per-call sampling parameters. ``max_model_len`` (a run's ``fit_to_context``): each request
    generates at most ``capped_max_tokens(its prompt tokens, max_tokens, max_model_len)``."""

    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    max_model_len: int | None = None


class ContextError(ValueError):
    """A prompt that leaves no room in ``max_model_len`` for a single generated token."""


def capped_max_tokens(prompt_tokens: int, max_tokens: int, max_model_len: int, what: str = "a prompt") -> int:
    """New tokens a request may generate: ``max_tokens``, or what ``max_model_len`` leaves after its prompt."""
    room = max_model_len - prompt_tokens
    if room < 1:
        msg = (
            f"{what} has {prompt_tokens} tokens, which leaves no room for a generated token in "
            f"max_model_len={max_model_len}; raise max_model_len (up to the model's positions) or shorten the prompt"
        )
        raise ContextError(msg)
    return min(max_tokens, room)


class Backend(Protocol):
    """What the runner needs from a backend."""

    name: str
    engine_key: dict[str, Any]

    def generate(
        self, requests: Sequence[Request], params: GenParams, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        """Completions of every request, in request order, ``request.n`` each."""
        ...

    def close(self) -> None:
        """Release the model / connections."""
        ...
