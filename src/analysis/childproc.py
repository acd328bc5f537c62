"""Child processes judged by the output they leave, not by their exit status.

vLLM on CPU sometimes aborts (SIGABRT, "terminate called without an active exception") while a
process that used it shuts down, after all its work is done and written. A parent that trusted
the exit status would throw that work away (at paper scale: hours of GPU time), so the project
runs such children under this protocol:

* The child writes its output atomically (``analysis.store``) and then a completion marker
  next to it, ``<output>.done.json`` (rows, byte count, SHA-256 of the output), before it shuts
  any engine down (``write_parquet_output`` / ``write_json_output``). It may then leave at once
  with ``exit_now`` so that no interpreter teardown runs at all.
* The parent (``run_child``) removes stale output and marker, runs the child in its own process
  group with stdout and stderr in a log file, and judges it with ``check_output``: output and
  marker present, the hash and (where asked) the row count match → success, whatever the exit
  status; a non-zero status is then logged as a warning that names the signal. Anything else
  raises ``ChildFailed`` with the child's last log lines. A child that hangs after its marker
  is killed after ``teardown_grace_s``; whatever the child leaves behind in its process group
  (e.g. an orphaned vLLM engine core) is killed once it has exited.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from analysis.store import atomic_write_json, atomic_write_parquet, file_sha256

logger = logging.getLogger(__name__)

MARKER_SUFFIX = ".done.json"
TAIL_LINES = 40
_POLL_S = 0.1


class ChildFailed(RuntimeError):
    """A child process left no complete output; the message holds its last log lines."""

    def __init__(self, message: str, *, returncode: int | None, tail: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.tail = tail


@dataclass(frozen=True)
class ChildResult:
    """A child whose output is complete.

    ``returncode`` is ``None`` when ``run_child`` killed it (it had not exited after its marker).
    """

    returncode: int | None
    marker: dict[str, Any]
    log: Path


def marker_path(output: str | os.PathLike[str]) -> Path:
    """The completion marker that belongs to ``output``."""
    output = Path(output)
    return output.with_name(output.name + MARKER_SUFFIX)


def write_marker(output: str | os.PathLike[str], rows: int | None) -> dict[str, Any]:
    """Write ``output``'s completion marker (call it once ``output`` is complete and in place)."""
    output = Path(output)
    marker = {"output": output.name, "rows": rows, "bytes": output.stat().st_size, "sha256": file_sha256(output)}
    atomic_write_json(marker, marker_path(output))
    return marker


def write_parquet_output(frame: pl.DataFrame, output: str | os.PathLike[str]) -> dict[str, Any]:
    """Child side: write ``frame`` to ``output`` atomically, then its marker (rows = height)."""
    marker_path(output).unlink(missing_ok=True)
    atomic_write_parquet(frame, output)
    return write_marker(output, frame.height)


def write_json_output(obj: Any, output: str | os.PathLike[str], rows: int | None = None) -> dict[str, Any]:
    """Child side: write ``obj`` as JSON to ``output`` atomically, then its marker."""
    marker_path(output).unlink(missing_ok=True)
    atomic_write_json(obj, output)
    return write_marker(output, rows)


def exit_now(code: int = 0) -> NoReturn:
    """Child side: flush stdio and logging, then leave without interpreter teardown (``os._exit``).

    Call it only after the output and its marker are written: no ``finally`` blocks, atexit
    hooks or C++ static destructors run after it, which is the point (see the module docstring).
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def shutdown_vllm(llm: Any) -> None:
    """Stop a ``vllm.LLM``'s engine core processes now, in order, rather than from finalizers
    while the interpreter exits (what aborts; see the module docstring). Safe to call twice."""
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    shutdown = getattr(core, "shutdown", None)
    if callable(shutdown):
        shutdown()
    gc.collect()


def check_output(output: str | os.PathLike[str], expected_rows: int | None = None) -> str | None:
    """``None`` when ``output`` and its marker are complete and agree, else what is wrong."""
    output, marker_file = Path(output), marker_path(output)
    if not marker_file.is_file():
        return f"no completion marker {marker_file.name}"
    if not output.is_file():
        return f"the marker exists but the output {output.name} does not"
    try:
        marker = _read_marker(marker_file)
    except ValueError as e:
        return f"unreadable marker {marker_file.name}: {e}"
    if marker.get("bytes") != output.stat().st_size or marker.get("sha256") != file_sha256(output):
        return f"{output.name} does not match its marker (size or SHA-256 differ)"
    if expected_rows is not None:
        if marker.get("rows") != expected_rows:
            return f"the marker says {marker.get('rows')} rows, {expected_rows} were expected"
        if output.suffix == ".parquet":
            rows = pl.scan_parquet(output).select(pl.len()).collect().item()
            if rows != expected_rows:
                return f"{output.name} holds {rows} rows, {expected_rows} were expected"
    return None


def _read_marker(path: Path) -> dict[str, Any]:
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(str(e)) from e
    if not isinstance(marker, dict):
        msg = "not a JSON object"
        raise ValueError(msg)
    return marker


def describe_status(returncode: int | None) -> str:
    """``SIGABRT (exit -6)``, ``exit 1``, … for a ``subprocess`` return code."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"{signal.Signals(-returncode).name} (exit {returncode})"
        except ValueError:
            return f"signal {-returncode} (exit {returncode})"
    return f"exit {returncode}"


