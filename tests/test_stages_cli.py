"""``python -m analysis.stages``: the command the workflow's stage rules run; bad input fails
clearly, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis import stages

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "configs" / "toy-mini.yaml")


def test_sample_without_a_job_names_the_jobs(capsys):
    with pytest.raises(SystemExit):
        stages.main(["sample", CONFIG])
    err = capsys.readouterr().err
    assert "needs a job key" in err
    assert "base__toyworld__T1__s0" in err  # the study's job keys are listed


def test_an_unknown_job_is_a_clear_error():
    with pytest.raises(KeyError, match="no sampling job 'nope'"):
        stages.main(["grade", CONFIG, "nope"])


def test_an_unknown_stage_is_refused():
    done = subprocess.run(
        [sys.executable, "-m", "analysis.stages", "train", CONFIG], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "invalid choice: 'train'" in done.stderr


def test_the_model_stage_needs_a_model_name(capsys):
    with pytest.raises(SystemExit):
        stages.main(["model", CONFIG])
    err = capsys.readouterr().err
    assert "needs a model name" in err
    assert "rl-indist" in err  # the study's models are listed


def test_gathering_models_before_their_records_exist_is_a_clear_error(tmp_path):
    import yaml

    from analysis.models_stage import gather_models, write_model_record
    from analysis.study import Study

    data = yaml.safe_load(Path(CONFIG).read_text())
    data["output_root"] = str(tmp_path / "runs")
    data.pop("toyworld")
    data["models"] = [
        {"name": "b", "role": "base", "path": str(tmp_path / "b"), "template": "bare"},
        {"name": "r", "role": "rl", "base": "b", "path": "org/model", "revision": "abc123", "template": "bare"},
    ]
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(data))
    study = Study.load(config)
    with pytest.raises(FileNotFoundError, match="model 'b' has no record yet"):
        gather_models(study)
    assert write_model_record(study, "b") == {"path": str(tmp_path / "b"), "revision": None, "role": "base"}
    write_model_record(study, "r")
    manifest = gather_models(study)
    assert manifest["r"] == {"path": "org/model", "revision": "abc123", "role": "rl"}
    assert study.models() == manifest
    assert study.model_entry("b")["role"] == "base"
