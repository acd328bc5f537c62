"""The records backends exchange with the runner (no heavy imports: torch-only scripts use them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ProgressFn = Callable[[int, int], None]  # (samples finished, tokens generated) since the last call


@dataclass(frozen=True, slots=True)
class Request:
    """``n`` samples of one prompt under one seed."""

    prompt: str
    prompt_ids: list[int] | None
    n: int
    seed: int


@dataclass(frozen=True, slots=True)
class Completion:
    """One sample: text cut at the stop string (excluded), tokens generated, why it ended."""

    text: str
    n_tokens: int | None
    finish_reason: str  # "stop" (EOS, stop token or stop string) or "length" (max_tokens reached)


@dataclass(frozen=True, slots=True)
class GenParams:
    """Per-call sampling parameters."""

    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()


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
