"""Tiny Hugging Face models built locally: a character tokenizer and a small causal LM.

Used by the toy world, by tests (no model hub is reachable here), and by anyone who wants to
smoke-test the pipeline on a laptop. The results are ordinary Hugging Face folders
(``save_pretrained``, Llama architecture), loadable by transformers and by vLLM.
"""

from __future__ import annotations

import os
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
DEFAULT_ALPHABET = "".join(chr(c) for c in range(32, 127)) + "\n"


def char_tokenizer(alphabet: str = DEFAULT_ALPHABET, model_max_length: int = 4096):
    """A character-level ``PreTrainedTokenizerFast``: one token per character of ``alphabet``.

    Ids 0-3 are ``<pad>``, ``<s>``, ``</s>``, ``<unk>``; characters follow in alphabet order.
    Characters outside the alphabet map to ``<unk>``. No BOS is added automatically.
    """
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = list(dict.fromkeys(alphabet))
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in chars:
        if ch in vocab:
            msg = f"alphabet character {ch!r} collides with a special token"
            raise ValueError(msg)
        vocab[ch] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


def tiny_llama_config(
    vocab_size: int,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    num_kv_heads: int = 1,
    intermediate_size: int = 128,
    max_positions: int = 1024,
    pad_token_id: int = 0,
    bos_token_id: int = 1,
    eos_token_id: int = 2,
):
    """A ``LlamaConfig`` of the given (small) shape with tied embeddings.

    Llama rather than Qwen2: transformers 5 forces its own byte-level ``Qwen2Tokenizer`` onto any
    ``qwen2`` checkpoint, which would break a character tokenizer; for ``llama`` it keeps the
    tokenizer saved in the folder (and so does vLLM, which loads tokenizers the same way).
    """
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        dtype="float32",
        head_dim=hidden_size // num_heads,
    )


def build_tiny_model(
    folder: str | os.PathLike[str],
    seed: int = 0,
    alphabet: str = DEFAULT_ALPHABET,
    **shape: int,
) -> Path:
    """Save a randomly initialised tiny Llama causal LM and its character tokenizer to ``folder``."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    tokenizer = char_tokenizer(alphabet)
    config = tiny_llama_config(
        len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **shape,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
