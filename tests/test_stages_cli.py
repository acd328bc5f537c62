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
