"""End to end: a visual study (configs/paper-visual.yaml's shape) on CPU through the study's stages.

Two tiny random Qwen2-VL models (analysis.tinyvl; a "base" and an "rl" of another seed) sample the
two visual benchmarks, loaded from generated files in the hub layout, with the EasyR1 prompt and
the ``hf`` backend; the grade stage grades them with the math graders (``paper`` primary,
``strict`` compared); the findings stage and the count-based pages read the result. The models
are random, so the test checks the pipeline (every sample sampled once, graded in both modes,
counted), not any accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml
from visual_fixture import write_benchmarks

from analysis import images, pages, schemas, stages
from analysis.config import load_config
from analysis.findings_stage import read_findings, run_findings
from analysis.sampling import load_prompts, read_run_config
from analysis.study import Study
from analysis.tinyvl import build_tiny_vl

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
N = 4
PROBLEMS = {"mathvista_testmini": 3, "mathvision_testmini": 4}  # free-form problems of the generated files


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    tmp = tmp_path_factory.mktemp("visual-study")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(images.IMAGE_DIR_ENV, str(tmp / "images"))
        bench = write_benchmarks(tmp / "bench", mathvista=6, mathvision=6)
        cfg = {
            "name": "visual-e2e",
            "title": "visual study end to end",
            "output_root": str(tmp / "runs"),
            "models": [
                {"name": "vl-base", "role": "base", "path": str(build_tiny_vl(tmp / "m0")), "template": "easyr1"},
                {
                    "name": "vl-rl",
                    "role": "rl",
                    "base": "vl-base",
                    "path": str(build_tiny_vl(tmp / "m1", seed=1)),
                    "template": "easyr1",
                },
            ],
            "benchmarks": [{"name": name, "source": str(bench), "grader": "paper"} for name in PROBLEMS],
            "sampling": {"backend": "hf", "n": N, "temperatures": [1.0], "max_tokens": 10, "device": "cpu"},
            "grading": {"mode": "paper", "workers": 1},
            "analysis": {"resamples": 100, "perplexity": {"enabled": False}},
        }
        path = tmp / "study.json"
        path.write_text(json.dumps(cfg))
        s = Study.load(path)
        stages.train_models(s, progress=False)
        for key in s.jobs:
            stages.sample(s, key, progress=False)
            stages.grade(s, key, progress=False)
        run_findings(s)
        yield s


def test_every_job_sampled_with_its_images(study: Study) -> None:
    assert len(study.jobs) == 4
    for key, job in study.jobs.items():
        run_dir = study.run_dir(key)
        prompts = load_prompts(run_dir)
        assert prompts.height == PROBLEMS[job.benchmark]
        assert all(len(images.find_images(p)) == 1 for p in prompts["prompt"])
        identity = read_run_config(run_dir)["identity"]
        assert (identity["backend"], identity["template"]["name"]) == ("hf", "easyr1")


def test_grades_in_both_math_modes_and_the_counts_table(study: Study) -> None:
    for key, job in study.jobs.items():
        assert study.grading_modes(job.benchmark) == ["paper", "strict"]
        for mode in ("paper", "strict"):
            grades = pl.read_parquet(study.grades_path(key, mode))
            schemas.check(grades, "grades")
            assert grades.height == PROBLEMS[job.benchmark] * N
            assert set(grades["status"]) <= {"ok", "no_answer", "timeout", "error"}
    counts = study.counts()
    schemas.check(counts, "counts")
    assert counts.height == 2 * sum(PROBLEMS.values())
    assert counts["n"].unique().to_list() == [N]
    assert (counts["c"] <= counts["n"]).all()
    by = counts.group_by("model", "benchmark").len().sort("model", "benchmark")
    assert by.rows() == [(m, b, PROBLEMS[b]) for m in ("vl-base", "vl-rl") for b in sorted(PROBLEMS)]


def test_findings_and_pages(study: Study) -> None:
    findings = read_findings(study)
    assert set(findings["benchmark"]) == set(PROBLEMS)
    page = pages.grading_page(study)
    assert page.summary.height == 2 * len(PROBLEMS) * 2  # models x benchmarks x graders
    assert set(page.summary["grader"]) == {"paper", "strict"}
    assert set(page.endings["model"]) == {"vl-base", "vl-rl"}
    passk = pages.pass_at_k_page(study)
    assert passk.table.height == 2 * len(PROBLEMS)
    coverage = pages.coverage_page(study)
    splits = coverage.splits.sort("benchmark")
    total = splits.select(pl.sum_horizontal("both", "base only", "other only", "neither")).to_series()
    assert total.to_list() == [PROBLEMS[b] for b in splits["benchmark"]]


def test_the_paper_visual_config() -> None:
    cfg = load_config(REPO / "configs" / "paper-visual.yaml")
    assert [(m.name, m.role, m.template) for m in cfg.models] == [
        ("qwen2.5-vl-7b-instruct", "base", "easyr1"),
        ("easyr1-grpo-7b", "rl", "easyr1"),
    ]
    assert cfg.models[0].path == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert len(cfg.models[0].revision or "") == 40
    assert not cfg.models[1].path.startswith("Qwen/")  # never released: a local folder the user sets
    assert [(b.name, b.source, b.grader) for b in cfg.benchmarks] == [
        ("mathvista_testmini", "hub", "paper"),
        ("mathvision_testmini", "hub", "paper"),
    ]
    text = (REPO / "configs" / "paper-visual.yaml").read_text()
    assert "never released" in text
    assert yaml.safe_load(text)["analysis"]["perplexity"]["enabled"] is False
