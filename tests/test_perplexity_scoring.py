"""Teacher-forced scoring (transformers backend) against a brute-force reference, and its contract."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import polars as pl
import pytest
import torch

from analysis.perplexity import ScoringOptions, encode_pairs, score_responses
from analysis.perplexity.tokens import plan_batches
from analysis.tinymodel import build_tiny_model, char_tokenizer, tiny_llama_config

ALPHABET = "abcdefghij 0123456789+=\n"
# Very short and long responses (and prompts) mixed in one batch.
PROMPT_LENGTHS = [1, 5, 40, 3, 200, 2, 17]
RESPONSE_LENGTHS = [1, 300, 2, 50, 7, 1, 120]
EOS_FLAGS = [False, True, True, False, False, True, False]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(0)

    def text(n: int) -> str:
        return "".join(rng.choice(list(ALPHABET), n))

    return [text(n) for n in PROMPT_LENGTHS], [text(n) for n in RESPONSE_LENGTHS]


def brute_force_nll(model, tokenizer, prompt: str, response: str, include_eos: bool) -> float:
    """One sequence, one forward pass per response token, reading the last position's logits."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    if include_eos:
        response_ids = [*response_ids, tokenizer.eos_token_id]
    ids = prompt_ids + response_ids
    total = 0.0
    with torch.inference_mode():
        for t in range(len(prompt_ids), len(ids)):
            logits = model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            total += torch.log_softmax(logits.double(), dim=-1)[ids[t]].item()
    return -total / len(response_ids)


@pytest.fixture(scope="module")
def reference(tiny, texts):
    model, tokenizer = tiny
    prompts, responses = texts
    return np.array(
        [brute_force_nll(model, tokenizer, p, r, f) for p, r, f in zip(prompts, responses, EOS_FLAGS, strict=True)]
    )


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize(
    ("batch_size", "max_tokens_per_batch", "logits_chunk_tokens"),
    [(1, 100_000, None), (3, 100_000, 7), (16, 100_000, 1), (16, 500, None)],
)
def test_matches_brute_force(
    tiny, texts, reference, padding_side, batch_size, max_tokens_per_batch, logits_chunk_tokens
):
    model, tokenizer = tiny
    prompts, responses = texts
    got = score_responses(
        model,
        tokenizer,
        prompts,
        responses,
        include_eos=EOS_FLAGS,
        options=ScoringOptions(
            batch_size=batch_size,
            max_tokens_per_batch=max_tokens_per_batch,
            padding_side=padding_side,
            logits_chunk_tokens=logits_chunk_tokens,
        ),
        progress=False,
    )
    assert got.columns == ["nll_mean", "ppl", "n_tokens"]
    assert got.schema == pl.Schema({"nll_mean": pl.Float64, "ppl": pl.Float64, "n_tokens": pl.Int32})
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), reference, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got["ppl"].to_numpy(), np.exp(reference), rtol=1e-5)
    expected_tokens = [n + f for n, f in zip(RESPONSE_LENGTHS, EOS_FLAGS, strict=True)]
    assert got["n_tokens"].to_list() == expected_tokens


def test_bf16_model_gets_float32_log_softmax(tiny, texts):
    model, tokenizer = tiny
    prompts, responses = texts
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    one_by_one = ScoringOptions(batch_size=1)
    got = score_responses(bf16, tokenizer, prompts, responses, options=one_by_one, progress=False)[
        "nll_mean"
    ].to_numpy()
    f32_softmax, bf16_softmax = [], []
    for p, r in zip(prompts, responses, strict=True):
        pair = encode_pairs(tokenizer, [p], [r])[0]
        ids = torch.tensor([pair.ids])
        with torch.inference_mode():
            logits = bf16(input_ids=ids).logits[0, len(pair.prompt_ids) - 1 : -1]
        targets = ids[0, len(pair.prompt_ids) :, None]
        f32_softmax.append(-torch.log_softmax(logits.float(), -1).gather(-1, targets).double().mean().item())
        bf16_softmax.append(-torch.log_softmax(logits, -1).gather(-1, targets).double().mean().item())
    np.testing.assert_allclose(got, f32_softmax, rtol=0, atol=1e-6)
    # the check above can tell the two apart: a bf16 softmax is off by far more
    assert np.abs(np.array(bf16_softmax) - got).max() > 1e-3


