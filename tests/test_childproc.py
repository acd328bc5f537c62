"""The child-process protocol: a child is judged by its output and marker, not by its exit status.

The children here are small Python scripts (no vLLM): they write output the way a vLLM child
does and then abort, hang, exit early or write too little.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from analysis import childproc
from analysis.childproc import ChildFailed, check_output, marker_path, run_child

ROWS = 5


def child(tmp_path: Path, body: str) -> list[str]:
    """A command that runs ``body`` with ``out`` (the output path) and ``pl``/``os``/``childproc`` bound."""
    script = tmp_path / "child.py"
    script.write_text(
        "import os, sys, time\nimport polars as pl\nfrom analysis import childproc\n"
        f"out = {str(tmp_path / 'out.parquet')!r}\n" + textwrap.dedent(body),
        encoding="utf-8",
    )
    return [sys.executable, str(script)]


def frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"nll_mean": [0.5] * rows, "n_tokens": list(range(rows))})


WRITE = (
    "childproc.write_parquet_output("
    f"pl.DataFrame({{'nll_mean': [0.5] * {ROWS}, 'n_tokens': list(range({ROWS}))}}), out)\n"
)


def test_complete_output_then_abort_is_a_success_with_a_warning_naming_sigabrt(tmp_path, caplog):
    cmd = child(tmp_path, WRITE + "print('engine teardown', flush=True)\nos.abort()\n")
    with caplog.at_level(logging.WARNING, logger="analysis.childproc"):
        result = run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS, what="scoring child")
    assert result.returncode == -6
    assert result.marker["rows"] == ROWS
    assert pl.read_parquet(tmp_path / "out.parquet").equals(frame(ROWS))
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "scoring child" in record.getMessage()
    assert "SIGABRT" in record.getMessage()
    assert "engine teardown" in record.getMessage()  # the last log line says where it died


def test_a_clean_exit_logs_nothing(tmp_path, caplog):
    cmd = child(tmp_path, WRITE)
    with caplog.at_level(logging.WARNING, logger="analysis.childproc"):
        result = run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS)
    assert result.returncode == 0
    assert not caplog.records


def test_abort_before_the_output_fails_with_the_last_log_lines(tmp_path):
    body = """
        for i in range(100):
            print(f'log line {i}', file=sys.stderr if i % 2 else sys.stdout, flush=True)
        os.abort()
    """
    with pytest.raises(ChildFailed) as caught:
        run_child(child(tmp_path, body), output=tmp_path / "out.parquet", expected_rows=ROWS, what="scoring child")
    message = str(caught.value)
    assert "scoring child ended with SIGABRT (exit -6)" in message
    assert "no completion marker" in message
    assert all(f"log line {i}\n" in message + "\n" for i in range(60, 100))  # the last 40 lines, both streams
    assert "log line 59\n" not in message
    assert caught.value.returncode == -6


def test_short_output_fails(tmp_path):
    cmd = child(tmp_path, "childproc.write_parquet_output(pl.DataFrame({'a': [1, 2, 3]}), out)\n")
    with pytest.raises(ChildFailed, match=rf"the marker says 3 rows, {ROWS} were expected"):
        run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS)


def test_output_without_a_marker_fails_even_with_exit_0(tmp_path):
    cmd = child(tmp_path, f"pl.DataFrame({{'a': list(range({ROWS}))}}).write_parquet(out)\n")
    with pytest.raises(ChildFailed, match=r"ended with exit 0 without complete output \(no completion marker"):
        run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS)


def test_stale_output_from_an_earlier_run_does_not_count(tmp_path):
    out = tmp_path / "out.parquet"
    childproc.write_parquet_output(frame(ROWS), out)
    assert check_output(out, ROWS) is None
    with pytest.raises(ChildFailed, match="no completion marker"):
        run_child(child(tmp_path, "sys.exit(3)\n"), output=out, expected_rows=ROWS)
    assert not out.exists()


def test_check_output_catches_a_changed_or_short_file(tmp_path):
    out = tmp_path / "out.parquet"
    childproc.write_parquet_output(frame(ROWS), out)
    assert check_output(out, ROWS) is None
    assert check_output(out) is None
    frame(ROWS - 1).write_parquet(out)  # replaced after the marker
    assert "does not match its marker" in check_output(out, ROWS)
    marker_path(out).write_text("{not json", encoding="utf-8")
    assert "unreadable marker" in check_output(out, ROWS)
    out.unlink()
    assert "the output out.parquet does not" in check_output(out, ROWS)


def test_a_parquet_whose_rows_differ_from_its_marker_fails(tmp_path):
    out = tmp_path / "out.parquet"
    frame(ROWS - 1).write_parquet(out)
    childproc.write_marker(out, ROWS)  # a marker that claims more rows than the file has
    assert check_output(out, ROWS) == f"out.parquet holds {ROWS - 1} rows, {ROWS} were expected"


def test_json_output(tmp_path):
    out = tmp_path / "report.json"
    cmd = child(tmp_path, f"childproc.write_json_output({{'runs': 2}}, {str(out)!r}, rows=2)\nos.abort()\n")
    result = run_child(cmd, output=out, expected_rows=2)
    assert result.marker == {**result.marker, "rows": 2, "output": "report.json"}


def test_a_child_that_hangs_after_its_marker_is_killed_and_its_output_kept(tmp_path, caplog):
    cmd = child(tmp_path, WRITE + "time.sleep(600)\n")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="analysis.childproc"):
        result = run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS, teardown_grace_s=0.5)
    assert time.monotonic() - started < 60
    assert result.returncode is None
    assert "had not exited 0.5 s after its marker" in caplog.text


def test_timeout_without_output_fails(tmp_path):
    cmd = child(tmp_path, "print('still loading', flush=True)\ntime.sleep(600)\n")
    with pytest.raises(ChildFailed, match=r"timed out after 2 s without complete output[\s\S]*still loading"):
        run_child(cmd, output=tmp_path / "out.parquet", timeout=2)


def test_what_the_child_started_dies_with_it(tmp_path):
    # like vLLM's engine core: a grandchild that would outlive its aborted parent
    body = """
        import subprocess
        grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
        open(out + '.pid', 'w').write(str(grandchild.pid))
    """
    cmd = child(tmp_path, textwrap.dedent(body) + WRITE + "os.abort()\n")
    run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS)
    pid = int((tmp_path / "out.parquet.pid").read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Running (a killed orphan may linger as a zombie until init reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_exit_now_skips_interpreter_teardown(tmp_path):
    body = """
        import atexit
        atexit.register(lambda: open(out + '.atexit', 'w').write('ran'))
    """
    cmd = child(
        tmp_path, textwrap.dedent(body) + WRITE + "print('flushed by exit_now', end='')\nchildproc.exit_now(0)\n"
    )
    result = run_child(cmd, output=tmp_path / "out.parquet", expected_rows=ROWS)
    assert result.returncode == 0
    assert not (tmp_path / "out.parquet.atexit").exists()
    assert result.log.read_text().endswith("flushed by exit_now")


@pytest.mark.parametrize(
    ("code", "text"), [(-6, "SIGABRT (exit -6)"), (-9, "SIGKILL (exit -9)"), (1, "exit 1"), (-200, "signal 200")]
)
def test_describe_status(code, text):
    assert childproc.describe_status(code).startswith(text)


def test_environment_is_passed(tmp_path):
    cmd = child(tmp_path, "assert os.environ['CHILD_FLAG'] == 'on'\n" + WRITE)
    run_child(cmd, output=tmp_path / "out.parquet", env={**os.environ, "CHILD_FLAG": "on"})
