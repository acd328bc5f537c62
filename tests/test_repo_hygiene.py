"""Repository rules: one dependency list, clean notebooks, lint and format."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_the_project_and_nothing_else():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [d for d in deps if isinstance(d, dict)]
    assert sorted(c.split("=")[0] for c in conda) == ["pip", "python"]
    assert pip == [{"pip": ["-e .[dev]"]}], "environment.yml must install the project from pyproject.toml only"
    py = next(c for c in conda if c.startswith("python="))
    major_minor = tuple(int(x) for x in py.split("=")[1].split(".")[:2])
    low = re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"])
    high = re.search(r"<\s*(\d+)\.(\d+)", project["requires-python"])
    assert low
    assert major_minor >= (int(low[1]), int(low[2]))
    assert high is None or major_minor < (int(high[1]), int(high[2]))
    assert "dev" in project["optional-dependencies"]


def test_torch_and_vllm_pins_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]
    assert "torch==2.13.0" in deps, "vllm 0.32.0 requires torch==2.13.0 exactly"
    assert "vllm==0.32.0" in project["optional-dependencies"]["gpu"]
    transformers = next(d for d in deps if d.startswith("transformers"))
    assert "<5.20" in transformers, "vllm 0.32.0 accepts transformers<5.20"


def _notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert _notebooks(), "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_clean_with_a_parameters_cell(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") for c in code), f"{path.name} has outputs: strip them before committing"
    assert all(c.get("execution_count") is None for c in code), f"{path.name} has execution counts"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_ruff_lint_and_format_are_clean():
    ruff = Path(sys.executable).with_name("ruff")
    check = subprocess.run([str(ruff), "check", "--quiet", str(REPO)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run(
        [str(ruff), "format", "--check", "--quiet", str(REPO)], capture_output=True, text=True, check=False
    )
    assert fmt.returncode == 0, "ruff format would change:\n" + fmt.stdout + fmt.stderr
