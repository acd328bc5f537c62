"""A benchmark graded on public tests only (LiveCodeBench without its hidden tests) is called an
upper bound on every page that shows its results, and only then."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from analysis.pages.common import upper_bound_note
from analysis.study import Study


def _study(tmp_path: Path) -> Study:
    cfg = {
        "name": "lcb-bound",
        "title": "upper bound labelling",
        "output_root": str(tmp_path / "runs"),
        "models": [
            {"name": "base", "role": "base", "path": "none", "template": "evalplus-qwen"},
            {"name": "tuned", "role": "rl", "base": "base", "path": "none", "template": "evalplus-qwen"},
        ],
        "benchmarks": [
            {"name": "livecodebench_v5", "source": str(tmp_path / "code"), "n": 2},
            {"name": "humanevalplus", "source": str(tmp_path / "code"), "n": 2},
        ],
        "sampling": {"backend": "hf", "n": 2, "seeds": [0], "max_tokens": 64},
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return Study.load(path)


def _grades(study: Study, bench: str, upper_bound: bool) -> None:
    for key, job in study.jobs.items():
        if job.benchmark != bench:
            continue
        path = study.grades_path(key, "code")
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(
            {"problem_id": ["a", "b"], "correct": [True, False], "upper_bound": [upper_bound] * 2}
        ).write_parquet(path)


def test_public_tests_only_make_an_upper_bound_note(tmp_path):
    study = _study(tmp_path)
    assert upper_bound_note(study) is None  # nothing graded yet: no claim either way
    _grades(study, "humanevalplus", upper_bound=False)
    _grades(study, "livecodebench_v5", upper_bound=False)
    assert study.upper_bound_benchmarks() == []
    assert upper_bound_note(study) is None  # full tests (hub, md5-verified): no caveat
    _grades(study, "livecodebench_v5", upper_bound=True)
    assert study.upper_bound_benchmarks() == ["livecodebench_v5"]
    note = upper_bound_note(study)
    assert note is not None
    assert "`livecodebench_v5` is graded on public tests only" in note
    assert "humanevalplus" not in note
