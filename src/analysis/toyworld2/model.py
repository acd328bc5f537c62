"""Toy world 2's model: the first toy world's tiny Llama and fast forward, with this family's
character alphabet. Checkpoints are ordinary ``save_pretrained`` folders."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from analysis.tinymodel import char_tokenizer, tiny_llama_config
from analysis.toyworld.config import ModelShape
from analysis.toyworld2.tasks import ALPHABET


def tokenizer():
    """``<pad> <s> </s> <unk>`` then :data:`analysis.toyworld2.tasks.ALPHABET`, one token a character."""
    return char_tokenizer(ALPHABET, model_max_length=64)


@dataclass(frozen=True)
class Vocab:
    pad: int
    eos: int
    lookup: torch.Tensor  # character code -> token id
    inverse: np.ndarray  # token id -> character code (0 for special tokens)

    def encode_batch(self, texts: list[str]) -> torch.Tensor:
        """Equal-length texts as token ids ``(n, len)``."""
        codes = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(len(texts), -1)
        return self.lookup[torch.from_numpy(codes.astype(np.int64))]

    def decode_batch(self, ids: torch.Tensor) -> list[str]:
        codes = self.inverse[ids.numpy()]
        return [row[row != 0].tobytes().decode("ascii") for row in codes]


_CACHE: dict[str, Vocab] = {}


def vocab() -> Vocab:
    if "v" not in _CACHE:
        tok = tokenizer()
        lookup = torch.full((256,), tok.unk_token_id, dtype=torch.long)
        inverse = np.zeros(len(tok), dtype=np.uint8)
        for ch in ALPHABET:
            i = tok.convert_tokens_to_ids(ch)
            lookup[ord(ch)] = i
            inverse[i] = ord(ch)
        _CACHE["v"] = Vocab(tok.pad_token_id, tok.eos_token_id, lookup, inverse)
    return _CACHE["v"]


def new_model(shape: ModelShape, seed: int):
    """A fresh ``LlamaForCausalLM`` of ``shape`` over this family's alphabet (deterministic in ``seed``)."""
    from transformers import LlamaForCausalLM

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
    return LlamaForCausalLM(config)


def save_model(model, folder: str | os.PathLike[str], info: dict | None = None) -> Path:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer().save_pretrained(out)
    if info is not None:
        (out / "toyworld2.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out
