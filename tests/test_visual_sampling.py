"""Sampling with images through the ``hf`` backend, on tiny random Qwen2-VL / Qwen2.5-VL models built
here (analysis.tinyvl), the visual benchmarks' loaders on generated files, and grading of the
samples through the math graders into the counts table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from visual_fixture import write_benchmarks

from analysis import images, schemas
from analysis.grading import grade_samples
from analysis.metrics import counts_from_grades
from analysis.sampling import SamplingConfig, load_prompts, load_samples, open_backend, run_sampling
from analysis.sampling.backends import GenParams, Request
from analysis.tinymodel import build_tiny_model
from analysis.tinyvl import build_tiny_vl
from analysis.visual import load_visual

pytestmark = pytest.mark.slow
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("visual")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(images.IMAGE_DIR_ENV, str(work / "images"))
        write_benchmarks(work / "bench", mathvista=6, mathvision=5)
        build_tiny_vl(work / "qwen2_vl")
        yield work


@pytest.fixture(scope="module")
def problems(work) -> pl.DataFrame:
    return load_visual("mathvista_testmini", work / "bench")  # 3 free-form problems


def cfg(work: Path, **over) -> SamplingConfig:
    base = {
        "backend": "hf",
        "model": str(work / "qwen2_vl"),
        "benchmark": "mathvista_testmini",
        "benchmark_source": str(work / "bench"),
        "template": "easyr1",
        "n": 4,
        "seeds": (0, 1),
        "chunk_size": 2,
        "temperature": 1.0,
        "max_tokens": MAX_TOKENS,
        "dtype": "float32",
        "device": "cpu",
    }
    return SamplingConfig(**base | over)


@pytest.fixture(scope="module")
def backend(work):
    return open_backend(cfg(work))


def test_a_visual_run_through_the_runner(work, problems, tmp_path):
    run_dir = run_sampling(cfg(work), tmp_path, progress=False)  # problems through the benchmark registry
    samples = load_samples(run_dir).collect().sort("problem_id", "sample_index")
    schemas.check(samples, "samples")
    assert samples.height == problems.height * 8
    assert samples["text"].n_unique() > samples.height // 2
    assert (samples["n_tokens"] <= MAX_TOKENS).all()
    assert set(samples["finish_reason"]) <= {"stop", "length"}
    prompts = load_prompts(run_dir).sort("problem_id")
    for prompt, question in zip(prompts["prompt"], problems.sort("problem_id")["question"], strict=True):
        assert images.find_images(prompt) == images.find_images(question)  # the prompt names its image
        assert "<|image_pad|>" not in prompt
    config = json.loads((run_dir / "config.json").read_text())
    assert config["identity"]["template"]["name"] == "easyr1"


@pytest.mark.parametrize("kind", ["qwen2_vl", "qwen2_5_vl"])
def test_each_request_sees_its_own_image(work, problems, kind, tmp_path):
    backend = open_backend(cfg(work, model=str(build_tiny_vl(tmp_path / kind, kind=kind))))
    greedy = GenParams(temperature=0.0, top_p=1.0, max_tokens=MAX_TOKENS)
    a, b = (Request(q, None, 2, seed=1) for q in problems["question"].head(2))
    alone = [backend.generate([r], greedy)[0] for r in (a, b)]
    assert alone[0][0].text != alone[1][0].text  # the image changes the answer
    text_only = Request("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", None, 1, seed=3)
    together = backend.generate([a, text_only, b], greedy)
    # one batch, left-padded, the images' pixel rows in row order: each request gets its own image
    assert [together[0], together[2]] == alone
    assert together[1] == backend.generate([text_only], greedy)[0]
    sampled = backend.generate([a], GenParams(temperature=1.0, top_p=0.95, max_tokens=MAX_TOKENS))[0]
    assert len(sampled) == 2


def test_images_are_checked_and_text_models_refuse_them(work, problems, backend, tmp_path):
    question = problems["question"][0]
    ref = images.find_images(question)[0]
    pinned_elsewhere = Request(question.replace(ref.sha256, "f" * 64, 1), None, 1, seed=0)  # the path kept
    with pytest.raises(images.ImageError, match=f"has SHA-256 {ref.sha256}, but the prompt pins f{{64}}"):
        backend.generate([pinned_elsewhere], GenParams(0.0, 1.0, 4))
    with pytest.raises(images.ImageError, match="image file not found"):
        backend.generate([Request(question.replace(ref.sha256, "f" * 64), None, 1, seed=0)], GenParams(0.0, 1.0, 4))
    llama = build_tiny_model(tmp_path / "llama")
    text_model = open_backend(SamplingConfig(backend="hf", model=str(llama), benchmark="x", template="plain", n=1))
    with pytest.raises(images.ImageError, match="loaded as a text-only model"):
        text_model.generate([Request(problems["question"][0], [5, 6], 1, seed=0)], GenParams(0.0, 1.0, 4))


def test_visual_samples_graded_by_the_math_graders(work, problems, tmp_path):
    # answers as an EasyR1 model writes them: reasoning in <think>, the answer boxed
    gold = dict(zip(problems["problem_id"], problems["gold"].list.first(), strict=True))
    texts = {
        0: lambda g: f"<think>The figure shows {g}.</think> The answer is \\boxed{{{g}}}.",
        1: lambda g: f"<think>Counting.</think> \\boxed{{{int(g) + 1}}}",
        2: lambda g: "<think>I cannot read the figure.",
    }
    rows = [
        ("r", "m", "mathvista_testmini", pid, i, 0, texts[i](g), 10, "stop")
        for pid, g in gold.items()
        for i in range(3)
    ]
    samples = pl.DataFrame(rows, schema=schemas.SAMPLES, orient="row")
    for mode in ("strict", "paper"):
        grades = grade_samples(samples, problems, mode, workers=1, progress=False)
        assert grades.sort("problem_id", "sample_index")["correct"].to_list() == [True, False, False] * len(gold)
        counts = counts_from_grades(grades)
        assert counts["n"].to_list() == [3] * len(gold)
        assert counts["c"].to_list() == [1] * len(gold)
    # and the real samples of a run, graded end to end
    run_dir = run_sampling(cfg(work, n=2, seeds=(0,)), tmp_path, progress=False)
    real = grade_samples(load_samples(run_dir).collect(), problems, "paper", workers=1, progress=False)
    counts = counts_from_grades(real)
    assert counts.height == problems.height
    assert counts["n"].to_list() == [2] * problems.height
