"""configs/paper-code.yaml: the paper's code comparisons as a study, and its prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.config import ConfigError, load_config, parse_config, sampling_jobs
from analysis.prompts import get_template, render, stop_strings

REPO = Path(__file__).resolve().parents[1]


def test_paper_code_config_plans_the_papers_jobs() -> None:
    cfg = load_config(REPO / "configs" / "paper-code.yaml")
    jobs = sampling_jobs(cfg)
    by_bench: dict[str, set[str]] = {}
    for j in jobs:
        by_bench.setdefault(j.benchmark, set()).add(j.model)
        assert j.temperature == 0.6
    assert by_bench == {
        "humanevalplus": {"qwen2.5-7b-instruct-1m", "coder1-zero-7b"},
        "mbppplus": {"qwen2.5-7b-instruct-1m", "coder1-zero-7b"},
        "livecodebench_v5": {"r1-distill-qwen-14b", "deepcoder-14b"},
    }
    per_problem = {b.name: cfg.n_for(b) for b in cfg.benchmarks}
    assert per_problem == {"humanevalplus": 128, "mbppplus": 128, "livecodebench_v5": 64}
    assert cfg.sampling.top_p == 0.95
    assert cfg.max_tokens_for(cfg.model("deepcoder-14b")) == 32768
    assert cfg.model("coder1-zero-7b").path == "ganler/CodeR1-Zero-Qwen2.5-7B-12k-832"
    assert cfg.pairs() == [("qwen2.5-7b-instruct-1m", "coder1-zero-7b"), ("r1-distill-qwen-14b", "deepcoder-14b")]


def test_benchmark_models_must_exist() -> None:
    raw = {
        "name": "x",
        "title": "x",
        "models": [{"name": "a", "role": "base", "path": "p", "template": "plain"}],
        "benchmarks": [{"name": "humanevalplus", "source": "s", "models": ["b"]}],
        "sampling": {"n": 2, "max_tokens": 8},
    }
    with pytest.raises(ConfigError, match="not models of this study"):
        parse_config(raw)


def test_code_prompts() -> None:
    prompt = render("evalplus-qwen", 'def f(x):\n    """Double x."""\n')
    assert "Please provide a self-contained Python script that solves the following problem" in prompt
    assert prompt.endswith(
        "<|im_start|>assistant\nBelow is a Python script with a self-contained function that solves the problem "
        "and passes corresponding tests:\n```python\n"
    )
    assert "\n```\n" in stop_strings("evalplus-qwen")
    lcb = render("lcb-qwen", "### Question:\nQ\n\n### Answer: (use the provided format with backticks)\n\n")
    assert lcb.startswith("<|im_start|>system\nYou are an expert Python programmer.")
    assert lcb.endswith("<|im_start|>assistant\n```python\n")
    assert render("lcb-r1", "Q").endswith("<｜User｜>Q<｜Assistant｜><think>\n")
    assert get_template("lcb-r1").system.startswith("You are an expert Python programmer")
