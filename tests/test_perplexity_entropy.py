"""Next-token entropy at a temperature along given responses, and the entropy-matched temperature."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from analysis.perplexity import (
    ResponseEntropy,
    ScoringOptions,
    encode_pairs,
    match_temperature,
    mean_entropy,
    response_entropy,
)
from analysis.tinymodel import char_tokenizer, tiny_llama_config

ALPHABET = "abcdefghij 0123456789+=\n"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_model(seed: int, initializer_range: float):
    from transformers import LlamaForCausalLM

    tokenizer = char_tokenizer()
    config = tiny_llama_config(len(tokenizer))
    config.initializer_range = initializer_range
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def peaked():
    """A random-init tiny model with peaked distributions (entropy well below log V at T = 1)."""
    return make_model(0, 0.2)


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(0)

    def text(n: int) -> str:
        return "".join(rng.choice(list(ALPHABET), n))

    return [text(n) for n in (3, 1, 30, 8)], [text(n) for n in (1, 90, 4, 20)]


def reference_entropy(model, tokenizer, prompt: str, response: str, temperature: float) -> float:
    """One unpadded sequence: float64 entropy of softmax(logits / T) at each response position."""
    pair = encode_pairs(tokenizer, [prompt], [response])[0]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([pair.ids])).logits[0].double() / temperature
    logp = torch.log_softmax(logits[len(pair.prompt_ids) - 1 : -1], -1)
    return float(-(logp.exp() * logp).sum(-1).mean())


@pytest.mark.parametrize("temperature", [0.3, 1.0, 1.7])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_response_entropy_matches_reference(peaked, texts, temperature, padding_side):
    model, tokenizer = peaked
    prompts, responses = texts
    got = response_entropy(
        model,
        tokenizer,
        prompts,
        responses,
        temperature=temperature,
        options=ScoringOptions(batch_size=3, padding_side=padding_side, logits_chunk_tokens=5),
        progress=False,
    )
    expected = [reference_entropy(model, tokenizer, p, r, temperature) for p, r in zip(prompts, responses, strict=True)]
    np.testing.assert_allclose(got["entropy_mean"].to_numpy(), expected, rtol=0, atol=1e-5)
    assert got["n_tokens"].to_list() == [len(r) for r in responses]


def test_mean_entropy_weighting_and_monotonicity(peaked, texts):
    model, tokenizer = peaked
    prompts, responses = texts
    ent = ResponseEntropy(model, tokenizer, prompts, responses, progress=False)
    per = ent.per_response(1.0)
    n = np.array([len(r) for r in responses])
    assert ent.mean(1.0) == pytest.approx(float((per * n).sum() / n.sum()), abs=1e-12)
    assert ent.mean(1.0, "response") == pytest.approx(float(per.mean()), abs=1e-12)
    assert mean_entropy(model, tokenizer, prompts, responses, progress=False) == pytest.approx(ent.mean(1.0), abs=1e-9)
    temps = [0.005, 0.05, 0.2, 0.5, 1.0, 2.0, 8.0, 100.0]
    values = [ent.mean(t) for t in temps]
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert values[0] < 0.05  # near-greedy: almost no entropy
    assert values[-1] == pytest.approx(math.log(model.config.vocab_size), abs=0.01)  # near-uniform
    with pytest.raises(ValueError, match="weighting must be 'token' or 'response', got 'sample'"):
        ent.mean(1.0, "sample")
    with pytest.raises(ValueError, match="temperature must be a positive finite number, got 0"):
        ent.per_response(0)
    with pytest.raises(ValueError, match="no responses given"):
        mean_entropy(model, tokenizer, [], [], progress=False)
    with pytest.raises(ValueError, match=r"the 'hf' backend, but options\.backend is 'vllm'"):
        mean_entropy(model, tokenizer, prompts, responses, options=ScoringOptions(backend="vllm"), progress=False)


def test_entropy_options_and_eos(peaked, texts):
    """Computation options change no entropy; ``include_eos`` adds the position that predicts EOS."""
    model, tokenizer = peaked
    prompts, responses = texts
    default = response_entropy(model, tokenizer, prompts, responses, temperature=0.8, progress=False)
    one_by_one = ScoringOptions(batch_size=1, max_tokens_per_batch=10, padding_side="left", logits_chunk_tokens=1)
    again = response_entropy(model, tokenizer, prompts, responses, temperature=0.8, options=one_by_one, progress=False)
    np.testing.assert_allclose(again["entropy_mean"].to_numpy(), default["entropy_mean"].to_numpy(), rtol=0, atol=5e-6)
    with_eos = response_entropy(model, tokenizer, prompts, responses, temperature=0.8, include_eos=True, progress=False)
    assert (with_eos["n_tokens"] - default["n_tokens"]).to_list() == [1] * len(prompts)
    # the extra position is the one after the full response: its entropy joins the mean
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        pair = encode_pairs(tokenizer, [p], [r])[0]
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([pair.ids])).logits[0, -1].double() / 0.8, -1)
        last = float(-(logp.exp() * logp).sum())
        n = default["n_tokens"][i]
        expected = (default["entropy_mean"][i] * n + last) / (n + 1)
        assert with_eos["entropy_mean"][i] == pytest.approx(expected, abs=1e-5)


def test_match_temperature_recovers_a_known_temperature(peaked, texts):
    model, tokenizer = peaked
    prompts, responses = texts
    target = mean_entropy(model, tokenizer, prompts, responses, temperature=1.37, progress=False)
    match = match_temperature(model, tokenizer, prompts, responses, target, xtol=1e-6, progress=False)
    assert match.temperature == pytest.approx(1.37, abs=1e-4)
    assert match.entropy == pytest.approx(target, abs=1e-5)
    assert match.target == target
    # the bracket widens when the target lies outside it
    far = mean_entropy(model, tokenizer, prompts, responses, temperature=9.0, progress=False)
    wide = match_temperature(model, tokenizer, prompts, responses, far, bracket=(0.5, 1.0), progress=False)
    assert wide.temperature == pytest.approx(9.0, rel=1e-3)
    low = mean_entropy(model, tokenizer, prompts, responses, temperature=0.04, progress=False)
    narrow = match_temperature(model, tokenizer, prompts, responses, low, bracket=(0.5, 1.0), progress=False)
    assert narrow.temperature == pytest.approx(0.04, rel=1e-2)


def test_entropy_matched_temperature_between_two_models(texts):
    """The paper's set-up: a sharper ("RL") model needs a higher T to reach the flatter ("base") model's entropy."""
    base = make_model(1, 0.1)
    sharp = make_model(2, 0.3)
    prompts, responses = texts
    target = mean_entropy(*base, prompts, responses, temperature=0.6, progress=False)
    sharp_at_06 = mean_entropy(*sharp, prompts, responses, temperature=0.6, progress=False)
    assert sharp_at_06 < target
    match = match_temperature(*sharp, prompts, responses, target, progress=False)
    assert match.temperature > 0.6
    assert match.entropy == pytest.approx(target, abs=1e-3)


def test_unreachable_targets_are_refused(peaked, texts):
    model, tokenizer = peaked
    prompts, responses = texts
    too_high = math.log(model.config.vocab_size) + 0.1
    with pytest.raises(ValueError, match=r"above the model's mean entropy at T=100"):
        match_temperature(model, tokenizer, prompts, responses, too_high, progress=False)
    tiny_target = mean_entropy(model, tokenizer, prompts, responses, temperature=1e-4, progress=False) / 2 + 1e-12
    with pytest.raises(ValueError, match=r"below the model's mean entropy at T=0.001"):
        match_temperature(model, tokenizer, prompts, responses, max(tiny_target, 1e-9), progress=False)
    with pytest.raises(ValueError, match="target_entropy must be a positive finite number"):
        match_temperature(model, tokenizer, prompts, responses, -1.0, progress=False)
    with pytest.raises(ValueError, match="low < high"):
        match_temperature(model, tokenizer, prompts, responses, 1.0, bracket=(2.0, 1.0), progress=False)
