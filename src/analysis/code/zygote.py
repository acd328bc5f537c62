"""The warm worker: a clean interpreter that forks one confined process per program.

Started by ``analysis.code.sandbox.Sandbox`` as ``python -m analysis.code.zygote`` with a
scrubbed environment. It imports the harness (and the modules programs commonly use) once, then
serves requests from its stdin, one at a time: for each it forks a *keeper* that enters the
namespaces (``analysis.code.jail``) and forks the program's process, PID 1 of a new PID
namespace. The zygote reads the program's result stream (capped), enforces the wall-clock
deadline by killing the keeper (the program dies with it: parent-death signal, then the whole
PID namespace), and writes back one reply per request.

The zygote never holds expected outputs: the program's process is a fork of it, and could read
anything in its memory. Comparison happens in the parent.

Frames on stdin/stdout: 8-byte big-endian length, then a pickle (the parent and the zygote trust
each other; the program's bytes are passed through as ``bytes`` and parsed by the parent as
JSON, never unpickled).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Any

from analysis.code import harness, jail

_HEADER = struct.Struct(">Q")
PR_SET_CHILD_SUBREAPER = 36
TRICKLE_READS = 8  # after this many reads, a read shorter than TRICKLE_BYTES is a trickle (serve_one)
TRICKLE_BYTES = 1 << 14
TRICKLE_PAUSE_S = 0.001
_END = b'{"done":'  # the harness's last line: no pause after it
WARM_MODULES = (
    "math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing",
    "copy", "random", "statistics", "fractions", "decimal", "operator", "hashlib", "json", "datetime",
)  # fmt: skip


def read_frame(stream: Any) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    return pickle.loads(stream.read(size))


def write_frame(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _keeper(request: dict[str, Any], w: int, mode: dict[str, Any], slot_uid: int | None) -> None:
    """Child of the zygote: enter namespaces, fork the program as PID 1, wait, exit with its status."""
    limits: jail.Limits = request["limits"]
    try:
        os.setsid()
        if mode["namespaces"]:
            jail.enter_namespaces(user_ns=mode["user_ns"], net_ns=mode["net_ns"], fsize_mb=limits.fsize_mb)
        keeper = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                if mode["namespaces"]:
                    # PID 1 of a new namespace sees its parent as pid 0
                    jail.confine_program(sandbox_uid=slot_uid, limits=limits, keep_fd=w, pdeathsig_parent=0)
                else:
                    _confine_without_namespaces(limits, keeper, slot_uid)
                jail.isolate_streams(w)
                jail.scrub_environment()
                harness.run(request["task"], w, guard_network=not mode["net_ns"])
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    harness.emit(w, {"setup_error": repr(exc)[:500]})
                os._exit(3)
            os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    except BaseException as exc:
        try:
            harness.emit(w, {"setup_error": repr(exc)[:500]})
        finally:
            os._exit(4)


def _readable_by_all(path: str) -> bool:
    """Whether a uid of no group could read and traverse ``path`` and every folder above it."""
    p = Path(path).resolve()
    return all(folder.stat().st_mode & 0o005 == 0o005 for folder in (p, *p.parents))


def _confine_without_namespaces(limits: jail.Limits, keeper: int, slot_uid: int | None) -> None:
    """The fallback where the kernel allows no namespaces: own folder, rlimits, and, as root, a
    uid of its own (only where that uid can still read the Python installation)."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="sandbox-")
    if slot_uid is not None and all(_readable_by_all(p) for p in jail.kept_paths()):
        os.chown(folder, slot_uid, slot_uid)
        os.setgroups([])
        os.setgid(slot_uid)
        os.setuid(slot_uid)
    jail.deathsig(keeper)
    jail.apply_rlimits(limits)
    os.chdir(folder)


def serve_one(request: dict[str, Any], mode: dict[str, Any], slot_uid: int | None) -> dict[str, Any]:
    limits: jail.Limits = request["limits"]
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _keeper(request, w, mode, slot_uid)
        os._exit(5)  # not reached
    os.close(w)
    chunks: list[bytes] = []
    size, cap = 0, limits.output_mb << 20
    deadline = start + limits.wall_s
    why = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            why = "deadline"
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            continue
        data = os.read(r, 1 << 16)
        if not data:
            break
        size += len(data)
        if size > cap:
            why = "output"
            break
        chunks.append(data)
        if len(chunks) >= TRICKLE_READS and len(data) < TRICKLE_BYTES and _END not in data:
            # a long trickle of result lines (one per test): let them pile up for a moment rather
            # than wake for each one (a program with few tests never waits here)
            time.sleep(min(TRICKLE_PAUSE_S, max(0.0, deadline - time.monotonic())))
    if why is not None:
        _kill(pid)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if why is not None:
        _kill(pid)
    if not mode["namespaces"] and slot_uid is not None:
        _kill_uid(slot_uid)
    _reap_all()
    return {"stream": b"".join(chunks), "exit": code, "killed": why, "wall_s": time.monotonic() - start}


def _kill_uid(uid: int) -> None:
    """Without a PID namespace: end every process of the sandbox's own uid (a child that takes
    that uid can signal all of them with ``kill(-1)``, and nothing else)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _reap_all() -> None:
    """Wait for every child left (the zygote is a subreaper: a program whose keeper was killed
    first is re-parented here, and reaped here, instead of lingering as a zombie)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(ProcessLookupError):
            target()


def main() -> None:
    jail._libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for name in WARM_MODULES:
        __import__(name)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    hello = read_frame(stdin)
    mode, slot_uid = hello["mode"], hello["slot_uid"]
    write_frame(stdout, {"ready": os.getpid()})
    while True:
        request = read_frame(stdin)
        if request is None:
            return
        write_frame(stdout, serve_one(request, mode, slot_uid))


if __name__ == "__main__":
    main()
