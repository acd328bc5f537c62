"""The study end to end: the Snakemake DAG, a reduced toy study killed midway and resumed into a
book whose charts draw offline (a hanging kernel start on the way), and a ten-line config on two local checkpoints."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_notebook_runner import flaky_kernel

from analysis import book

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [str(Path(sys.executable).with_name("snakemake")), "-s", "workflow/Snakefile", "--nolock"]


def _job_stats(output: str) -> dict[str, int]:
    block = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


def test_paper_math_dag_lists_the_expected_jobs():
    out = subprocess.run(
        [*SNAKEMAKE, "--configfile", "configs/paper-math.yaml", "-n", "--quiet", "rules"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    stats = _job_stats(out.stdout + out.stderr)
    # 5 models x 6 benchmarks x 1 temperature x 4 seeds
    assert stats["sample"] == 120
    assert stats["grade"] == 120
    assert stats["model"] == 5  # one job per model, gathered by one models job
    assert stats["models"] == 1
    assert "toyworld_base" not in stats
    assert stats["perplexity_scores"] == 1
    assert stats["findings"] == 1  # every verdict decided once, by the findings stage
    assert stats["page"] == 11  # the pages of analysis.page_registry for this config (boundary, models included)
    assert stats["book"] == 1


def _dag(config: str) -> dict[str, set[str]]:
    """The toy study's job graph: each job's label -> the labels of every job it waits for."""
    out = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--config", f"study={config}", "--dag", "-F"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    labels = {m[1]: m[2].replace("\\n", " ") for m in re.finditer(r'^\s*(\d+)\[label = "([^"]+)"', out, re.M)}
    parents: dict[str, set[str]] = {i: set() for i in labels}
    for a, b in re.findall(r"^\s*(\d+) -> (\d+)$", out, re.M):
        parents[b].add(a)

    def ancestors(i: str) -> set[str]:
        seen: set[str] = set()
        todo = list(parents[i])
        while todo:
            j = todo.pop()
            if j not in seen:
                seen.add(j)
                todo += parents[j]
        return seen

    return {labels[i]: {labels[j] for j in ancestors(i)} for i in labels}


def test_toy_models_train_as_separate_jobs_and_sampling_waits_only_for_its_model():
    """The scheduler can fill every core: the base trains alone, pages that need no model run beside
    it, and sampling a model starts when that model (not every model) is trained."""
    dag = _dag("configs/toy.yaml")
    assert dag["toyworld_base"] == set()
    assert dag["model model: base"] == {"toyworld_base"}
    assert dag["model model: rl-indist"] == {"toyworld_base"}
    assert dag["sample job: base__toyworld__T0.6__s0"] == {"model model: base", "toyworld_base"}
    assert dag["sample job: rl-indist__toyworld__T0.6__s0"] == {"model model: rl-indist", "toyworld_base"}
    for page in ("public_math500", "toyworld_algorithms"):
        assert dag[f"page page: {page}"] == set(), page
    assert dag["toyworld2"] == set()  # toy world 2's default trains beside the first world's base
    assert dag["page page: toyworld2"] == {"toyworld2"}
    assert {"models", *(f"model model: {m}" for m in ("base", "distill", "rl-easy-seed2"))} <= dag["perplexity_scores"]


def _study_config(tmp: Path, source: Path) -> Path:
    data = yaml.safe_load(source.read_text())
    data["output_root"] = str(tmp / "runs")
    path = tmp / source.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _book_copy(tmp: Path) -> Path:
    dst = tmp / "book"
    shutil.copytree(REPO / "book", dst, ignore=shutil.ignore_patterns("_build", "generated", "vega-bundle.js"))
    return dst


def _run(args: list[str], timeout: float = 1500, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False, env=env)


@pytest.mark.slow
@pytest.mark.browser
def test_reduced_toy_study_survives_a_kill_and_builds_a_book_that_draws_offline(tmp_path):
    config = _study_config(tmp_path, REPO / "configs" / "toy-mini.yaml")
    book_dir = _book_copy(tmp_path)
    study_dir = tmp_path / "runs" / "studies" / "toy-mini"
    args = [*SNAKEMAKE, "--cores", "2", "--rerun-incomplete", "--config", f"study={config}", f"book={book_dir}"]

    # First attempt: kill the whole process tree (SIGKILL) once some sampling jobs have finished
    # (two grading jobs have written their markers, so their sampling jobs were done).
    log = tmp_path / "first-attempt.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(args, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 900
    while len(list((study_dir / "grades").glob("*.json"))) < 2:
        if proc.poll() is not None:
            pytest.fail("the workflow ended before it could be interrupted:\n" + log.read_text()[-4000:])
        assert time.monotonic() < deadline, "no sampling job finished in time"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    graded = [p.stem for p in (study_dir / "grades").glob("*.json")]
    finished_before = {job: (study_dir / "samples" / f"{job}.json").stat().st_mtime_ns for job in graded}

    # Second attempt, on a machine whose first kernel start hangs past the start timeout (a busy
    # machine): completes, retrying that start, without redoing the sampling jobs that had finished.
    marker = tmp_path / "first-kernel-start"
    done = _run(args, env=os.environ | flaky_kernel(tmp_path / "jupyter", marker))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert marker.exists()
    assert "did not start" in done.stdout + done.stderr
    after = {p.stem: p.stat().st_mtime_ns for p in (study_dir / "samples").glob("*.json")}
    assert len(after) == 4
    assert {job: after[job] for job in finished_before} == finished_before

    # A third run has nothing to do.
    again = _run([*args, "-n"])
    assert "Nothing to be done" in again.stdout + again.stderr

    info = json.loads((study_dir / "book.json").read_text())
    site = book_dir / "_build" / "html"
    assert Path(info["html"]) == (site / "index.html").resolve()
    assert book.external_references(site) == []
    pages = {p.stem: p for p in (site / "generated").glob("*.html")}
    assert {"overview", "passk", "histogram", "coverage", "perplexity", "delta_se", "grading", "comparison"} <= set(
        pages
    )
    if book.chromium_executable() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    for name in ("overview", "passk", "histogram", "coverage", "perplexity", "delta_se", "reproducibility", "models"):
        html = pages[name].read_text()
        charts = html.count('class="rlvr-chart"')
        assert charts >= 1, f"{name} has no chart"
        dom = book.rendered_dom(pages[name].resolve().as_uri())
        assert dom.count('data-drawn="yes"') == charts, f"{name}: not every chart was drawn"


@pytest.mark.slow
def test_own_models_with_a_ten_line_config(tmp_path):
    from analysis.tinymodel import build_tiny_model

    build_tiny_model(tmp_path / "my-base", seed=1)
    build_tiny_model(tmp_path / "my-rl", seed=2)
    bench = tmp_path / "benchmarks" / "math500"
    bench.mkdir(parents=True)
    rows = [
        {
            "problem": "What is 1+1?",
            "answer": "2",
            "solution": "\\boxed{2}",
            "level": 1,
            "subject": "a",
            "unique_id": "a/1",
        },
        {
            "problem": "What is 2+2?",
            "answer": "4",
            "solution": "\\boxed{4}",
            "level": 1,
            "subject": "a",
            "unique_id": "a/2",
        },
        {
            "problem": "What is 3+3?",
            "answer": "6",
            "solution": "\\boxed{6}",
            "level": 2,
            "subject": "a",
            "unique_id": "a/3",
        },
    ]
    (bench / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "mine.yaml"
    config.write_text(
        f"""name: mine
