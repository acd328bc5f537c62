"""The toy world's model: a tiny Hugging Face Llama with the project's character tokenizer.

Checkpoints are ordinary ``save_pretrained`` folders (``LlamaForCausalLM`` + a character
``PreTrainedTokenizerFast``), so ``AutoModelForCausalLM``/``AutoTokenizer``, the project's
sampling, grading and perplexity code, and vLLM load them unchanged.

Training and sampling do not go through the Hugging Face forward, whose per-call overhead
dominates at this size: :func:`forward` runs the same computation on the model's own
parameters (RMSNorm, rotary attention, SwiGLU, tied embeddings), with a preallocated KV cache
for sampling. ``tests/test_toyworld_model.py`` checks that its logits equal the HF model's.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from analysis.tinymodel import char_tokenizer, tiny_llama_config
from analysis.toyworld.config import ModelShape
from analysis.toyworld.tasks import ALPHABET


def tokenizer():
    """The toy world's character tokenizer: ``<pad> <s> </s> <unk>`` then :data:`ALPHABET`."""
    return char_tokenizer(ALPHABET, model_max_length=128)


@dataclass(frozen=True)
class Vocab:
    """Token ids of the toy alphabet, for building batches without calling the tokenizer."""

    pad: int
    eos: int
    lookup: torch.Tensor  # character code (0-255) -> token id

    @classmethod
    def build(cls) -> Vocab:
        tok = tokenizer()
        lookup = torch.full((256,), tok.unk_token_id, dtype=torch.long)
        for ch in ALPHABET:
            lookup[ord(ch)] = tok.convert_tokens_to_ids(ch)
        return cls(pad=tok.pad_token_id, eos=tok.eos_token_id, lookup=lookup)

    def encode(self, text: str) -> list[int]:
        return self.lookup[torch.tensor(list(text.encode("ascii")), dtype=torch.long)].tolist()

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``: special tokens are dropped (like ``skip_special_tokens=True``)."""
        return self.decode_batch(torch.tensor([ids], dtype=torch.long))[0]

    def decode_batch(self, ids: torch.Tensor) -> list[str]:
        """The text of every row of ``ids`` ``(B, T)``, special tokens dropped."""
        inverse = np.zeros(int(self.lookup.max()) + 1, dtype=np.uint8)
        for ch in ALPHABET:
            inverse[int(self.lookup[ord(ch)])] = ord(ch)
        codes = inverse[ids.numpy()]
        return [row[row != 0].tobytes().decode("ascii") for row in codes]


VOCAB_CACHE: dict[str, Vocab] = {}


def vocab() -> Vocab:
    if "v" not in VOCAB_CACHE:
        VOCAB_CACHE["v"] = Vocab.build()
    return VOCAB_CACHE["v"]


def new_model(shape: ModelShape, seed: int):
    """A freshly initialised ``LlamaForCausalLM`` of ``shape`` (deterministic in ``seed``)."""
    from transformers import GenerationConfig, LlamaForCausalLM

    tok = tokenizer()
    config = tiny_llama_config(
        len(tok),
        hidden_size=shape.hidden_size,
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        num_kv_heads=shape.num_kv_heads,
        intermediate_size=shape.intermediate_size,
        max_positions=shape.max_positions,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id
    )
    return model


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without transformers' per-checkpoint progress bars (dozens per run here)."""
    from transformers.utils import logging

    was = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            logging.enable_progress_bar()


def load_model(folder: str | os.PathLike[str]):
    """Load a toy-world checkpoint for training or sampling (float32, eval mode)."""
    from transformers import LlamaForCausalLM

    if not (Path(folder) / "config.json").is_file():
        msg = f"no toy-world checkpoint in {folder} (config.json missing)"
        raise FileNotFoundError(msg)
    with _quiet():
        model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return model


def save_model(model, folder: str | os.PathLike[str], info: dict | None = None) -> Path:
    """``save_pretrained`` the model and the tokenizer (plus ``toyworld.json`` with ``info``)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with _quiet():
        model.save_pretrained(out)
    tokenizer().save_pretrained(out)
    if info is not None:
        (out / "toyworld.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


class KVCache:
    """Preallocated keys and values for ``batch`` sequences of up to ``length`` positions."""

    def __init__(self, model, batch: int, length: int) -> None:
        cfg = model.config
        hd = cfg.hidden_size // cfg.num_attention_heads
        shape = (cfg.num_hidden_layers, batch, cfg.num_key_value_heads, length, hd)
        self.k = torch.empty(shape)
        self.v = torch.empty(shape)
        self.pos = 0

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in ``rows`` (sequences that have finished)."""
        self.k = self.k[:, rows].contiguous()
        self.v = self.v[:, rows].contiguous()


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def _rope(model, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rot = model.model.rotary_emb
    freqs = positions[:, None].float() * rot.inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * rot.attention_scaling, emb.sin() * rot.attention_scaling


def forward(model, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
    """Logits ``(B, T, vocab)`` of a Llama model for token ids ``(B, T)`` (causal).

    Without ``cache`` the sequences start at position 0. With ``cache``, ``ids`` continue the
    cached positions (a prompt at position 0, then one token at a time) and the cache grows.
    """
    cfg = model.config
    b, t = ids.shape
    nh, nkv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = cfg.hidden_size // nh
    eps = cfg.rms_norm_eps
    start = cache.pos if cache is not None else 0
    if start > 0 and t > 1:
        msg = "forward with a cache takes the prompt first, then one token at a time"
        raise ValueError(msg)
    cos, sin = _rope(model, torch.arange(start, start + t))
    x = model.model.embed_tokens.weight[ids]
    for li, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        h = _rms(x, layer.input_layernorm.weight, eps)
        q = F.linear(h, attn.q_proj.weight).view(b, t, nh, hd).transpose(1, 2)
        k = F.linear(h, attn.k_proj.weight).view(b, t, nkv, hd).transpose(1, 2)
        v = F.linear(h, attn.v_proj.weight).view(b, t, nkv, hd).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        if cache is not None:
            cache.k[li, :, :, start : start + t] = k
            cache.v[li, :, :, start : start + t] = v
            k = cache.k[li, :, :, : start + t]
            v = cache.v[li, :, :, : start + t]
        if nkv != nh:
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=start == 0 and t > 1)
        x = x + F.linear(o.transpose(1, 2).reshape(b, t, nh * hd), attn.o_proj.weight)
        h = _rms(x, layer.post_attention_layernorm.weight, eps)
        mlp = layer.mlp
        x = x + F.linear(
            F.silu(F.linear(h, mlp.gate_proj.weight)) * F.linear(h, mlp.up_proj.weight), mlp.down_proj.weight
        )
    if cache is not None:
        cache.pos = start + t
    x = _rms(x, model.model.norm.weight, eps)
    return F.linear(x, model.lm_head.weight)


def token_logprobs(model, ids: torch.Tensor) -> torch.Tensor:
    """``(B, T-1)`` log-probabilities of ``ids[:, 1:]`` given their prefixes."""
    logits = forward(model, ids)[:, :-1]
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
