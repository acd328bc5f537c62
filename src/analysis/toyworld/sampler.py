"""Batched sampling with a KV cache for the toy world's tiny models.

All prompts of a toy task have the same length, so a batch needs no padding: the prompt is
run once, then one token per step for every unfinished sequence. Finished sequences are
dropped from the cache once a quarter of the rows are done, so the compute follows the
sequences still running. Hugging Face ``generate`` gives the same distribution (the forward is
checked against it in the tests) but is slower at this size.
"""

from __future__ import annotations

import torch

from analysis.toyworld.model import KVCache, forward


def draw(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    """One token per row from ``logits`` ``(B, V)``: greedy at temperature 0, else softmax(logits/T)
    restricted to the smallest set of tokens whose probability reaches ``top_p``."""
    if temperature == 0:
        return logits.argmax(-1)
    scaled = logits.float() / temperature
    if top_p < 1.0:
        sorted_logits, order = scaled.sort(dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(-1) - probs > top_p  # the most likely token is always kept
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        scaled = torch.full_like(scaled, float("-inf")).scatter(-1, order, sorted_logits)
    probs = torch.softmax(scaled, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample(
    model,
    prompt_ids: torch.Tensor,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    generator: torch.Generator,
    eos_id: int,
    pad_id: int,
) -> torch.Tensor:
    """Continuations ``(B, max_new_tokens)`` of equal-length prompts ``(B, P)``.

    Each row holds the sampled tokens up to and including the first EOS, then ``pad_id``.
    """
    if prompt_ids.dim() != 2:
        msg = f"prompt_ids must be (batch, length), got shape {tuple(prompt_ids.shape)}"
        raise ValueError(msg)
    b, p = prompt_ids.shape
    out = torch.full((b, max_new_tokens), pad_id, dtype=torch.long)
    cache = KVCache(model, b, p + max_new_tokens)
    rows = torch.arange(b)  # original index of each cache row
    done = torch.zeros(b, dtype=torch.bool)
    logits = forward(model, prompt_ids, cache)[:, -1]
    for step in range(max_new_tokens):
        tok = draw(logits, temperature, top_p, generator)
        live = ~done
        out[rows[live], step] = tok[live]
        done = done | (tok == eos_id)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        if int(done.sum()) * 4 >= len(done):
            keep = torch.nonzero(~done).squeeze(-1)
            cache.keep(keep)
            rows, tok, done = rows[keep], tok[keep], done[keep]
        logits = forward(model, tok[:, None], cache)[:, -1]
    return out
