"""Publishing: `make publish` writes a site for any static host, a build leaves the tracked files as
they were, and the GitHub Pages workflow is well formed."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from book_fixture import REPO, chart_notebook, execute

from analysis import book
from analysis.study import Study

WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def test_the_pages_workflow_builds_a_study_and_deploys_the_published_site():
    data = yaml.safe_load(WORKFLOW.read_text())  # a YAML syntax error fails here
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert {"push", "workflow_dispatch"} <= set(triggers)
    assert data["permissions"]["pages"] == "write"
    assert data["permissions"]["id-token"] == "write"
    build, deploy = data["jobs"]["build"], data["jobs"]["deploy"]
    uses = [s.get("uses", "") for s in build["steps"]]
    runs = " ".join(s.get("run", "") for s in build["steps"])
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert "make study" in runs
    assert "make publish" in runs
    assert runs.index("make study") < runs.index("make publish")
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "book/_build/site"  # where `make publish` writes the site
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_make_publish_runs_the_publisher():
    makefile = (REPO / "Makefile").read_text()
    target = makefile.split("\npublish:", 1)[1].split("\n\n", 1)[0]
    assert "-m analysis.book publish $(CONFIG)" in target
    assert "publish" in next(line for line in makefile.splitlines() if line.startswith(".PHONY"))


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_publish_writes_a_static_site_and_leaves_the_tracked_files_unchanged(tmp_path):
    # A repository holding what this one tracks of the book, and its .gitignore.
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    tracked = subprocess.run(
        ["git", "ls-files", "book", ".gitignore"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in [*tracked, *(p.relative_to(REPO).as_posix() for p in (REPO / "book").rglob("*.md"))]:
        if (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, repo / name)
    shutil.copytree(REPO / "book" / "_static", repo / "book" / "_static", dirs_exist_ok=True)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "book")
    assert _git(repo, "status", "--porcelain") == ""

    # A study whose workflow has run its root page (the fixture's chart page stands in for it).
    config = tmp_path / "fixture.yaml"
    config.write_text(
        f"name: fixture\ntitle: A fixture study\noutput_root: {tmp_path / 'runs'}\n"
        f"models:\n  - {{name: b, role: base, path: {tmp_path / 'b'}, template: plain}}\n"
        f"  - {{name: r, role: rl, base: b, path: {tmp_path / 'r'}, template: plain}}\n"
        f"benchmarks:\n  - {{name: math500, source: {tmp_path / 'bench'}}}\n"
        "sampling: {backend: hf, n: 4, seeds: [0], temperatures: [1.0], max_tokens: 8}\n"
    )
    study = Study.load(config)
    chart_notebook(tmp_path / "chart.ipynb")
    execute(tmp_path / "chart.ipynb", study.dir / "notebooks" / "pages" / "overview.ipynb", points=4)

    site = book.publish(study, repo / "book")

    assert _git(repo, "status", "--porcelain") == "", "the build wrote into tracked files"
    assert site == repo / "book" / "_build" / "site"
    assert (site / "index.html").is_file()
    assert (site / "generated" / "overview.html").is_file()
    assert (site / "methods.html").is_file()
    assert (site / ".nojekyll").is_file()
    assert book.external_references(site) == []
    if book.chromium_executable() is not None:
        assert (site / "report.pdf").read_bytes().startswith(b"%PDF")
    with tarfile.open(site.with_name("site.tar.gz")) as tar:
        assert "site/index.html" in tar.getnames()
    info = json.loads((study.dir / "book.json").read_text())
    assert info["config_hash"] == study.config.hash
    toc = yaml.safe_load((repo / "book" / "_build" / "_toc.yml").read_text())
    assert toc["root"] == "generated/overview"