title: My base model vs my RL checkpoint
output_root: {tmp_path / "runs"}
models:
  - {{name: my-base, role: base, path: {tmp_path / "my-base"}, template: plain}}
  - {{name: my-rl, role: rl, base: my-base, path: {tmp_path / "my-rl"}, template: plain}}
benchmarks:
  - {{name: math500, source: {tmp_path / "benchmarks"}}}
sampling: {{backend: hf, n: 4, seeds: [0, 1], temperatures: [1.0], max_tokens: 12}}
"""
    )
    assert len(config.read_text().splitlines()) <= 10
    book_dir = _book_copy(tmp_path)
    done = _run([*SNAKEMAKE, "--cores", "2", "--config", f"study={config}", f"book={book_dir}"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    study_dir = tmp_path / "runs" / "studies" / "mine"
    grades = sorted((study_dir / "grades").glob("*.parquet"))
    # 2 models x 2 seeds, each graded strict and paper
    assert len(grades) == 8
    import polars as pl

    strict = pl.concat([pl.read_parquet(p) for p in grades if ".strict." in p.name])
    assert strict.height == 2 * 3 * 4
    assert set(strict["model"]) == {"my-base", "my-rl"}
    assert (book_dir / "_build" / "html" / "generated" / "overview.html").is_file()
