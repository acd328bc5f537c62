"""Teacher-forced passes with a transformers causal LM: the reference backend.

One forward pass per batch gives the final hidden state at every position that predicts a
response token; the output head and the log-softmax then run in chunks of those positions, in
float32, so a long response never materialises a (sequence x vocabulary) logits tensor and a
bf16 model still gets a float32 softmax. Prompt and padding positions never reach the head.

Batches are planned by ``tokens.plan_batches`` (sorted by length, bounded by rows and by padded
tokens). Padding may be on either side. Right padding (the default) needs no attention mask in a
causal LM, since no real token attends to a later position, so none is passed and attention
keeps its fast causal kernel; left padding passes the mask and position ids computed from it, so
a left-padded row sees the same positions as the unpadded sequence.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from analysis.perplexity.options import PaddingSide, ScoringOptions, resolve
from analysis.perplexity.tokens import EncodedPair, plan_batches

#: Budget for one chunk of float32 logits; the chunk length is this divided by 4 x vocabulary.
#: The head's output, its float32 log-softmax and temporaries take about three times this at peak.
LOGITS_CHUNK_BYTES = 256 * 2**20

# Config attributes of architectures whose logits are not just ``lm_head(last_hidden_state)``
# (Gemma 2 soft-capping, Cohere and Granite scaling); those models go through the full forward.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")
_SPLIT_CACHE: weakref.WeakKeyDictionary[torch.nn.Module, bool] = weakref.WeakKeyDictionary()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_scorer(
    model: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
) -> tuple[Any, Any]:
    """Load a transformers causal LM and its tokenizer for scoring (eval mode).

    Defaults: the GPU if there is one, in bfloat16 there and float32 on the CPU (the
    log-softmax is float32 either way).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(device) if device is not None else default_device()
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    net = AutoModelForCausalLM.from_pretrained(str(model), dtype=dtype).to(device).eval()
    return net, tokenizer


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter."""
    return next(model.parameters()).device


def _head_is_separable(model: Any) -> bool:
    """Whether ``logits == head(decoder(ids).last_hidden_state)`` for this model (checked once)."""
    cached = _SPLIT_CACHE.get(model)
    if cached is not None:
        return cached
    ok = True
    config = getattr(model, "config", None)
    for attr in _LOGIT_TRANSFORMS:
        value = getattr(config, attr, None)
        if value is not None and value != 1:
            ok = False
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if decoder is model or head is None:
        ok = False
    if ok:
        vocab = int(model.config.vocab_size)
        ids = (torch.arange(8, device=model_device(model)) % vocab).unsqueeze(0)
        was_training = model.training
        try:
            model.eval()
            with torch.inference_mode():
                full = model(input_ids=ids, use_cache=False).logits.float()
                split = head(decoder(input_ids=ids, use_cache=False).last_hidden_state).float()
        finally:
            model.train(was_training)
        ok = full.shape == split.shape and bool(torch.allclose(full, split, rtol=1e-4, atol=1e-5))
    _SPLIT_CACHE[model] = ok
    return ok


@dataclass
class ResponseStates:
    """Features at the positions that predict response tokens, for one batch.

    ``head(features)`` gives the logits (in the model's dtype); ``rows`` says which row of the
    batch each position belongs to, ``index[row]`` which pair (input order) that row is, and
    ``targets`` is the token each position predicts.
    """

    index: np.ndarray  # [B] int64: the batch's pair indices
    rows: torch.Tensor  # [N] int64 in range(B), on the model's device
    features: torch.Tensor  # [N, H] final hidden states, or [N, V] logits when the head is not separable
    targets: torch.Tensor  # [N] int64
    head: Callable[[torch.Tensor], torch.Tensor]

    def add_row_sums(self, values: torch.Tensor, into: np.ndarray) -> None:
        """Add the float64 per-row sums of per-position ``values`` to ``into[index]``."""
        total = torch.zeros(len(self.index), dtype=torch.float64, device=values.device)
        total.index_add_(0, self.rows, values.double())
        into[self.index] += total.cpu().numpy()


def _batch_inputs(
    batch: Sequence[EncodedPair], padding_side: PaddingSide, pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded input ids, mask and positions, and the (row, column, target) of each scored token.

    The input is ``ids[:-1]``: the last token is only ever a target.
    """
    inputs = [pair.ids[:-1] for pair in batch]
    width = max(len(x) for x in inputs)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    rows, cols, targets = [], [], []
    for r, (pair, x) in enumerate(zip(batch, inputs, strict=True)):
        offset = width - len(x) if padding_side == "left" else 0
        ids[r, offset : offset + len(x)] = x
        mask[r, offset : offset + len(x)] = 1
        first = offset + len(pair.prompt_ids) - 1  # the position that predicts the first response token
        cols.extend(range(first, first + len(pair.response_ids)))
        rows.extend([r] * len(pair.response_ids))
        targets.extend(pair.response_ids)
    positions = np.clip(mask.cumsum(axis=1) - 1, 0, None)

    def to(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)

    return to(ids), to(mask), to(positions), to(rows), to(cols), to(targets)


def iter_response_states(
    model: Any,
    pairs: Sequence[EncodedPair],
    options: ScoringOptions | None = None,
    *,
    pad_token_id: int | None = None,
    progress: bool = True,
    desc: str = "scoring",
) -> Iterator[ResponseStates]:
    """Run the model over ``pairs`` in planned batches; yield the states at response positions.

    Of ``options`` only the computation fields are read (``batch_size``, ``max_tokens_per_batch``,
    ``padding_side``); the pairs are already encoded.
    """
    options = resolve(options)
    padding_side = options.padding_side
    max_positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    for i, pair in enumerate(pairs):
        if max_positions is not None and len(pair) > max_positions:
            msg = (
                f"pair {i} has {len(pair)} tokens ({len(pair.prompt_ids)} prompt + {len(pair.response_ids)} response), "
                f"more than the model's max_position_embeddings={max_positions}"
            )
            raise ValueError(msg)
    device = model_device(model)
    separable = _head_is_separable(model)
    decoder = model.get_decoder() if separable else model
    head: Callable[[torch.Tensor], torch.Tensor] = model.get_output_embeddings() if separable else (lambda x: x)
    pad_id = pad_token_id if pad_token_id is not None else 0
    batches = plan_batches([len(p) for p in pairs], options.batch_size, options.max_tokens_per_batch)
    with tqdm(total=len(pairs), desc=desc, unit="resp", disable=not progress, leave=False) as bar:
        for batch_idx in batches:
            batch = [pairs[i] for i in batch_idx]
            ids, mask, positions, rows, cols, targets = _batch_inputs(batch, padding_side, pad_id, device)
            # inference mode and eval mode (no dropout) per batch: a generator must not leave them on
            # between yields, and the caller's training mode is restored
            was_training = model.training
            try:
                model.eval()
                with torch.inference_mode():
                    if padding_side == "right":
                        # Causal attention never looks right, so trailing padding cannot reach a real token and
                        # positions are 0, 1, ... already: no mask lets attention take its fast causal kernel.
                        out = decoder(input_ids=ids, use_cache=False)
                    else:
                        out = decoder(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
                    features = (out.last_hidden_state if separable else out.logits)[rows, cols]
                    del out
            finally:
                model.train(was_training)
            yield ResponseStates(np.asarray(batch_idx, dtype=np.int64), rows, features, targets, head)
            bar.update(len(batch_idx))


def chunk_length(model: Any, logits_chunk_tokens: int | None) -> int:
    """Positions per head/softmax chunk: the given value, or what fits ``LOGITS_CHUNK_BYTES``."""
    if logits_chunk_tokens is not None:
        if logits_chunk_tokens < 1:
            msg = f"logits_chunk_tokens must be at least 1, got {logits_chunk_tokens}"
            raise ValueError(msg)
        return logits_chunk_tokens
    vocab = int(model.config.vocab_size)
    return max(1, LOGITS_CHUNK_BYTES // (4 * vocab))


def iter_log_softmax(
    states: ResponseStates, chunk: int, temperature: float = 1.0
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Float32 log-softmax of ``logits / temperature`` over ``states``, ``chunk`` positions at a time."""
    n = states.features.shape[0]
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        logits = states.head(states.features[part]).float()
        if temperature != 1.0:
            logits = logits / temperature
        yield part, torch.log_softmax(logits, dim=-1)


def token_logprobs(states: ResponseStates, chunk: int) -> torch.Tensor:
    """Float32 log-probability of each target token (temperature 1: the model's own distribution)."""
    with torch.inference_mode():
        out = torch.empty(states.targets.shape[0], dtype=torch.float32, device=states.targets.device)
        for part, logp in iter_log_softmax(states, chunk):
            out[part] = logp.gather(-1, states.targets[part].unsqueeze(-1)).squeeze(-1)
    return out


def score_pairs(
    model: Any,
    pairs: Sequence[EncodedPair],
    options: ScoringOptions | None = None,
    *,
    pad_token_id: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of response-token log-probabilities and scored-token count per pair (input order)."""
    options = resolve(options)
    chunk = chunk_length(model, options.logits_chunk_tokens)
    sums = np.zeros(len(pairs), dtype=np.float64)
    for states in iter_response_states(model, pairs, options, pad_token_id=pad_token_id, progress=progress):
        states.add_row_sums(token_logprobs(states, chunk), sums)
    counts = np.array([len(p.response_ids) for p in pairs], dtype=np.int64)
    return sums, counts
