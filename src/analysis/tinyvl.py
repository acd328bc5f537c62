"""Tiny random vision-language models of the Qwen2-VL family, built locally (no hub).

For tests and smoke runs of the visual pipeline: a byte-level Qwen2 tokenizer (256 byte tokens
plus the family's special tokens, no merges), a Qwen2-VL or Qwen2.5-VL model of a few hundred
thousand parameters with random weights, and the image processor in the folder
(``save_pretrained``: loadable by transformers and, where torchvision is installed, by vLLM).
The image processor is configured for small images (at most ``max_pixels``), so an image becomes
a handful of tokens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
PATCH = 14
MERGE = 2


def byte_level_tokenizer() -> Any:
    """A ``Qwen2Tokenizer`` over the 256 byte symbols and the Qwen2-VL special tokens (ids 256...)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    vocab = {symbol: i for i, symbol in enumerate(bytes_to_unicode().values())}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )


def build_tiny_vl(
    folder: str | os.PathLike[str],
    seed: int = 0,
    *,
    kind: str = "qwen2_vl",
    hidden_size: int = 64,
    num_layers: int = 2,
    max_positions: int = 4096,
    initializer_range: float = 0.2,
    max_pixels: int = 28 * 28 * 16,
) -> Path:
    """Save a random tiny ``kind`` (``qwen2_vl`` or ``qwen2_5_vl``) model, tokenizer and image processor."""
    import torch
    from transformers import GenerationConfig
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = byte_level_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    heads = 2
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": 1,
        "max_position_embeddings": max_positions,
        "rope_scaling": {"type": "mrope", "mrope_section": _mrope_section(hidden_size // heads)},
        "initializer_range": initializer_range,
        "tie_word_embeddings": True,
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "bos_token_id": None,
    }
    tokens = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    vision_common = {"patch_size": PATCH, "spatial_merge_size": MERGE, "temporal_patch_size": 2, "in_channels": 3}
    if kind == "qwen2_vl":
        from transformers import Qwen2VLConfig as Config
        from transformers import Qwen2VLForConditionalGeneration as Model

        vision = {"depth": 1, "embed_dim": 32, "hidden_size": hidden_size, "num_heads": 2, "mlp_ratio": 2}
    elif kind == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model

        vision = {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden_size,
            "fullatt_block_indexes": [1],
            "window_size": 56,
        }
    else:
        msg = f"kind {kind!r}: expected 'qwen2_vl' or 'qwen2_5_vl'"
        raise ValueError(msg)
    config = Config(text_config=text, vision_config=vision | vision_common, tie_word_embeddings=True, **tokens)
    torch.manual_seed(seed)
    model = Model(config)
    model.generation_config = GenerationConfig(eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    processor = Qwen2VLImageProcessorPil(
        min_pixels=(PATCH * MERGE) ** 2, max_pixels=max_pixels, patch_size=PATCH, merge_size=MERGE
    )
    processor.save_pretrained(out)
    return out


def _mrope_section(head_dim: int) -> list[int]:
    """Rotary dimensions per (time, height, width) axis: half the head, split 1:1.5:1.5 as Qwen2-VL does."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]
