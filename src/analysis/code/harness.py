"""What runs inside the sandbox: load the program, feed it the test inputs, stream the outputs.

The harness never sees expected outputs and never decides pass or fail: it reports, one JSON
line per test, what the program returned (``analysis.code.values``), raised, or that it ran past
the test's time limit, then ``{"done": n}``. The parent compares. A program that patches the
harness, exits early or writes to the result pipe itself can therefore only make its own run
fail: a pass needs one correct output per test, for every test, in order.

Task kinds (a dict built by ``analysis.code.sandbox``):

* ``call``: ``exec`` the program, call ``entry_point(*input)`` for each input (EvalPlus).
* ``method``: ``exec`` the program, call ``Solution().<func_name>(*input)`` (LiveCodeBench
  LeetCode-style problems).
* ``stdin``: run the program as ``__main__`` once per input, with that text as stdin; the output
  is what it printed (LiveCodeBench AtCoder-style problems).

Like EvalPlus (``fast_check``), the run stops at the first test that raises or times out.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from typing import Any

from analysis.code.values import digest_value, encode

_write = os.write
_dumps = json.dumps


def _unencodable(obj: Any) -> Any:
    msg = f"Object of type {type(obj).__name__} is not JSON serializable"
    raise TypeError(msg)


# One result line per test: json.dumps(..., separators=...) builds an encoder per call, which cost
# more than the rest of a short test's bookkeeping; this is the C encoder it builds, built once.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode = (
    _c_make_encoder(None, _unencodable, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _c_make_encoder is not None
    else None
)
_py_encode = json.JSONEncoder(separators=(",", ":")).encode


def _compact(obj: Any) -> str:
    """``json.dumps(obj, separators=(",", ":"))``."""
    if _c_encode is None:
        return _py_encode(obj)
    return "".join(_c_encode(obj, 0))


_perf = time.perf_counter
_setitimer = signal.setitimer
_signal = signal.signal
_exec = exec
_compile = compile
_BaseException = BaseException
_MemoryError = MemoryError
_SyntaxError = SyntaxError
_SystemExit = SystemExit
_RecursionError = RecursionError
DIGEST_ABOVE = 1 << 20  # an encoded output longer than this is sent as its SHA-256
LONG = 20_000  # a list or tuple with more items is hashed slice by slice straight away (never encoded whole)
MAX_STDOUT = 8 << 20


class TestTimeout(BaseException):
    """The current test ran past its time limit (a BaseException: ``except Exception`` in the
    program does not swallow it)."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise TestTimeout


def emit(fd: int, message: dict[str, Any]) -> None:
    data = (_compact(message) + "\n").encode()
    while data:
        n = _write(fd, data)
        data = data[n:]


class _Sink(io.TextIOBase):
    """Swallowed program output (EvalPlus ``swallow_io``)."""

    def write(self, s: str) -> int:
        return len(s)

    def writable(self) -> bool:
        return True


class _CappedBytes(io.BytesIO):
    def write(self, b: Any) -> int:
        if self.tell() + len(b) > MAX_STDOUT:
            msg = "output limit"
            raise OSError(msg)
        return super().write(b)


def _guard_network() -> None:
    """Used only where the kernel gives no network namespace: no new sockets from Python."""
    import socket

    def refuse(*_a: Any, **_k: Any) -> Any:
        msg = "network access is disabled in the sandbox"
        raise PermissionError(msg)

    socket.socket = refuse  # type: ignore[assignment,misc]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.socketpair = refuse  # type: ignore[assignment]


