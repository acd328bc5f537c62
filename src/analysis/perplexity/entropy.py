"""Entropy of a model's next-token distribution at temperature T along given responses.

At each response position (teacher forced: the context is the prompt and the response tokens
before it) the model's distribution at temperature T is softmax(logits / T) and its entropy
H_t(T) = -sum_v p_v log p_v (nats). A response's entropy is the mean of H_t over its tokens; a
model's mean entropy over a set of responses is the mean over all their tokens (or, with
``weighting="response"``, the mean of the per-response means).

This is the paper's "output entropy" (PAPER.md section 4.5, not formally defined there) measured
on fixed responses. The paper's numbers come from each model's own samples at that temperature;
to reproduce that exactly, score a model's samples drawn at T (and iterate the matched
temperature if it moves far from where the samples were drawn).

Entropy of softmax(z / T) is non-decreasing in T for every logit vector z, hence so is any mean
of them: ``match_temperature`` finds the temperature at which a model's mean entropy equals a
target with a bracketing root finder (Brent's method). The transformer body runs once; each
temperature tried only re-applies the output head and softmax to cached final hidden states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
import torch
from scipy.optimize import brentq

from analysis.perplexity import hf
from analysis.perplexity.options import ScoringOptions, resolve
from analysis.perplexity.tokens import EncodedPair, encode_pairs

Weighting = Literal["token", "response"]


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not (t > 0 and np.isfinite(t)):
        msg = f"temperature must be a positive finite number, got {temperature!r}"
        raise ValueError(msg)
    return t


class ResponseEntropy:
    """Teacher-forced states of a model over responses, ready to give entropies at any temperature.

    Holds the final hidden states at every response position (N x hidden size, in the model's
    dtype, on its device; N x vocabulary logits for the few models whose head is applied with a
    transform, see ``hf``), so build it once and query many temperatures.

    ``include_eos`` and ``options`` are those of ``score_responses``; entropy needs the
    transformers backend (``options.backend == "hf"``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[str],
        responses: Sequence[str],
        *,
        include_eos: bool | Sequence[bool] = False,
        options: ScoringOptions | None = None,
        progress: bool = True,
    ) -> None:
        options = resolve(options, backend="hf")
        self.pairs: list[EncodedPair] = encode_pairs(
            tokenizer,
            prompts,
            responses,
            include_eos=include_eos,
            eos_token_id=options.eos_token_id,
            add_special_tokens=options.add_special_tokens,
        )
        if not self.pairs:
            msg = "no responses given: the mean entropy of nothing is undefined"
            raise ValueError(msg)
        self.chunk = hf.chunk_length(model, options.logits_chunk_tokens)
        self.states = list(
            hf.iter_response_states(
                model,
                self.pairs,
                options,
                pad_token_id=getattr(tokenizer, "pad_token_id", None),
                progress=progress,
                desc="entropy states",
            )
        )
        self.n_tokens = np.array([len(p.response_ids) for p in self.pairs], dtype=np.int64)

    def per_response(self, temperature: float = 1.0) -> np.ndarray:
        """Mean token entropy (nats) of each response at ``temperature``, in input order."""
        t = _check_temperature(temperature)
        sums = np.zeros(len(self.pairs), dtype=np.float64)
        with torch.inference_mode():
            for states in self.states:
                ent = torch.empty(states.targets.shape[0], dtype=torch.float32, device=states.targets.device)
                for part, logp in hf.iter_log_softmax(states, self.chunk, temperature=t):
                    p = logp.exp()  # -sum p log p, with 0 log 0 = 0 (a -inf logit would give 0 * -inf = nan)
                    ent[part] = -(p * torch.where(p > 0, logp, 0.0)).sum(-1)
                states.add_row_sums(ent, sums)
        return sums / self.n_tokens

    def mean(self, temperature: float = 1.0, weighting: Weighting = "token") -> float:
        """Mean token entropy over all responses: token-weighted, or the mean of response means."""
        per = self.per_response(temperature)
        if weighting == "token":
            return float(np.sum(per * self.n_tokens) / np.sum(self.n_tokens))
        if weighting == "response":
            return float(np.mean(per))
        msg = f"weighting must be 'token' or 'response', got {weighting!r}"
        raise ValueError(msg)


