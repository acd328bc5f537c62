"""The scorer x generator matrix as a ``scores`` table, with its cache."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from analysis import schemas
from analysis.perplexity import (
    ScoringOptions,
    cross,
    cross_perplexity,
    load_scorer,
    model_fingerprint,
    score_responses,
)
from analysis.tinymodel import build_tiny_model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorers")
    return {"base": build_tiny_model(root / "base", seed=0), "rl": build_tiny_model(root / "rl", seed=1)}


@pytest.fixture(scope="module")
def responses():
    rng = np.random.default_rng(0)
    rows = []
    for generator in ("base", "rl", "distill"):
        for problem in ("p1", "p2"):
            prompt = f"Problem {problem}: what is {rng.integers(10, 99)} + {rng.integers(10, 99)}?\nAnswer:"
            for sample in range(3):
                text = "".join(rng.choice(list("0123456789 +=\n"), int(rng.integers(1, 40))))
                rows.append(
                    {
                        "generator": generator,
                        "benchmark": "toy",
                        "problem_id": problem,
                        "sample_index": sample,
                        "prompt": prompt,
                        "text": text,
                        "finish_reason": "stop" if sample != 1 else "length",
                    }
                )
    # identical responses from two generators are scored once but reported twice
    rows[-1]["text"] = rows[0]["text"]
    rows[-1]["prompt"] = rows[0]["prompt"]
    return pl.DataFrame(rows).with_columns(pl.col("sample_index").cast(pl.Int32))


def test_cross_matrix_is_a_scores_table(folders, responses):
    base_model, base_tok = load_scorer(folders["base"])
    out = cross_perplexity({"base": folders["base"], "rl": load_scorer(folders["rl"])}, responses, progress=False)
    schemas.check(out, "scores")
    assert out.columns[: len(schemas.SCORES)] == list(schemas.SCORES)
    assert out.height == 2 * responses.height
    assert out["scorer"].to_list() == ["base"] * responses.height + ["rl"] * responses.height
    keys = ["generator", "benchmark", "problem_id", "sample_index"]
    assert out.filter(pl.col("scorer") == "base").select(keys).equals(responses.select(keys))
    direct = score_responses(
        base_model, base_tok, responses["prompt"].to_list(), responses["text"].to_list(), progress=False
    )
    got = out.filter(pl.col("scorer") == "base")
    from_folder = score_responses(
        folders["base"], None, responses["prompt"].to_list(), responses["text"].to_list(), progress=False
    )
    assert from_folder.equals(direct)
    np.testing.assert_allclose(got["nll_mean"].to_numpy(), direct["nll_mean"].to_numpy(), rtol=0, atol=1e-6)
    assert got["n_tokens"].to_list() == direct["n_tokens"].to_list()
    # two scorers with different weights disagree
    rl = out.filter(pl.col("scorer") == "rl")
    assert not np.allclose(rl["nll_mean"].to_numpy(), got["nll_mean"].to_numpy())
    # PPL_base(Y_RL) and friends are filters of the one table
    cell = out.filter(pl.col("scorer") == "base", pl.col("generator") == "rl")
    assert cell.height == 6


def test_include_eos_from_a_column(folders, responses):
    stopped = responses.with_columns(stopped=pl.col("finish_reason") == "stop")
    out = cross_perplexity({"base": folders["base"]}, stopped, include_eos="stopped", progress=False)
    plain = cross_perplexity({"base": folders["base"]}, stopped, progress=False)
    extra = (out["n_tokens"] - plain["n_tokens"]).to_list()
    assert extra == [int(s) for s in stopped["stopped"].to_list()]


def test_cache_skips_scored_responses_and_keys_on_content(folders, responses, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = cross_perplexity({"base": folders["base"]}, responses, cache_dir=cache, cache_every=5, progress=False)
    parts = list(cache.rglob("part-*.parquet"))
    unique = responses.select("prompt", "text").unique().height
    assert unique == responses.height - 1
    assert len(parts) == -(-unique // 5)  # written every 5 responses
    assert sum(pl.read_parquet(p).height for p in parts) == unique

    def no_loading(*args, **kwargs):
        raise AssertionError("everything was cached: the scorer must not be loaded")

    monkeypatch.setattr(cross, "load_scorer", no_loading)
    again = cross_perplexity({"base": folders["base"]}, responses, cache_dir=cache, progress=False)
    assert again.equals(first)
    monkeypatch.undo()

    # a crash after some parts: only the missing responses are scored on resume
    for p in parts[1:]:
        p.unlink()
    resumed = cross_perplexity({"base": folders["base"]}, responses, cache_dir=cache, cache_every=5, progress=False)
    assert sum(pl.read_parquet(p).height for p in cache.rglob("part-*.parquet")) == unique  # nothing twice
    np.testing.assert_allclose(resumed["nll_mean"].to_numpy(), first["nll_mean"].to_numpy(), rtol=0, atol=1e-6)

    # other weights under the same name get their own cache entry
    other = cross_perplexity({"base": folders["rl"]}, responses, cache_dir=cache, progress=False)
    assert not np.allclose(other["nll_mean"].to_numpy(), first["nll_mean"].to_numpy())
    assert len({p.parent for p in cache.rglob("part-*.parquet")}) == 2

    # a loaded pair is keyed by its weights: the same weights loaded twice share a fingerprint
    a, b = load_scorer(folders["base"]), load_scorer(folders["base"])
    assert model_fingerprint(a[0]) == model_fingerprint(b[0])
    assert model_fingerprint(a[0]) != model_fingerprint(load_scorer(folders["rl"])[0])
    loaded = cross_perplexity({"base": a}, responses, cache_dir=cache, progress=False)
    np.testing.assert_allclose(loaded["nll_mean"].to_numpy(), first["nll_mean"].to_numpy(), rtol=0, atol=1e-6)


def test_cache_keys_hold_the_options_that_change_the_result(folders, responses, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    stopped = responses.with_columns(stopped=pl.col("finish_reason") == "stop")
    scorers = {"base": folders["base"]}
    first = cross_perplexity(scorers, stopped, include_eos="stopped", cache_dir=cache, progress=False)

    def no_loading(*args, **kwargs):
        raise AssertionError("everything was cached: the scorer must not be loaded")

    # batching, padding and chunking change no score: the cached ones are reused
    monkeypatch.setattr(cross, "load_scorer", no_loading)
    computation = ScoringOptions(batch_size=1, max_tokens_per_batch=64, padding_side="left", logits_chunk_tokens=2)
    again = cross_perplexity(
        scorers, stopped, include_eos="stopped", options=computation, cache_dir=cache, progress=False
    )
    assert again.equals(first)
    monkeypatch.undo()

    # the encoding options do: another EOS id is scored afresh, and differs where EOS is scored
    other = cross_perplexity(
        scorers,
        stopped,
        include_eos="stopped",
        options=ScoringOptions(eos_token_id=5),
        cache_dir=cache,
        progress=False,
    )
    moved = np.abs(other["nll_mean"].to_numpy() - first["nll_mean"].to_numpy()) > 1e-4
    assert moved.tolist() == stopped["stopped"].to_list()
    unique = stopped.select("prompt", "text").unique().height
    assert sum(pl.read_parquet(p).height for p in cache.rglob("part-*.parquet")) == 2 * unique

    # the keys themselves: each result option changes them, no computation option does
    base = ScoringOptions()
    rows = (["p"], ["t"], [True])
    row_key = cross._response_keys(*rows, base)
    folder_key = cross._scorer_settings("content", base, "float32", None)
    for name, value in [("eos_token_id", 5), ("add_special_tokens", False), ("backend", "vllm")]:
        changed = ScoringOptions(**{name: value})
        keys = (cross._response_keys(*rows, changed), cross._scorer_settings("content", changed, "float32", None))
        assert keys != (row_key, folder_key), name
    for name, value in [("batch_size", 1), ("max_tokens_per_batch", 7), ("padding_side", "left")]:
        changed = ScoringOptions(**{name: value}, logits_chunk_tokens=3)
        keys = (cross._response_keys(*rows, changed), cross._scorer_settings("content", changed, "float32", None))
        assert keys == (row_key, folder_key), name


def test_bad_responses_are_named(folders, responses):
    scorers = {"base": folders["base"]}
    with pytest.raises(ValueError, match=r"responses lack columns \['prompt'\]"):
        cross_perplexity(scorers, responses.drop("prompt"), progress=False)
    empty = responses.with_columns(text=pl.when(pl.col("sample_index") == 2).then(pl.lit("")).otherwise("text"))
    with pytest.raises(ValueError, match=r"6 responses are empty .*\('base', 'toy', 'p1', 2\)"):
        cross_perplexity(scorers, empty, progress=False)
    with pytest.raises(ValueError, match=r"repeat the key .* = \('base', 'toy', 'p1', 0\)"):
        cross_perplexity(scorers, pl.concat([responses, responses.head(1)]), progress=False)
    with pytest.raises(ValueError, match="include_eos names column 'stopped'"):
        cross_perplexity(scorers, responses, include_eos="stopped", progress=False)
    with pytest.raises(ValueError, match="must be Boolean without nulls, got String"):
        cross_perplexity(scorers, responses, include_eos="finish_reason", progress=False)
    with pytest.raises(TypeError, match="options must be a ScoringOptions"):
        cross_perplexity(scorers, responses, options={"backend": "hf"}, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend must be one of"):
        cross_perplexity(scorers, responses, options=ScoringOptions(backend="onnx"), progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no scorers given"):
        cross_perplexity({}, responses, progress=False)
    with pytest.raises(ValueError, match="not a local folder"):
        cross_perplexity({"x": "org/model-on-the-hub"}, responses, cache_dir="unused", progress=False)


def test_responses_table_joins_samples_to_their_prompts(folders):
    from analysis.perplexity import responses_table

    samples = pl.DataFrame(
        {
            "run_hash": ["r1", "r1", "r2"],
            "model": ["base", "base", "rl"],
            "benchmark": ["toy"] * 3,
            "problem_id": ["p1", "p2", "p1"],
            "sample_index": [0, 0, 0],
            "seed": [0, 0, 0],
            "text": ["12", "34", "56"],
            "n_tokens": [2, 2, 2],
            "finish_reason": ["stop", "length", "stop"],
        }
    )
    samples = schemas.conform(samples, "samples")
    prompts = schemas.conform(
        pl.DataFrame(
            {
                "run_hash": ["r1", "r1", "r2"],
                "problem_id": ["p1", "p2", "p1"],
                "prompt": ["Q:1+1=", "Q:2+2=", "Q:<rl template>1+1="],
                "n_prompt_tokens": [6, 6, 19],
            }
        ),
        "prompts",
    )
    table = responses_table(samples, prompts)
    assert table["generator"].to_list() == ["base", "base", "rl"]
    assert table["prompt"].to_list() == ["Q:1+1=", "Q:2+2=", "Q:<rl template>1+1="]
    out = cross_perplexity(
        {"base": folders["base"]},
        table.with_columns(stopped=pl.col("finish_reason") == "stop"),
        include_eos="stopped",
        progress=False,
    )
    assert out["n_tokens"].to_list() == [3, 2, 3]
    with pytest.raises(ValueError, match=r"1 samples have no prompt .*\('r2', 'rl', 'p1', 0\)"):
        responses_table(samples, prompts.head(2))
    with pytest.raises(ValueError, match=r"more than one prompt for \(run_hash, problem_id\) = \('r1', 'p1'\)"):
        responses_table(samples, pl.concat([prompts, prompts.head(1)]))
