"""The toy world's model: HF compatibility of checkpoints, the fast forward, the KV-cache sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.toyworld import model as M
from analysis.toyworld.config import ModelShape, load_config
from analysis.toyworld.corpus import prompt_codes, student_batch, teacher_batch
from analysis.toyworld.sampler import draw, sample
from analysis.toyworld.tasks import ALPHABET


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SHAPE = ModelShape(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=48)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = M.new_model(SHAPE, seed=0)
    # random weights of a realistic scale, so that logits differ between tokens
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


def test_tokenizer_is_the_project_character_tokenizer():
    tok = M.tokenizer()
    v = M.vocab()
    text = "Q:123+456=R360>09;A:0579"
    assert tok(text)["input_ids"] == v.encode(text)  # no BOS is added
    assert tok.decode([*v.encode(text), tok.eos_token_id], skip_special_tokens=True) == text
    assert v.decode([*v.encode(text), tok.eos_token_id, tok.pad_token_id]) == text
    assert len(tok) == 4 + len(ALPHABET)


def test_fast_forward_matches_hugging_face(tiny):
    v = M.vocab()
    ids = torch.tensor([v.encode("Q:123+456=R360>09;"), v.encode("Q:999+001=L90>9;09>9;")[:18]])
    with torch.no_grad():
        fast = M.forward(tiny, ids)
        hf = tiny(ids).logits
    assert torch.allclose(fast, hf, atol=1e-5)


def test_kv_cache_matches_full_forward(tiny):
    v = M.vocab()
    ids = torch.tensor([v.encode("Q:123+456=R360>09;")] * 3)
    cache = M.KVCache(tiny, 3, 32)
    with torch.no_grad():
        full = M.forward(tiny, ids)
        steps = [M.forward(tiny, ids[:, :10], cache)[:, -1]]
        steps += [M.forward(tiny, ids[:, t : t + 1], cache)[:, -1] for t in range(10, ids.shape[1])]
    assert torch.allclose(torch.stack(steps, 1), full[:, 9:], atol=1e-5)
    with pytest.raises(ValueError, match="one token at a time"):
        M.forward(tiny, ids[:, :2], cache)


def test_checkpoint_loads_with_auto_classes_and_greedy_matches_generate(tiny, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    M.save_model(tiny, tmp_path / "ck", {"kind": "test"})
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "ck")
    tok = AutoTokenizer.from_pretrained(tmp_path / "ck")
    assert model.config.model_type == "llama"
    assert tok.eos_token_id == M.vocab().eos
    prompt = tok(["Q:123+456="], return_tensors="pt")
    hf = model.generate(
        **prompt, do_sample=False, max_new_tokens=12, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )[0, 10:]
    ours = sample(
        M.load_model(tmp_path / "ck"),
        prompt["input_ids"],
        max_new_tokens=12,
        temperature=0,
        generator=torch.Generator(),
        eos_id=tok.eos_token_id,
        pad_id=tok.pad_token_id,
    )[0]
    n = len(hf)
    assert ours[:n].tolist() == hf.tolist()


def test_sampler_stops_at_eos_and_is_seeded(tiny):
    v = M.vocab()
    prompts = torch.tensor([v.encode("Q:123+456=")] * 64)

    def run(seed: int) -> torch.Tensor:
        return sample(
            tiny,
            prompts,
            max_new_tokens=20,
            temperature=1.0,
            generator=torch.Generator().manual_seed(seed),
            eos_id=v.eos,
            pad_id=v.pad,
        )

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    for row in a.tolist():
        if v.eos in row:
            assert all(t == v.pad for t in row[row.index(v.eos) + 1 :])


def test_sampling_distribution_matches_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(40000, 1)
    g = torch.Generator().manual_seed(0)
    freq = torch.bincount(draw(logits, 0.5, 1.0, g), minlength=4).float() / 40000
    assert torch.allclose(freq, torch.softmax(logits[0] / 0.5, -1), atol=0.01)
    top = torch.bincount(draw(logits, 1.0, 0.7, g), minlength=4).float() / 40000
    p = torch.softmax(logits[0], -1)  # 0.64, 0.24, ...: top-p 0.7 keeps the first two
    assert top[2:].sum() == 0
    assert top[0] == pytest.approx(float(p[0] / (p[0] + p[1])), abs=0.01)


def test_batches_mask_the_response_and_end_with_eos():
    cfg = load_config()
    v = M.vocab()
    rng = np.random.default_rng(0)
    ids, mask = student_batch(rng, 32, cfg.corpus, cfg.task, v)
    assert ids.shape[1] == mask.shape[1] + 1
    for row, m in zip(ids.tolist(), mask.tolist(), strict=True):
        targets = [t for t, keep in zip(row[1:], m, strict=True) if keep]
        assert targets[-1] == v.eos
        text = v.decode(row)
        assert text.startswith("Q:")
        assert "A:" in text
        assert len(targets) == len(text) - 10 + 1  # the response and its EOS, not the prompt
    ids, _ = teacher_batch(rng, 8, {3: 1}, cfg.task, v)
    assert all(v.decode(r)[10] == "R" for r in ids.tolist())
    codes = prompt_codes(np.array([7]), np.array([450]), 3)
    assert codes.tobytes().decode() == "Q:007+450="