def response_entropy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    temperature: float = 1.0,
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """Per response (input order): ``entropy_mean`` (nats per token at ``temperature``) and ``n_tokens``.

    ``include_eos`` and ``options`` are those of ``score_responses`` (transformers backend only).
    """
    _check_temperature(temperature)
    ent = ResponseEntropy(
        model, tokenizer, prompts, responses, include_eos=include_eos, options=options, progress=progress
    )
    return pl.DataFrame(
        {"entropy_mean": ent.per_response(temperature), "n_tokens": ent.n_tokens},
        schema={"entropy_mean": pl.Float64, "n_tokens": pl.Int32},
    )


def mean_entropy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    temperature: float = 1.0,
    weighting: Weighting = "token",
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    progress: bool = True,
) -> float:
    """A model's mean token entropy (nats) at ``temperature`` over the given responses.

    ``include_eos`` and ``options`` are those of ``score_responses`` (transformers backend only).
    """
    _check_temperature(temperature)
    ent = ResponseEntropy(
        model, tokenizer, prompts, responses, include_eos=include_eos, options=options, progress=progress
    )
    return ent.mean(temperature, weighting)


@dataclass(frozen=True)
class TemperatureMatch:
    """The temperature at which a model's mean entropy equals ``target``."""

    temperature: float
    entropy: float  # the model's mean entropy at ``temperature``
    target: float
    evaluations: int  # entropy evaluations used (bracketing + root finding)


def match_temperature(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    target_entropy: float,
    *,
    bracket: tuple[float, float] = (0.1, 2.0),
    max_temperature: float = 100.0,
    min_temperature: float = 1e-3,
    xtol: float = 1e-4,
    weighting: Weighting = "token",
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    progress: bool = True,
) -> TemperatureMatch:
    """The temperature at which ``model``'s mean entropy over the responses equals ``target_entropy``.

    The paper's entropy-matched comparison: ``target_entropy`` is typically the base model's
    ``mean_entropy`` at T = 0.6 over its own responses, and ``model`` the RL model with its own
    responses. The bracket widens (x2 upward to ``max_temperature``, /2 downward to
    ``min_temperature``) until it contains the target; a target outside what the model reaches
    there is refused with both ends' entropies in the message. ``include_eos`` and ``options``
    are those of ``score_responses`` (transformers backend only).
    """
    target = float(target_entropy)
    if not (np.isfinite(target) and target > 0):
        msg = f"target_entropy must be a positive finite number of nats, got {target_entropy!r}"
        raise ValueError(msg)
    lo, hi = (_check_temperature(t) for t in bracket)
    if not lo < hi:
        msg = f"bracket must be (low, high) with low < high, got {bracket!r}"
        raise ValueError(msg)
    ent = ResponseEntropy(
        model, tokenizer, prompts, responses, include_eos=include_eos, options=options, progress=progress
    )
    seen: dict[float, float] = {}

    def f(t: float) -> float:
        if t not in seen:
            seen[t] = ent.mean(t, weighting)
        return seen[t] - target

    while f(hi) < 0:
        if hi >= max_temperature:
            msg = (
                f"target entropy {target:.4g} is above the model's mean entropy at T={hi:g} "
                f"({seen[hi]:.4g}); raise max_temperature or check the target"
            )
            raise ValueError(msg)
        lo, hi = hi, min(2 * hi, max_temperature)
    while f(lo) > 0:
        if lo <= min_temperature:
            msg = (
                f"target entropy {target:.4g} is below the model's mean entropy at T={lo:g} "
                f"({seen[lo]:.4g}); lower min_temperature or check the target"
            )
            raise ValueError(msg)
        lo, hi = max(lo / 2, min_temperature), lo
    if f(lo) == 0:
        t = lo
    elif f(hi) == 0:
        t = hi
    else:
        t = float(brentq(f, lo, hi, xtol=xtol))
    return TemperatureMatch(temperature=t, entropy=ent.mean(t, weighting), target=target, evaluations=len(seen))