def run(task: dict[str, Any], fd: int, *, guard_network: bool = False) -> None:
    if guard_network:
        _guard_network()
    _signal(signal.SIGALRM, _alarm)
    kind = task["kind"]
    if kind == "stdin":
        _run_stdin(task, fd)
    else:
        _run_calls(task, fd)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _run_calls(task: dict[str, Any], fd: int) -> None:
    code, inputs, limits = task["code"], task["inputs"], task["time_limits"]
    sink = _Sink()
    sys.stdout = sys.stderr = sink
    sys.stdin = io.StringIO()
    namespace: dict[str, Any] = {"__name__": "__sandbox__"}
    try:
        compiled = _compile(code, "<program>", "exec")
    except (_SyntaxError, ValueError) as exc:
        emit(fd, {"syntax_error": _describe(exc)})
        return
    try:
        _setitimer(signal.ITIMER_REAL, task["load_limit"])
        _exec(compiled, namespace)
        _setitimer(signal.ITIMER_REAL, 0)
        if task["kind"] == "method":
            fn = getattr(namespace["Solution"](), task["func_name"])
        else:
            fn = namespace[task["entry_point"]]
    except TestTimeout:
        emit(fd, {"load_timeout": True})
        return
    except _MemoryError:
        _setitimer(signal.ITIMER_REAL, 0)
        emit(fd, {"memory": -1})
        return
    except _BaseException as exc:
        _setitimer(signal.ITIMER_REAL, 0)
        emit(fd, {"load_error": _describe(exc)})
        return
    for i, args in enumerate(inputs):
        try:
            start = _perf()
            _setitimer(signal.ITIMER_REAL, limits[i])
            out = fn(*args)
            _setitimer(signal.ITIMER_REAL, 0)
            elapsed = _perf() - start
        except TestTimeout:
            emit(fd, {"i": i, "timeout": True})
            return
        except _MemoryError:
            _setitimer(signal.ITIMER_REAL, 0)
            emit(fd, {"i": i, "memory": True})
            return
        except _BaseException as exc:
            _setitimer(signal.ITIMER_REAL, 0)
            emit(fd, {"i": i, "exc": _describe(exc)})
            return
        _send_output(fd, i, out, elapsed)
        out = None  # let a large output go before the next call makes another
    emit(fd, {"done": len(inputs)})


def _send_output(fd: int, i: int, out: Any, elapsed: float) -> None:
    try:
        kind = type(out)
        if (kind in (list, tuple) and len(out) > LONG) or (kind is str and len(out) > DIGEST_ABOVE):
            line = _dumps({"i": i, "h": digest_value(out), "t": elapsed})
        else:
            enc = encode(out)
            line = _compact({"i": i, "out": enc, "t": elapsed})
            if len(line) > DIGEST_ABOVE:
                enc = None
                line = _dumps({"i": i, "h": digest_value(out), "t": elapsed})
    except (_RecursionError, ValueError, TypeError, _MemoryError) as exc:
        line = _dumps({"i": i, "out": {"o": f"unencodable ({type(exc).__name__})"}, "t": elapsed})
    data = (line + "\n").encode()
    while data:
        data = data[_write(fd, data) :]


def _run_stdin(task: dict[str, Any], fd: int) -> None:
    code, inputs, limit = task["code"], task["inputs"], task["time_limits"]
    try:
        compiled = _compile(code, "<program>", "exec")
    except (_SyntaxError, ValueError) as exc:
        emit(fd, {"syntax_error": _describe(exc)})
        return
    for i, text in enumerate(inputs):
        raw = _CappedBytes()
        out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
        sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8")
        sys.stdout = out
        sys.stderr = _Sink()
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        start = _perf()
        try:
            _setitimer(signal.ITIMER_REAL, limit[i])
            # LiveCodeBench ends a test normally on SystemExit, whatever the exit code
            try:  # noqa: SIM105 - contextlib is not bound before the program can patch it
                _exec(compiled, namespace)
            except _SystemExit:
                pass
            out.flush()
            _setitimer(signal.ITIMER_REAL, 0)
        except TestTimeout:
            emit(fd, {"i": i, "timeout": True})
            return
        except _MemoryError:
            _setitimer(signal.ITIMER_REAL, 0)
            emit(fd, {"i": i, "memory": True})
            return
        except _BaseException as exc:
            _setitimer(signal.ITIMER_REAL, 0)
            emit(fd, {"i": i, "exc": _describe(exc)})
            return
        emit(fd, {"i": i, "out": raw.getvalue().decode("utf-8", "replace"), "t": _perf() - start})
    emit(fd, {"done": len(inputs)})
