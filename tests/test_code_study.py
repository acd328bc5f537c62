"""End to end: a code study over reference solutions and their mutations, through the grade stage,
the findings stage and the pages a code study shows.

The samples are test data written as a model would answer (code, then the closing fence and a
remark, after EvalPlus's pre-filled ```python), not the output of a mocked model. They are stored
as finished sampling runs (the run folders the sampling stage writes), so every stage and page reads
them the ordinary way. Two models, two tasks per benchmark, n = 6:

* ``reference`` (the base) answers every sample with the canonical solution;
* ``mutant`` (its RL-trained "successor") answers with one variant per sample: on the first task
  of each benchmark the reference, then a wrong return, an off-by-one, an infinite loop, a 1 TB
  allocation and prose; on the second the same, except that a program that exits while loading
  replaces the reference. So ``mutant`` solves one task of two, ``reference`` both.

Grading runs once per module (a fixture); the tests read what the stages wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import pages, schemas, stages
from analysis.code.loaders import load_tasks
from analysis.findings_stage import read_findings, run_findings
from analysis.sampling.storage import PART_SCHEMA, part_name
from analysis.store import MARKER_NAME
from analysis.study import Study

pytestmark = [pytest.mark.shared, pytest.mark.slow]

CODE_DIR = Path(os.environ.get("RLVR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks" / "code"
TASKS = {"humanevalplus": ["HumanEval/13", "HumanEval/32"], "mbppplus": ["Mbpp/17", "Mbpp/124"]}
N = 6
# the mutant's outcome per sample index, on the first task (solved) and the second (not solved)
SOLVED = ["passed", "failed", "failed", "timeout", "memory", "syntax_error"]
UNSOLVED = ["crashed", *SOLVED[1:]]


def _fence(program: str) -> str:
    return program + "\n```\n\nThis function solves the task."


def _mutations(canonical: str, entry: str, *, solved: bool) -> list[str]:
    off_by_one = (
        f"{canonical}\n_reference = {entry}\n"
        f"def {entry}(*args):\n"
        "    out = _reference(*args)\n"
        "    return out + 1 if isinstance(out, (int, float)) and not isinstance(out, bool) else out\n"
    )
    first = canonical if solved else f"import os\nos._exit(3)\n{canonical}"
    programs = [
        first,
        f"{canonical}\ndef {entry}(*args):\n    return None\n",  # wrong return
        off_by_one,
        f"def {entry}(*args):\n    while True:\n        pass\n",  # never returns
        f"def {entry}(*args):\n    return bytearray(1 << 40)\n",  # 1 TB: over the address-space limit
    ]
    return [_fence(p) for p in programs] + ["I am not sure how to solve this."]


def _config(tmp: Path) -> Path:
    cfg = {
        "name": "code-e2e",
        "title": "code study end to end",
        "output_root": str(tmp / "runs"),
        "models": [
            {"name": "reference", "role": "base", "path": "none", "template": "evalplus-qwen"},
            {"name": "mutant", "role": "rl", "base": "reference", "path": "none", "template": "evalplus-qwen"},
        ],
        "benchmarks": [{"name": name, "source": str(CODE_DIR), "n": N} for name in TASKS],
        "sampling": {"backend": "hf", "n": N, "seeds": [0], "max_tokens": 64},
        "grading": {"mode": "code", "workers": 2},
        "analysis": {"resamples": 200, "perplexity": {"enabled": False}},
    }
    path = tmp / "study.json"  # YAML is a superset of JSON
    path.write_text(json.dumps(cfg))
    return path


def _write_run(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """A finished sampling run folder holding ``rows`` (as ``analysis.sampling.storage`` lays it out)."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"test data": "reference solutions and mutations"}))
    pl.DataFrame(rows, schema=PART_SCHEMA).write_parquet(run_dir / part_name(0, 0))
    (run_dir / MARKER_NAME).write_text(json.dumps({"samples": len(rows)}))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    if not (CODE_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the code benchmark files are not at {CODE_DIR} (set RLVR_SHARED to their parent)")
    tmp = tmp_path_factory.mktemp("code-study")
    s = Study.load(_config(tmp))
    for key, job in s.jobs.items():
        tasks = load_tasks(job.benchmark, CODE_DIR)
        rows = []
        for t, pid in enumerate(TASKS[job.benchmark]):
            task = tasks[pid]
            if job.model == "reference":
                texts = [_fence(task.canonical)] * N
            else:
                texts = _mutations(task.canonical, task.entry_point, solved=t == 0)
            for i, text in enumerate(texts):
                rows.append(
                    {
                        "run_hash": f"run-{key}",
                        "model": job.model,
                        "benchmark": job.benchmark,
                        "problem_id": pid,
                        "sample_index": i,
                        "seed": job.seed,
                        "text": text,
                        "n_tokens": 10,
                        "finish_reason": "stop",
                        "ended_by": "eos",
                        "stop_string": None,
                    }
                )
        run_dir = tmp / "served" / key
        _write_run(run_dir, rows)
        s.pointer(key).parent.mkdir(parents=True, exist_ok=True)
        s.pointer(key).write_text(json.dumps({"run_dir": str(run_dir)}))
    for key in s.jobs:
        assert s.grading_modes(s.job(key).benchmark) == ["code"]
        stages.grade(s, key, progress=False)
    run_findings(s)
    return s


def test_grade_stage_grades_code(study: Study) -> None:
    for key, job in study.jobs.items():
        grades = pl.read_parquet(study.grades_path(key, "code"))
        schemas.check(grades, "grades")
        assert grades["grader"].unique().to_list() == ["code"]
        for t, (pid, part) in enumerate(grades.sort("sample_index").group_by("problem_id", maintain_order=True)):
            got = part["outcome"].to_list()
            if job.model == "reference":
                assert got == ["passed"] * N, (key, pid, part.select("outcome", "detail").rows())
            else:
                assert got == (SOLVED if t == 0 else UNSOLVED), (key, pid, part.select("outcome", "detail").rows())
            assert part["correct"].to_list() == [o == "passed" for o in got]
        timeouts = grades.filter(pl.col("outcome") == "timeout")
        assert timeouts["status"].unique().to_list() == (["timeout"] if job.model == "mutant" else [])
        assert timeouts["retried"].all()
        assert grades.filter(pl.col("outcome") == "passed")["base_passed"].all()
        off_by_one = grades.filter(pl.col("sample_index") == 2)
        if job.model == "mutant":
            assert off_by_one["base_passed"].to_list() == [False, False]  # wrong on the first base input
            assert off_by_one["detail"].str.starts_with("test 0 (base)").all()
            crashed = grades.filter(pl.col("outcome") == "crashed")["detail"].to_list()
            assert len(crashed) == 1
            assert "exit status 3" in crashed[0]
    counts = study.counts()
    c = {(r["model"], r["problem_id"]): (r["c"], r["n"]) for r in counts.iter_rows(named=True)}
    for pids in TASKS.values():
        assert c[("reference", pids[0])] == c[("reference", pids[1])] == (N, N)
        assert c[("mutant", pids[0])] == (1, N)
        assert c[("mutant", pids[1])] == (0, N)


def test_grading_page_counts_outcomes_per_model(study: Study) -> None:
    page = pages.grading_page(study)
    summary = {(r["model"], r["benchmark"]): r for r in page.summary.iter_rows(named=True)}
    assert len(summary) == 4
    for bench in TASKS:
        ref, mut = summary[("reference", bench)], summary[("mutant", bench)]
        assert ref["grader"] == mut["grader"] == "code"
        assert (ref["n"], ref["n_correct"], ref["outcome_passed"]) == (2 * N, 2 * N, 2 * N)
        assert sum(ref[f"outcome_{o}"] for o in ("failed", "timeout", "memory", "crashed", "syntax_error")) == 0
        expected = {"passed": 1, "failed": 4, "timeout": 2, "memory": 2, "crashed": 1, "syntax_error": 2}
        assert {o: mut[f"outcome_{o}"] for o in expected} == expected
        assert (mut["n"], mut["n_correct"], mut["n_timeout"], mut["n_retried"]) == (2 * N, 1, 2, 2)
        assert mut["upper_bound"] is False
    endings = page.endings.filter(pl.col("model") == "mutant")
    assert endings["eos"].to_list() == [1.0, 1.0]


def test_pass_at_k_page(study: Study) -> None:
    page = pages.pass_at_k_page(study)
    table = {(r["benchmark"], r["model"]): r for r in page.table.iter_rows(named=True)}
    for bench in TASKS:
        # reference: every sample passes; mutant: one task with c = 1 of 6 (pass@k = k/6), one with c = 0
        assert [table[(bench, "reference")][str(k)] for k in (1, 2, 4, 6)] == [100.0] * 4
        assert [table[(bench, "mutant")][str(k)] for k in (1, 2, 4, 6)] == [8.3, 16.7, 33.3, 50.0]
    assert page.crossovers.height == 2
    assert page.crossovers["crossover k"].null_count() == 2  # the mutant never catches up


def test_coverage_and_histogram_pages(study: Study) -> None:
    cov = pages.coverage_page(study)
    splits = cov.splits.sort("benchmark")
    assert splits["benchmark"].to_list() == sorted(TASKS)
    assert splits.select("both", "base only", "other only", "neither").rows() == [(1, 1, 0, 0)] * 2
    lists = cov.problem_lists
    assert sorted(lists["problem_id"].to_list()) == sorted(pids[1] for pids in TASKS.values())
    hist = pages.histogram_page(study)
    h = {(r["benchmark"], r["model"], r["bin"]): r["count"] for r in hist.histogram.iter_rows(named=True)}
    for bench in TASKS:
        assert h[(bench, "reference", "1")] == 2
        assert (h[(bench, "mutant", "0")], h[(bench, "mutant", "(0.1, 0.2]")]) == (1, 1)
        assert sum(v for (b, m, _), v in h.items() if (b, m) == (bench, "mutant")) == 2
    cover = {(r["benchmark"], r["model"]): r for r in hist.cover.iter_rows(named=True)}
    for bench in TASKS:
        assert cover[(bench, "reference")]["0.75"] == 1.0
        assert (cover[(bench, "mutant")]["0.1"], cover[(bench, "mutant")]["0.25"]) == (0.5, 0.0)


def test_delta_se_findings_and_overview(study: Study) -> None:
    dse = pages.delta_se_page(study).table.sort("benchmark")
    assert dse["k"].to_list() == [N, N]
    assert dse["base_pass_at_k"].to_list() == [1.0, 1.0]
    assert dse["delta"].to_list() == pytest.approx([1 - 1 / 12] * 2)
    found = read_findings(study).sort("benchmark")
    assert found["grader"].to_list() == ["code", "code"]
    assert found["primary"].all()
    assert found["pass@1 other"].to_list() == pytest.approx([1 / 12] * 2)
    assert found["pass@n other"].to_list() == pytest.approx([0.5] * 2)
    assert found.select("other only", "base only", "both").rows() == [(0, 1, 1)] * 2
    assert found["outcome"].to_list() == ["worse", "worse"]
    overview = pages.overview_page(study)
    assert overview.findings["outcome"].to_list() == ["worse", "worse"]
    assert "code" in overview.answer.data
    assert "humanevalplus" in overview.description.data
