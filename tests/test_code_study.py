"""End to end: a samples table of reference solutions and their mutations, graded by the
study's grade stage (``Study.grade`` dispatches code benchmarks to ``analysis.code``).

The samples are test data written as a model would answer (code, then the closing fence and a
remark, after EvalPlus's pre-filled ```python), not the output of a mocked model; only the
sampling stage's storage is bypassed (the pointer of each job names a folder whose samples the
test serves).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from analysis import schemas
from analysis.code.loaders import load_tasks
from analysis.study import Study

CODE_DIR = Path(os.environ.get("RLVR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks" / "code"
TASKS = {"humanevalplus": ["HumanEval/13", "HumanEval/32"], "mbppplus": ["Mbpp/17", "Mbpp/124"]}
EXPECTED = [
    ("passed", True),  # the reference solution
    ("failed", False),  # returns None
    ("failed", False),  # off by one
    ("timeout", False),  # never returns
    ("syntax_error", False),  # prose, no code
]


def _variants(canonical: str, entry: str) -> list[str]:
    off_by_one = (
        f"{canonical}\n_reference = {entry}\n"
        f"def {entry}(*args):\n"
        "    out = _reference(*args)\n"
        "    return out + 1 if isinstance(out, (int, float)) and not isinstance(out, bool) else out\n"
    )
    programs = [
        canonical,
        f"{canonical}\ndef {entry}(*args):\n    return None\n",
        off_by_one,
        f"def {entry}(*args):\n    while True:\n        pass\n",
    ]
    return [p + "\n```\n\nThis function solves the task." for p in programs] + ["I am not sure how to solve this."]


def _config(tmp_path: Path) -> Path:
    cfg = {
        "name": "code-e2e",
        "title": "code grading end to end",
        "output_root": str(tmp_path / "runs"),
        "models": [
            {"name": "base", "role": "base", "path": "none", "template": "evalplus-qwen"},
            {"name": "tuned", "role": "rl", "base": "base", "path": "none", "template": "evalplus-qwen"},
        ],
        "benchmarks": [{"name": name, "source": str(CODE_DIR), "n": 5} for name in TASKS],
        "sampling": {"backend": "hf", "n": 5, "seeds": [0], "max_tokens": 64},
        "grading": {"mode": "code", "workers": 2},
        "analysis": {"perplexity": {"enabled": False}},
    }
    path = tmp_path / "study.json"  # YAML is a superset of JSON
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.shared
@pytest.mark.slow
def test_study_grade_stage_grades_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (CODE_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the code benchmark files are not at {CODE_DIR}")
    study = Study.load(_config(tmp_path))
    served: dict[str, pl.DataFrame] = {}
    for key, job in study.jobs.items():
        tasks = load_tasks(job.benchmark, CODE_DIR)
        rows = []
        for pid in TASKS[job.benchmark]:
            for i, text in enumerate(_variants(tasks[pid].canonical, tasks[pid].entry_point)):
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
                    }
                )
        run_dir = tmp_path / "served" / key
        served[str(run_dir)] = schemas.conform(pl.DataFrame(rows), "samples")
        study.pointer(key).parent.mkdir(parents=True, exist_ok=True)
        study.pointer(key).write_text(json.dumps({"run_dir": str(run_dir)}))
    monkeypatch.setattr("analysis.sampling.load_samples", lambda run_dir, **_: served[str(run_dir)].lazy())

    for key in study.jobs:
        assert study.grading_modes(study.job(key).benchmark) == ["code"]
        files = study.grade(key, progress=False)
        grades = pl.read_parquet(files["code"])
        schemas.check(grades, "grades")
        assert grades["grader"].unique().to_list() == ["code"]
        for pid, part in grades.sort("sample_index").group_by("problem_id", maintain_order=True):
            got = list(zip(part["outcome"].to_list(), part["correct"].to_list(), strict=True))
            assert got == EXPECTED, (key, pid, part.select("outcome", "detail").rows())
        timeouts = grades.filter(pl.col("outcome") == "timeout")
        assert timeouts["status"].unique().to_list() == ["timeout"]
        assert timeouts["retried"].all()
        assert grades.filter(pl.col("outcome") == "passed")["base_passed"].all()
    counts = study.counts()
    assert counts["c"].unique().to_list() == [1]
    assert counts["n"].unique().to_list() == [5]