def test_eos_inclusion(tiny, texts):
    model, tokenizer = tiny
    prompts, responses = texts
    plain = score_responses(model, tokenizer, prompts, responses, progress=False)
    with_eos = score_responses(model, tokenizer, prompts, responses, include_eos=True, progress=False)
    assert (with_eos["n_tokens"] - plain["n_tokens"]).to_list() == [1] * len(prompts)
    # the EOS term is exactly the extra log-probability of </s> after the response
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        pair = encode_pairs(tokenizer, [p], [r])[0]
        with torch.inference_mode():
            last = model(input_ids=torch.tensor([pair.ids])).logits[0, -1]
        eos_nll = -torch.log_softmax(last.double(), -1)[tokenizer.eos_token_id].item()
        n = plain["n_tokens"][i]
        expected = (plain["nll_mean"][i] * n + eos_nll) / (n + 1)
        assert with_eos["nll_mean"][i] == pytest.approx(expected, abs=1e-5)
    # a different EOS id changes the scored token
    other = score_responses(
        model,
        tokenizer,
        prompts[:1],
        responses[:1],
        include_eos=True,
        options=ScoringOptions(eos_token_id=5),
        progress=False,
    )
    assert other["nll_mean"][0] != pytest.approx(with_eos["nll_mean"][0], abs=1e-6)


def test_greedy_response_beats_random_text(tmp_path):
    """Under the model that produced it greedily, a response is likelier than random text.

    A random-init tiny Llama with initialiser range 0.2 has peaked next-token distributions, so
    its greedy text is far likelier than uniform random characters. The greedy text's per-token
    NLL must also equal -log p of each argmax token as ``generate`` saw it (raw logits, with KV
    cache): an independent reference that fails on any misalignment.
    """
    from transformers import LlamaForCausalLM

    tokenizer = char_tokenizer()
    config = tiny_llama_config(len(tokenizer))
    config.initializer_range = 0.2
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    specials = [tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens]
    prompts = ["Q: 12+7=?\nA:", "hello", "x", "The answer is"]
    greedy, expected_nll = [], []
    rng = np.random.default_rng(1)
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=40,
            min_new_tokens=40,
            suppress_tokens=specials,
            pad_token_id=tokenizer.pad_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
        new = out.sequences[0, ids.shape[1] :]
        raw = torch.stack(out.logits)[:, 0].double()
        expected_nll.append(-torch.log_softmax(raw, -1).gather(-1, new[:, None]).mean().item())
        greedy.append(tokenizer.decode(new))
    alphabet = [t for t in tokenizer.get_vocab() if t not in tokenizer.all_special_tokens]
    random_text = ["".join(rng.choice(alphabet, len(g))) for g in greedy]
    g = score_responses(model, tokenizer, prompts, greedy, progress=False)
    r = score_responses(model, tokenizer, prompts, random_text, progress=False)
    assert g["n_tokens"].to_list() == r["n_tokens"].to_list() == [40] * len(prompts)
    np.testing.assert_allclose(g["nll_mean"].to_numpy(), expected_nll, rtol=0, atol=1e-5)
    assert (g["ppl"] < r["ppl"]).all(), (g["ppl"].to_list(), r["ppl"].to_list())


def test_empty_response_is_refused(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="response 1 is empty"):
        score_responses(model, tokenizer, ["a", "b", "c"], ["x", "", "y"], progress=False)
    with pytest.raises(ValueError, match="response 0 is empty"):
        score_responses(model, tokenizer, ["a"], [""], include_eos=True, progress=False)