def log_tail(log: str | os.PathLike[str], lines: int = TAIL_LINES, max_bytes: int = 256 * 1024) -> str:
    """The last ``lines`` lines of a log file (reads at most ``max_bytes`` from its end)."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


def run_child(
    cmd: Sequence[str],
    *,
    output: str | os.PathLike[str],
    expected_rows: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log: str | os.PathLike[str] | None = None,
    what: str = "child process",
    teardown_grace_s: float = 120.0,
    tail_lines: int = TAIL_LINES,
) -> ChildResult:
    """Run ``cmd`` and judge it by ``output`` (see the module docstring).

    ``env``: the child's whole environment (default: this process's). ``log``: where the child's
    stdout and stderr go (default ``<output>.log``). ``timeout``: seconds until the child's
    process group is killed; output that is complete by then still counts. Raises
    ``ChildFailed`` when the output is missing, short or does not match its marker.
    """
    output = Path(output)
    log = Path(log) if log is not None else output.with_name(output.name + ".log")
    output.unlink(missing_ok=True)
    marker_path(output).unlink(missing_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    killed_after_marker = timed_out = False
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            list(cmd),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: grandchildren can be killed with it
        )
        try:
            marker_seen: float | None = None
            while not _exited(proc.pid):
                now = time.monotonic()
                if marker_seen is None and marker_path(output).is_file():
                    marker_seen = now
                if marker_seen is not None and now - marker_seen > teardown_grace_s:
                    killed_after_marker = True
                    break
                if timeout is not None and now - started > timeout:
                    timed_out = True
                    break
                time.sleep(_POLL_S)
        finally:
            # the group also holds what the child started (vLLM's engine core): nothing may outlive it
            _kill_group(proc.pid)
            proc.wait()
    killed = killed_after_marker or timed_out
    status = None if killed else proc.returncode
    problem = check_output(output, expected_rows)
    if problem is None:
        marker = _read_marker(marker_path(output))
        if killed:
            why = f"{teardown_grace_s:g} s after its marker" if killed_after_marker else f"at the {timeout:g} s timeout"
            logger.warning(
                "%s wrote complete output (%s rows) but had not exited %s; killed it and kept the output",
                what,
                marker.get("rows"),
                why,
            )
        elif proc.returncode != 0:
            logger.warning(
                "%s ended with %s after writing complete output (%s rows); kept the output. Last log line: %s",
                what,
                describe_status(proc.returncode),
                marker.get("rows"),
                log_tail(log, 1),
            )
        return ChildResult(status, marker, log)
    tail = log_tail(log, tail_lines)
    how = f"timed out after {timeout:g} s" if timed_out else f"ended with {describe_status(proc.returncode)}"
    msg = f"{what} {how} without complete output ({problem}): {' '.join(map(str, cmd))}\n--- last log lines ---\n{tail}"
    raise ChildFailed(msg, returncode=proc.returncode, tail=tail)


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid, the group id, stays reserved)."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux ``prctl``
    ``PR_SET_PDEATHSIG``); True where that is in place.

    A process-pool worker keeps computing its job when its parent is killed (``kill``,
    ``pkill``: only Ctrl-C reaches the whole process group), and may take further queued jobs:
    minutes of orphaned CPU. Called in a worker's initializer, it ends with its parent instead.
    Elsewhere than Linux it does nothing and returns False.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    if libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0) != 0:
        return False
    # The parent may have exited before the call: then nobody would send the signal.
    if os.getppid() == 1:
        os.kill(os.getpid(), sig)
    return True
