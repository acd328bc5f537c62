"""JupyterLab opens the project's notebooks with the project's environment as the kernel."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analysis import book

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("lab") / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter-lab")),
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={REPO}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; see {log.name}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_kernel_is_the_project_environment(lab_url):
    with urllib.request.urlopen(f"{lab_url}/api/kernelspecs", timeout=10) as r:
        specs = json.load(r)
    argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
    # jupyter_client runs "python" kernels with the server's own interpreter: the project's venv.
    assert argv[0] in ("python", "python3", sys.executable)


@pytest.mark.browser
def test_notebook_list_and_an_opened_notebook_render(lab_url):
    if book.chromium_executable() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    first = notebooks[0]
    dom = book.rendered_dom(f"{lab_url}/lab/tree/notebooks/{first}", budget_ms=25000, timeout=180)
    listed = set(re.findall(r'class="jp-DirListing-itemText"[^>]*>(?:<span[^>]*>)?([^<]+)<', dom))
    assert set(notebooks) <= listed, f"file browser shows {sorted(listed)}"
    assert "jp-Notebook" in dom
    source = json.loads((REPO / "notebooks" / first).read_text())
    first_code = next(c for c in source["cells"] if c["cell_type"] == "code")
    first_line = "".join(first_code["source"]).splitlines()[0].strip()
    assert first_line.split()[0] in dom  # the opened notebook's cells are on screen
