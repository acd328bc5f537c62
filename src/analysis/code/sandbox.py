"""Running untrusted programs: warm workers, isolation, and one outcome per run.

Why our own sandbox. EvalPlus's ``reliability_guard`` documents itself as "NOT a security
sandbox": it disables Python functions in the process that then runs the program, which a
program can undo, and it leaves the network, the file system and stray processes alone. No
well-kept PyPI library gives process isolation on Linux without an external binary or a
container runtime (``pyseccomp``/``python-prctl`` give pieces; ``bubblewrap``/``nsjail`` are not
Python packages and are not installed here). The kernel gives what is needed directly, so this
package owns a small, tested setup built on it (``analysis.code.jail``):

* each program is PID 1 of a fresh PID namespace (everything it forks dies with it), in a
  fresh network namespace (only a loopback interface, down: no network), in a mount namespace
  where the whole file system is read-only, the user's data (``/root``, ``/home``, ``/work``,
  ...) is hidden except the Python installation, and the only writable places are small tmpfs
  that vanish with it;
* it runs as an unprivileged uid of its own (as root) with rlimits on CPU seconds, address
  space, file size, processes and open files, ``no_new_privs``, closed stdin, output to
  ``/dev/null``, no inherited descriptors but its result pipe and a scrubbed environment;
* a wall-clock deadline kills its keeper, and with it the whole namespace.

``detect_isolation`` checks what the kernel allows: namespaces as root, namespaces in a user
namespace (unprivileged), or, where neither works, a fallback ("guard") with rlimits, a uid of
its own when root, and a Python-level network guard. ``Sandbox.isolation`` reports which applies.

Speed: a zygote (``analysis.code.zygote``), a clean interpreter with the harness imported, forks
each program's process, so a run costs a fork and the namespace set-up (milliseconds), not an
interpreter start (``benchmarks/bench_code_grading.py`` measures both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from analysis.code.jail import Limits
from analysis.code.values import Digest, decode
from analysis.code.zygote import read_frame, write_frame

Outcome = Literal["passed", "failed", "timeout", "memory", "crashed", "syntax_error"]
OUTCOMES: tuple[str, ...] = ("passed", "failed", "timeout", "memory", "crashed", "syntax_error")
IsolationKind = Literal["namespaces", "user-namespaces", "guard"]

__all__ = ["Isolation", "Limits", "RawRun", "Sandbox", "detect_isolation"]


@dataclass(frozen=True)
class Isolation:
    """What confinement the kernel allowed. ``network``: ``namespace`` (no interfaces but a
    downed loopback) or ``guard`` (Python's socket constructors refused: weaker)."""

    kind: IsolationKind
    network: Literal["namespace", "guard"]
    sandbox_uid: int | None
    detail: str = ""

    def as_mode(self) -> dict[str, Any]:
        return {
            "namespaces": self.kind != "guard",
            "user_ns": self.kind == "user-namespaces",
            "net_ns": self.network == "namespace",
        }


@dataclass
class RawRun:
    """What came back from one run, before any comparison with expected outputs.

    ``outputs``: test index -> decoded output (``call``/``method``) or stdout text (``stdin``);
    ``times``: test index -> seconds; ``stop``: why the run ended early, if it did (``timeout``,
    ``memory``, ``exception``, ``syntax_error``, ``load_error``, ``deadline``, ``output``,
    ``exited`` (the process ended before reporting every test), ``setup_error``); ``message``:
    its detail; ``stopped_at``: the test index it concerns.
    """

    outputs: dict[int, Any] = field(default_factory=dict)
    times: dict[int, float] = field(default_factory=dict)
    done: bool = False
    stop: str | None = None
    message: str = ""
    stopped_at: int | None = None
    exit_code: int | None = None
    wall_s: float = 0.0


def _zygote_env() -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    return {**keep, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}


def _default_uid(slot: int) -> int:
    # A uid of its own per worker, outside the ranges of real users, so RLIMIT_NPROC counts only
    # this worker's processes even when several studies run at once.
    return 200_000 + (os.getpid() % 50_000) * 8 + slot


class _Zygote:
    def __init__(self, mode: dict[str, Any], slot_uid: int | None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.code.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_zygote_env(),
            cwd="/",
            close_fds=True,
        )
        self.lock = threading.Lock()
        write_frame(self.proc.stdin, {"mode": mode, "slot_uid": slot_uid})
        if read_frame(self.proc.stdout) is None:
            msg = "the sandbox worker did not start"
            raise RuntimeError(msg)

    def request(self, task: dict[str, Any], limits: Limits) -> dict[str, Any]:
        with self.lock:
            write_frame(self.proc.stdin, {"task": task, "limits": limits})
            reply = read_frame(self.proc.stdout)
        if reply is None:
            msg = "the sandbox worker died"
            raise RuntimeError(msg)
        return reply

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


_DECODE = json.JSONDecoder().decode


def _parse_line(line: bytes) -> Any:
    """``json.loads(line)``; a line that starts with ``{`` (every line the harness writes) is UTF-8
    by ``json.loads``'s own detection, which is skipped (a third of the parsing time)."""
    if line[:1] == b"{" and line[1:2] != b"\x00":
        return _DECODE(line.decode("utf-8", "surrogatepass"))
    return json.loads(line)


def parse_stream(reply: dict[str, Any], *, decode_outputs: bool) -> RawRun:
    """Rebuild a ``RawRun`` from the program's result lines (never trusting their content)."""
    run = RawRun(exit_code=reply["exit"], wall_s=reply["wall_s"])
    for line in reply["stream"].split(b"\n"):
        if not line:
            continue
        try:
            msg = _parse_line(line)
        except (ValueError, RecursionError):
            run.stop, run.message = "exited", "malformed result line"
            return run
        if not isinstance(msg, dict):
            continue
        if "i" in msg and isinstance(msg["i"], int):
            i = msg["i"]
            if "out" in msg or "h" in msg:
                if i != len(run.outputs):  # out of order or repeated: not the harness's doing
                    run.stop, run.message = "exited", "result lines out of order"
                    return run
                if "h" in msg:
                    run.outputs[i] = Digest(str(msg["h"]))
                else:
                    run.outputs[i] = decode(msg["out"]) if decode_outputs else str(msg["out"])
                if isinstance(msg.get("t"), (int, float)):
                    run.times[i] = float(msg["t"])
                continue
            run.stopped_at = i
            for key in ("timeout", "memory"):
                if msg.get(key):
                    run.stop = key
            if "exc" in msg:
                run.stop, run.message = "exception", str(msg["exc"])[:500]
            if run.stop is not None:
                break
            continue
        if "done" in msg:
            run.done = msg["done"] == len(run.outputs)
            if not run.done:
                run.stop, run.message = "exited", "reported done before every test"
            break
        for key, stop in (
            ("syntax_error", "syntax_error"),
            ("load_error", "load_error"),
            ("load_timeout", "timeout"),
            ("memory", "memory"),
            ("setup_error", "setup_error"),
        ):
            if key in msg:
                run.stop, run.message = stop, str(msg[key])[:500]
                break
        if run.stop is not None:
            break
    if reply["killed"] == "deadline" and not run.done and run.stop is None:
        run.stop, run.message = "deadline", f"wall-clock deadline after {reply['wall_s']:.1f} s"
    elif reply["killed"] == "output" and not run.done:
        run.stop, run.message = "output", "result stream over the output limit"
    elif not run.done and run.stop is None:
        code = reply["exit"]
        if code in (128 + 24, 128 + 9) and reply["killed"] is None:  # SIGXCPU / SIGKILL: CPU limit
            run.stop, run.message = "timeout", f"killed by signal {code - 128} (CPU limit)"
        else:
            run.stop, run.message = "exited", f"the program ended before every test ran (exit status {code})"
    return run


class Sandbox:
    """A pool of warm workers that run programs in isolation (use as a context manager)."""

    def __init__(self, workers: int = 1, isolation: Isolation | None = None) -> None:
        self.isolation = isolation or detect_isolation()
        self._zygotes: list[_Zygote] = []
        self._free: list[_Zygote] = []
        self._cond = threading.Condition()
        for slot in range(workers):
            uid = _default_uid(slot) if self.isolation.sandbox_uid is not None else None
            z = _Zygote(self.isolation.as_mode(), uid)
            self._zygotes.append(z)
            self._free.append(z)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        for z in self._zygotes:
            z.close()

    def run(self, task: dict[str, Any], limits: Limits) -> RawRun:
        """Run one task (see ``analysis.code.harness``) on a free worker."""
        with self._cond:
            while not self._free:
                self._cond.wait()
            z = self._free.pop()
        try:
            reply = z.request(task, limits)
        finally:
            with self._cond:
                self._free.append(z)
                self._cond.notify()
        return parse_stream(reply, decode_outputs=task["kind"] != "stdin")


def _hidden_witness() -> str:
    """A path that exists here and that a confined program must not see."""
    from analysis.code.jail import HIDDEN, kept_paths

    kept = kept_paths()
    for top in HIDDEN:
        if not Path(top).is_dir():
            continue
        for entry in sorted(Path(top).iterdir()):
            path = str(entry)
            if not any(k == path or k.startswith(path + os.sep) for k in kept):
                return path
    return "/root"


def _probe(mode: dict[str, Any], uid: int | None) -> tuple[bool, str]:
    """Run a tiny program under ``mode``; it must see no network and none of the user's files."""
    witness = _hidden_witness()
    probe = (
        "import os, socket\n"
        "def probe():\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "    s.settimeout(1)\n"
        "    try:\n"
        "        s.connect(('10.255.255.1', 9))\n"
        "        net = 'connected'\n"
        "    except OSError as e:\n"
        "        net = type(e).__name__ + str(e.errno)\n"
        f"    return [os.getuid(), net, os.path.exists({witness!r}), os.getpid()]\n"
    )
    task = {
        "kind": "call",
        "code": probe,
        "entry_point": "probe",
        "inputs": [[]],
        "time_limits": [3.0],
        "load_limit": 3,
    }
    try:
        z = _Zygote(mode, uid)
    except (RuntimeError, OSError) as exc:
        return False, repr(exc)
    try:
        run = parse_stream(z.request(task, Limits(wall_s=5.0)), decode_outputs=True)
    finally:
        z.close()
    if not run.done:
        return False, f"{run.stop}: {run.message}"
    _uid, net, sees_work, pid = run.outputs[0]
    if mode["namespaces"] and (sees_work or pid != 1 or net == "connected"):
        return False, f"namespaces did not hold: {witness} visible {sees_work}, pid {pid}, network {net}"
    return True, f"uid {_uid}, pid {pid}, network {net}, {witness} hidden"


_DETECTED: Isolation | None = None


def detect_isolation(refresh: bool = False) -> Isolation:
    """The strongest confinement this machine allows (probed once per process)."""
    global _DETECTED
    if _DETECTED is not None and not refresh:
        return _DETECTED
    root = os.geteuid() == 0
    uid = _default_uid(7) if root else None
    tries: list[tuple[IsolationKind, dict[str, Any]]] = []
    if root:
        tries.append(("namespaces", {"namespaces": True, "user_ns": False, "net_ns": True}))
    tries.append(("user-namespaces", {"namespaces": True, "user_ns": True, "net_ns": True}))
    notes = []
    for kind, mode in tries:
        ok, note = _probe(mode, uid if kind == "namespaces" else None)
        notes.append(f"{kind}: {note}")
        if ok:
            _DETECTED = Isolation(kind, "namespace", uid if kind == "namespaces" else None, "; ".join(notes))
            return _DETECTED
    _DETECTED = Isolation("guard", "guard", uid, "; ".join(notes))
    return _DETECTED
