"""The vLLM backend's per-request context limit and its multimodal prompts, without vLLM: a stand-in
engine records what the backend asks of it (tests/test_sampling_vllm.py runs the real engine)."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from visual_fixture import write_benchmarks

from analysis import images
from analysis.sampling.backends import GenParams, Request
from analysis.sampling.backends.vllm import ContextError, VLLMBackend, capped_max_tokens
from analysis.sampling.identity import ModelRef
from analysis.tinyvl import build_tiny_vl
from analysis.visual import load_visual


@dataclass
class FakeParams:  # vllm.SamplingParams, as the backend builds it
    n: int
    temperature: float
    top_p: float
    max_tokens: int
    stop: list[str] | None
    stop_token_ids: list[int] | None
    seed: int
    skip_special_tokens: bool


@dataclass
class FakeLLM:
    """Answers every sample with ``max_tokens`` tokens and finish reason ``length``."""

    tokenizer: Any = None
    model_type: str = "llama"
    max_model_len: int = 64
    mm_prompt_len: int = 0  # the length the engine reports for a prompt with images
    calls: list[tuple[list[Any], list[FakeParams]]] = field(default_factory=list)

    @property
    def llm_engine(self) -> Any:
        hf_config = SimpleNamespace(model_type=self.model_type)
        return SimpleNamespace(model_config=SimpleNamespace(max_model_len=self.max_model_len, hf_config=hf_config))

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[Any], params: list[FakeParams], use_tqdm: bool = False) -> list[Any]:
        self.calls.append((prompts, params))
        outputs = []
        for prompt, p in zip(prompts, params, strict=True):
            n_prompt = len(prompt["prompt_token_ids"]) if "prompt_token_ids" in prompt else self.mm_prompt_len
            samples = [
                SimpleNamespace(index=j, text="x" * p.max_tokens, token_ids=[7] * p.max_tokens, finish_reason="length")
                for j in range(p.n)
            ]
            outputs.append(SimpleNamespace(outputs=samples, prompt_token_ids=[0] * n_prompt))
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(SamplingParams=FakeParams))


def test_capped_max_tokens_arithmetic():
    assert capped_max_tokens(10, 20, 64) == 20  # fits: max_tokens as asked
    assert capped_max_tokens(44, 20, 64) == 20  # exactly fits
    assert capped_max_tokens(45, 20, 64) == 19
    assert capped_max_tokens(30, 16384, 4096) == 4066  # the paper's 4,096-position models
    assert capped_max_tokens(63, 5, 64) == 1
    for too_long in (64, 80):
        with pytest.raises(ContextError, match=rf"has {too_long} tokens, which leaves no room .* max_model_len=64"):
            capped_max_tokens(too_long, 5, 64)


def test_requests_that_overflow_the_context_generate_what_is_left(fake_vllm, caplog):
    llm = FakeLLM()
    backend = VLLMBackend(llm, {})
    assert backend.max_model_len == 64  # read from the engine
    requests = [Request("", [1] * 10, 3, seed=1), Request("", [1] * 50, 2, seed=2), Request("", [1] * 44, 1, seed=3)]
    with caplog.at_level(logging.INFO, logger="analysis.sampling.backends.vllm"):
        out = backend.generate(requests, GenParams(temperature=0.8, top_p=0.95, max_tokens=20))
    assert [p.max_tokens for p in llm.calls[0][1]] == [20, 14, 20]
    assert [[c.n_tokens for c in cs] for cs in out] == [[20] * 3, [14] * 2, [20]]
    assert all(c.finish_reason == "length" and c.ended_by == "length" for cs in out for c in cs)
    assert (backend.capped_requests, backend.capped_samples) == (1, 2)
    assert "max_tokens=20 capped to fit max_model_len=64 for 1 of 3 requests (as low as 14 new tokens)" in caplog.text
    # greedy requests are split into n = 1 requests, each keeping its request's limit
    backend.generate(requests[:2], GenParams(temperature=0.0, top_p=1.0, max_tokens=20))
    assert [(p.n, p.max_tokens, p.seed) for p in llm.calls[1][1]] == [(1, 20, 1)] * 3 + [(1, 14, 2)] * 2
    assert (backend.capped_requests, backend.capped_samples) == (2, 4)


def test_a_prompt_with_no_room_fails_before_the_engine_runs(fake_vllm):
    llm = FakeLLM()
    backend = VLLMBackend(llm, {}, max_model_len=64)
    with pytest.raises(ContextError, match="the prompt of request seed 9 has 64 tokens"):
        backend.generate([Request("", [1] * 10, 1, seed=1), Request("", [1] * 64, 1, seed=9)], GenParams(0.6, 1, 8))
    assert llm.calls == []


def test_multimodal_prompts_and_their_length(fake_vllm, tmp_path, monkeypatch, caplog):
    from transformers import AutoTokenizer

    from analysis.sampling.backends.hf import _Vision

    monkeypatch.setenv(images.IMAGE_DIR_ENV, str(tmp_path / "images"))
    model = build_tiny_vl(tmp_path / "vl")
    problems = load_visual("mathvision_testmini", write_benchmarks(tmp_path / "bench", mathvista=0, mathvision=2))
    tokenizer = AutoTokenizer.from_pretrained(model)
    llm = FakeLLM(tokenizer=tokenizer, model_type="qwen2_vl", max_model_len=200)
    backend = VLLMBackend(llm, {}, model_ref=ModelRef("local", str(model)))
    prompt = f"<|im_start|>user\n{problems['question'][0]}<|im_end|>\n<|im_start|>assistant\n"
    ids, _, _ = _Vision(_processor(model), "qwen2_vl").encode(tokenizer, prompt)  # as the hf backend counts
    llm.mm_prompt_len = len(ids)
    text_ids = tokenizer("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    requests = [Request(prompt, [5, 5, 5], 2, seed=4), Request("", text_ids, 1, seed=5)]
    with caplog.at_level(logging.WARNING, logger="analysis.sampling.backends.vllm"):
        backend.generate(requests, GenParams(temperature=1.0, top_p=1.0, max_tokens=150))
    assert "the engine saw" not in caplog.text
    prompts, params = llm.calls[0]
    image = images.load_image(images.find_images(prompt)[0])
    assert prompts[0]["prompt"] == images.replace_markers(prompt, images.PLACEHOLDERS["qwen2_vl"])[0]
    assert prompts[0]["multi_modal_data"]["image"].tobytes() == image.tobytes()
    assert "prompt_token_ids" not in prompts[0]  # the run's ids of the marker text are not used
    assert prompts[1] == {"prompt_token_ids": text_ids}
    # the image counts as the tokens the image processor makes of it, as in the hf backend
    assert [p.max_tokens for p in params] == [min(150, 200 - len(ids)), min(150, 200 - len(text_ids))]
    assert len(ids) > len(tokenizer(images.replace_markers(prompt, images.PLACEHOLDERS["qwen2_vl"])[0])["input_ids"])
    # an engine that counts the image otherwise is reported
    llm.mm_prompt_len += 3
    with caplog.at_level(logging.WARNING, logger="analysis.sampling.backends.vllm"):
        backend.generate(requests[:1], GenParams(temperature=1.0, top_p=1.0, max_tokens=150))
    assert f"the engine saw {len(ids) + 3} prompt tokens where {len(ids)} were counted (request seed 4)" in caplog.text
    # a text-only engine refuses images
    text_llm = FakeLLM(tokenizer=tokenizer, model_type="llama")
    with pytest.raises(images.ImageError, match="model type 'llama' is not a vision-language family"):
        VLLMBackend(text_llm, {}).generate(requests[:1], GenParams(1.0, 1.0, 8))


def _processor(model: Path) -> Any:
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(model)