def test_bad_inputs_are_named(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        score_responses(model, tokenizer, ["a", "b"], ["x"], progress=False)
    with pytest.raises(ValueError, match=r"prompt 0 .* encodes to no tokens"):
        score_responses(model, tokenizer, [""], ["x"], progress=False)
    with pytest.raises(TypeError, match="not a single string"):
        score_responses(model, tokenizer, "a", "x", progress=False)
    with pytest.raises(TypeError, match=r"responses\[0\] is NoneType"):
        score_responses(model, tokenizer, ["a"], [None], progress=False)
    with pytest.raises(TypeError, match=r"options must be a ScoringOptions .*, got dict"):
        score_responses(model, tokenizer, ["a"], ["x"], options={"batch_size": 1}, progress=False)
    with pytest.raises(ValueError, match="include_eos has 2 flags for 1 responses"):
        score_responses(model, tokenizer, ["a"], ["x"], include_eos=[True, False], progress=False)
    with pytest.raises(ValueError, match="max_position_embeddings=1024"):
        score_responses(model, tokenizer, ["a" * 1000], ["x" * 100], progress=False)
    assert score_responses(model, tokenizer, [], [], progress=False).height == 0


def test_prompt_and_response_are_tokenised_separately():
    """A merge across the boundary must not happen: the response tokens are what a sampler emitted."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<s>": 0, "</s>": 1, "x": 2, "a": 3, "b": 4, "c": 5, "ab": 6}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[("a", "b")]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>")
    assert tokenizer("xabc")["input_ids"] == [2, 6, 5]  # the concatenated string merges across the boundary
    (pair,) = encode_pairs(tokenizer, ["xa"], ["bc"])
    assert pair.prompt_ids == (2, 3)
    assert pair.response_ids == (4, 5)
    (pair,) = encode_pairs(tokenizer, ["xa"], ["bc"], include_eos=True)
    assert pair.response_ids == (4, 5, 1)


def test_plan_batches_bounds_rows_and_padded_tokens():
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 500, 200).tolist()
    batches = plan_batches(lengths, batch_size=8, max_tokens_per_batch=1000)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for b in batches:
        assert len(b) <= 8
        assert len(b) * max(lengths[i] for i in b) <= 1000
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)
    assert plan_batches([5000, 3], batch_size=4, max_tokens_per_batch=100) == [[0], [1]]
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        plan_batches([1], 0, 10)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_absolute_position_model_matches_brute_force(texts, padding_side):
    """GPT-2 has learned absolute positions: a left-padded row must still see positions 0, 1, ...

    (With RoPE, as in the Llama tests, shifted positions would go unnoticed.)
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = char_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=1024, n_embd=32, n_layer=2, n_head=2, initializer_range=0.2
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config).eval()
    prompts, responses = texts
    reference = [brute_force_nll(model, tokenizer, p, r, False) for p, r in zip(prompts, responses, strict=True)]
    model.train()  # GPT-2 has dropout: scoring runs in eval mode and gives the caller's mode back
    got = score_responses(
        model, tokenizer, prompts, responses, options=ScoringOptions(padding_side=padding_side), progress=False
    )
    assert model.training
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), reference, rtol=0, atol=1e-5)


