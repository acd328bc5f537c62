"""``fit_to_context``: each request generates at most ``min(max_tokens, max_model_len - its prompt
tokens)``, as vLLM does at the context's end (the paper's 4,096-position models; PAPER.md 6.5).

The config and the runner's checks, the cap arithmetic, the run identity, and the hf backend's
per-row caps with a tiny local model (a character tokenizer: one token per prompt character).
The vLLM side is in tests/test_sampling_vllm.py (one engine for all its runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from analysis import schemas
from analysis.sampling import (
    SamplingConfig,
    SamplingError,
    load_prompts,
    load_samples,
    open_backend,
    prepare_run,
    read_run_config,
    run_sampling,
    run_summary,
)
from analysis.sampling.backends import GenParams, Request
from analysis.sampling.runner import context_caps
from analysis.sampling.types import ContextError, capped_max_tokens
from analysis.tinymodel import build_tiny_model

CONTEXT = 40
MAX_TOKENS = 24
QUESTIONS = ("Q:1+2=", "Q:" + "7" * 18 + "=", "Q:" + "3" * 30 + "=", "Q:" + "9" * 35 + "=")  # 6, 21, 33, 38 tokens


def problems_table(questions: tuple[str, ...] = QUESTIONS) -> pl.DataFrame:
    rows = [("toy", f"toy/{i}", i, q, ["0"], None, "{}") for i, q in enumerate(questions)]
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


def caps(questions: tuple[str, ...] = QUESTIONS, max_tokens: int = MAX_TOKENS) -> list[int]:
    return [min(max_tokens, CONTEXT - len(q)) for q in questions]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def cfg(model: Path | str = "tiny", **over) -> SamplingConfig:
    base = {
        "backend": "hf",
        "model": str(model),
        "benchmark": "toy",
        "template": "plain",
        "n": 4,
        "seeds": (0, 1),
        "chunk_size": 2,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": MAX_TOKENS,
        "max_model_len": CONTEXT,
        "fit_to_context": True,
        "batch_size": 16,
        "device": "cpu",
    }
    return SamplingConfig(**(base | over))


# --- arithmetic and config --------------------------------------------------------------------


def test_cap_arithmetic():
    assert caps() == [24, 19, 7, 2]
    assert [capped_max_tokens(len(q), MAX_TOKENS, CONTEXT) for q in QUESTIONS] == caps()
    assert capped_max_tokens(100, 4096, 4096) == 3996  # the paper's models: max_tokens never binds
    assert capped_max_tokens(39, 24, 40) == 1
    with pytest.raises(ContextError, match=r"request seed 3 has 40 tokens, which leaves no room .* max_model_len=40"):
        capped_max_tokens(40, 24, 40, "the prompt of request seed 3")


def test_config_opt_in():
    assert not SamplingConfig.model_fields["fit_to_context"].default
    with pytest.raises(ValidationError, match=r"no room for a prompt with max_tokens=4096.*or set fit_to_context"):
        cfg(max_tokens=4096, max_model_len=4096, fit_to_context=False)
    fitted = cfg(max_tokens=4096, max_model_len=4096)  # max_tokens may reach the context: the cap applies
    assert (fitted.max_tokens, fitted.max_model_len, fitted.fit_to_context) == (4096, 4096, True)
    assert cfg(max_tokens=16384, max_model_len=4096).max_tokens == 16384
    with pytest.raises(ValidationError, match="fit_to_context caps each sample at max_model_len - its prompt"):
        cfg(max_model_len=None)
    with pytest.raises(ValidationError, match="fit_to_context works with the hf and vllm backends"):
        cfg(backend="openai", base_url="http://127.0.0.1:1/v1")


def test_context_caps_from_the_prompts_table():
    prompts = pl.DataFrame({"problem_id": [f"toy/{i}" for i in range(4)], "n_prompt_tokens": [6, 21, 33, 38]})
    found = context_caps(prompts, cfg())
    assert found.rows() == [("toy/1", 19), ("toy/2", 7), ("toy/3", 2)]
    assert context_caps(prompts, cfg(fit_to_context=False, max_model_len=None)).height == 0


def test_the_flag_is_part_of_the_run_identity(tiny):
    problems = problems_table(QUESTIONS[:1])
    plain = prepare_run(cfg(tiny, fit_to_context=False), problems)
    fitted = prepare_run(cfg(tiny), problems)
    assert "fit_to_context" not in plain.identity  # runs without the flag keep the hashes they had
    assert fitted.identity["fit_to_context"] is True
    assert {k: v for k, v in fitted.identity.items() if k != "fit_to_context"} == plain.identity
    assert fitted.run_hash != plain.run_hash


# --- runner checks ----------------------------------------------------------------------------


def test_without_the_opt_in_a_long_prompt_is_refused(tiny, tmp_path):
    config = cfg(tiny, fit_to_context=False)
    with pytest.raises(SamplingError, match=r"problem 'toy/1' has a 21-token prompt, .* 45 \(or set fit_to_context"):
        run_sampling(config, tmp_path, problems=problems_table(QUESTIONS[:2]), progress=False)
    assert not any(tmp_path.iterdir())


def test_a_prompt_must_leave_one_token(tiny, tmp_path):
    too_long = (*QUESTIONS, "Q:" + "5" * 37 + "=")  # 40 tokens: no room left
    with pytest.raises(SamplingError, match=r"problem 'toy/4' has a 40-token prompt, which leaves no room .*=40"):
        run_sampling(cfg(tiny), tmp_path, problems=problems_table(too_long), progress=False)
    assert not any(tmp_path.iterdir())


# --- hf backend -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_run(tiny, tmp_path_factory) -> Path:
    return run_sampling(cfg(tiny), tmp_path_factory.mktemp("runs"), problems=problems_table(), progress=False)


def test_hf_run_caps_each_problem_at_the_context(fitted_run):
    samples = load_samples(fitted_run).collect()
    prompts = load_prompts(fitted_run).sort("problem_id")
    assert prompts["n_prompt_tokens"].to_list() == [len(q) for q in QUESTIONS]
    limit = dict(zip(prompts["problem_id"], caps(), strict=True))
    per_problem = samples.group_by("problem_id").agg(pl.col("n_tokens").max(), pl.len()).sort("problem_id")
    assert per_problem["len"].to_list() == [8] * 4
    for pid, longest, _ in per_problem.iter_rows():
        assert longest <= limit[pid]
    # a random tiny model rarely says EOS: samples run to their cap, and exactly to it
    length = samples.filter(pl.col("finish_reason") == "length")
    assert length.height >= 24
    assert all(n == limit[pid] for pid, n in length.select("problem_id", "n_tokens").iter_rows())
    assert set(length["ended_by"]) == {"length"}
    cut = length.filter(pl.col("problem_id") != "toy/0").height
    summary = run_summary(fitted_run)
    assert summary["context_capped_samples"] == 3 * 8
    assert summary["context_cut_samples"] == cut > 0
    assert read_run_config(fitted_run)["identity"]["fit_to_context"] is True


def test_hf_per_row_caps_match_each_request_alone(tiny):
    """Rows of one generate call with different prompt lengths: each row cut at its own cap gives the
    samples the request gives alone with that cap as max_tokens (per-request generators)."""
    backend = open_backend(cfg(tiny))
    requests = [Request(q, backend.tokenizer(q)["input_ids"], 3, seed=5 + i) for i, q in enumerate(QUESTIONS)]
    params = GenParams(1.0, 1.0, MAX_TOKENS, max_model_len=CONTEXT)
    together = backend.generate(requests, params)
    assert (backend.capped_requests, backend.capped_samples) == (3, 9)
    for request, outs, cap in zip(requests, together, caps(), strict=True):
        alone = backend.generate([request], GenParams(1.0, 1.0, cap))[0]
        assert outs == alone
        assert max(c.n_tokens for c in outs) <= cap
    # max_tokens above the context (the paper's 4,096 with 4,096 positions): every row is capped
    wide = backend.generate(requests[1:2], GenParams(0.0, 1.0, 4 * CONTEXT, max_model_len=CONTEXT))[0]
    assert [c.n_tokens for c in wide if c.finish_reason == "length"] in ([], [CONTEXT - 21] * 3)
    with pytest.raises(ContextError, match="the prompt of request seed 9 has 40 tokens"):
        backend.generate([Request("", [5] * CONTEXT, 1, seed=9)], params)


# --- study config -> run config ---------------------------------------------------------------


def test_paper_math_runs_of_the_math_family_opt_in(monkeypatch):
    """paper-math.yaml: the Qwen2.5-Math family's runs fit to the 4,096-token context; the others
    keep their explicit 32,768-token context and the default (no opt-in, no change of hash)."""
    from analysis.stages import sampling_config
    from analysis.study import Study

    study = Study.load(Path(__file__).resolve().parents[1] / "configs" / "paper-math.yaml")
    resolved = {m.name: {"path": m.path, "revision": m.revision} for m in study.config.models}
    monkeypatch.setattr(Study, "model_entry", lambda self, name: resolved[name])
    runs = {}
    for key, job in study.jobs.items():
        if job.benchmark == "math500" and job.seed == 1:
            runs[job.model] = sampling_config(study, key)
    limits = {name: (c.max_model_len, c.max_tokens, c.fit_to_context) for name, c in runs.items()}
    assert limits == {
        "qwen2.5-7b": (32768, 16384, False),
        "simplerl-zoo-7b": (32768, 16384, False),
        "qwen2.5-math-7b": (4096, 4096, True),
        "oat-zero-7b": (4096, 4096, True),
        "r1-distill-qwen-7b": (32768, 16384, False),
    }


def test_hf_study_fits_to_the_models_positions_when_no_context_is_set(tiny, tmp_path, monkeypatch):
    from analysis.config import parse_config
    from analysis.stages import sampling_config
    from analysis.study import Study

    models = [
        {"name": "fitted", "role": "base", "path": str(tiny), "template": "plain", "fit_to_context": True},
        {"name": "plain", "role": "rl", "base": "fitted", "path": str(tiny), "template": "plain"},
    ]
    data = {
        "name": "fit",
        "title": "fit",
        "models": models,
        "benchmarks": [{"name": "toy", "source": str(tmp_path)}],
        "sampling": {"backend": "hf", "n": 2, "max_tokens": 4096},
    }
    study = Study(parse_config(data), tmp_path / "fit.yaml")
    resolved = {m["name"]: {"path": str(tiny), "revision": None} for m in models}
    monkeypatch.setattr(Study, "model_entry", lambda self, name: resolved[name])
    runs = {job.model: sampling_config(study, key) for key, job in study.jobs.items()}
    positions = json.loads((tiny / "config.json").read_text())["max_position_embeddings"]
    assert positions < 4096  # max_tokens above the context: the runs cap each sample instead
    assert (runs["fitted"].max_model_len, runs["fitted"].fit_to_context) == (positions, True)
    assert (runs["plain"].max_model_len, runs["plain"].fit_to_context) == (None, False)
