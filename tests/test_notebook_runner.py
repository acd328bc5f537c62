"""Stage notebooks survive a failed kernel start; real errors still fail at once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from papermill.exceptions import PapermillExecutionError

from analysis import notebook_runner as nr


def test_a_failed_kernel_start_is_retried_and_then_succeeds():
    calls = []

    def execute(*args, **kwargs):
        calls.append(kwargs["start_timeout"])
        if len(calls) == 1:
            raise RuntimeError("Kernel didn't respond in 60 seconds")

    nr.run_notebook("a.ipynb", "b.ipynb", {"config": "x"}, execute=execute, pause_s=0)
    assert calls == [nr.DEFAULT_START_TIMEOUT_S] * 2


def test_errors_inside_the_notebook_fail_at_once():
    calls = []

    def execute(*args, **kwargs):
        calls.append(1)
        raise PapermillExecutionError(0, 1, "boom", "ValueError", "bad value", [])

    with pytest.raises(PapermillExecutionError):
        nr.run_notebook("a.ipynb", "b.ipynb", {}, execute=execute, pause_s=0)
    assert calls == [1]


def test_retries_are_bounded():
    calls = []

    def execute(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Kernel died before replying to kernel_info")

    with pytest.raises(RuntimeError, match="Kernel died"):
        nr.run_notebook("a.ipynb", "b.ipynb", {}, execute=execute, retries=2, pause_s=0)
    assert len(calls) == 3


def test_start_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(nr.START_TIMEOUT_ENV, "12.5")
    assert nr.start_timeout() == 12.5
    monkeypatch.setenv(nr.START_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="positive number of seconds"):
        nr.start_timeout()


def flaky_kernel(folder: Path, marker: Path, hang_s: int = 120) -> dict[str, str]:
    """A ``python3`` kernelspec whose first start hangs (past any short start timeout) and whose
    later starts are an ordinary ipykernel; returns the environment that selects it."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "flaky-kernel"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import os, sys, time
            marker = {str(marker)!r}
            if not os.path.exists(marker):
                open(marker, "w").close()
                time.sleep({hang_s})
                sys.exit(1)
            os.execv({sys.executable!r}, [{sys.executable!r}, "-m", "ipykernel_launcher", *sys.argv[1:]])
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps({"argv": [str(script), "-f", "{connection_file}"], "display_name": "flaky", "language": "python"})
    )
    return {"JUPYTER_PATH": str(folder), nr.START_TIMEOUT_ENV: "20"}


@pytest.mark.slow
def test_a_real_notebook_survives_a_hanging_first_kernel(tmp_path):
    marker = tmp_path / "first-start-happened"
    env = os.environ | flaky_kernel(tmp_path / "jupyter", marker)
    nb = tmp_path / "nb.ipynb"
    nb.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {"tags": ["parameters"]},
                        "source": "x = 1",
                        "outputs": [],
                        "execution_count": None,
                    },
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "source": "print(x * 2)",
                        "outputs": [],
                        "execution_count": None,
                    },
                ],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "analysis.notebook_runner", str(nb), str(out), "-p", "x", "21"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert marker.exists()
    assert "did not start" in done.stderr
    text = json.loads(out.read_text())["cells"][-1]["outputs"][0]["text"]
    assert "".join(text).strip() == "2121"  # parameters arrive as strings, as in the workflow