def test_soft_capped_logits_use_the_full_forward(texts):
    """Gemma 2 soft-caps its logits after the head: the split head/decoder path must not be used."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    from analysis.perplexity.hf import _head_is_separable

    tokenizer = char_tokenizer()
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=2.0,
        initializer_range=0.5,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    assert not _head_is_separable(model)
    prompts, responses = texts
    keep = [0, 2, 3, 5]
    prompts, responses = [prompts[i] for i in keep], [responses[i] for i in keep]
    reference = [brute_force_nll(model, tokenizer, p, r, False) for p, r in zip(prompts, responses, strict=True)]
    got = score_responses(
        model, tokenizer, prompts, responses, options=ScoringOptions(padding_side="left"), progress=False
    )
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), reference, rtol=0, atol=1e-5)


def test_only_response_positions_reach_the_head_in_chunks(tiny, texts):
    """Prompt and padding positions never reach the output head, and no call sees more than a chunk."""
    model, tokenizer = tiny
    prompts, responses = texts
    seen: list[int] = []

    def record(module, args, output):
        if args[0].dim() == 2:  # scoring feeds [positions, hidden]; the one-off separability check is 3-D
            seen.append(args[0].shape[0])

    hook = model.get_output_embeddings().register_forward_hook(record)
    try:
        options = ScoringOptions(batch_size=4, logits_chunk_tokens=64)
        score_responses(model, tokenizer, prompts, responses, options=options, progress=False)
    finally:
        hook.remove()
    assert max(seen) <= 64
    assert sum(seen) == sum(RESPONSE_LENGTHS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "onnx"}, r"backend must be one of \('hf', 'vllm'\), got 'onnx'"),
        ({"padding_side": "middle"}, "padding_side must be 'left' or 'right', got 'middle'"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1, got 0"),
        ({"batch_size": True}, "batch_size must be an integer of at least 1, got True"),
        ({"max_tokens_per_batch": 2.5}, "max_tokens_per_batch must be an integer of at least 1, got 2.5"),
        ({"logits_chunk_tokens": 0}, "logits_chunk_tokens must be None or an integer of at least 1, got 0"),
        ({"eos_token_id": -1}, r"eos_token_id must be None or a token id \(an integer >= 0\), got -1"),
        ({"add_special_tokens": "no"}, "add_special_tokens must be True or False, got 'no'"),
    ],
)
def test_invalid_options_fail_when_made(options, message):
    with pytest.raises(ValueError, match=message):
        ScoringOptions(**options)


def test_options_are_frozen_and_every_field_is_classified():
    options = ScoringOptions(batch_size=np.int64(4))
    assert type(options.batch_size) is int  # numpy integers become plain ints (they are hashed for the cache)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.batch_size = 8  # type: ignore[misc]
    names = {f.name for f in dataclasses.fields(ScoringOptions)}
    # a new option must be declared as changing the result (then it is in the cache key) or not
    assert set(ScoringOptions.RESULT_FIELDS) | set(ScoringOptions.COMPUTE_FIELDS) == names
    assert not set(ScoringOptions.RESULT_FIELDS) & set(ScoringOptions.COMPUTE_FIELDS)
    assert options.result_settings() == {"eos_token_id": None, "add_special_tokens": True, "backend": "hf"}


def test_options_differing_only_in_computation_give_the_same_scores(tiny, texts):
    model, tokenizer = tiny
    prompts, responses = texts
    default = score_responses(model, tokenizer, prompts, responses, include_eos=EOS_FLAGS, progress=False)
    changes = {"batch_size": 2, "max_tokens_per_batch": 300, "padding_side": "left", "logits_chunk_tokens": 3}
    assert set(changes) == set(ScoringOptions.COMPUTE_FIELDS)
    other = dataclasses.replace(ScoringOptions(), **changes)
    got = score_responses(model, tokenizer, prompts, responses, include_eos=EOS_FLAGS, options=other, progress=False)
    assert got["n_tokens"].to_list() == default["n_tokens"].to_list()
    # the same up to float32 rounding of differently shaped matmuls (about 5e-7 nats here)
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), default["nll_mean"].to_numpy(), rtol=0, atol=5e-6)
    # while an option that changes the result does change it: another EOS id, where EOS is scored
    other_eos = ScoringOptions(eos_token_id=5)
    assert tokenizer.eos_token_id != 5
    moved = score_responses(
        model, tokenizer, prompts, responses, include_eos=EOS_FLAGS, options=other_eos, progress=False
    )
    changed = np.abs(moved["nll_mean"].to_numpy() - default["nll_mean"].to_numpy()) > 1e-4
    assert changed.tolist() == EOS_FLAGS
