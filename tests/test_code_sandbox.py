"""The sandbox against hostile programs: each ends in an outcome within its deadline + 1 s,
changes nothing outside its folder, and leaves no process behind.

Limits are small on purpose (the machine is shared): the fork bomb runs with RLIMIT_NPROC 8,
the allocation with a 512 MB address space.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from analysis.code.grade import CodeGrader
from analysis.code.jail import Limits
from analysis.code.loaders import CodeTask
from analysis.code.sandbox import RawRun, Sandbox, _default_uid, detect_isolation

SMALL = Limits(wall_s=3.0, cpu_s=3, memory_mb=512, fsize_mb=4, nproc=8, nofile=32, output_mb=8)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(1) as sb:
        yield sb


def _uid_processes(uid: int) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        entry = proc.name
        if not entry.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                pids.append(int(entry))
    return pids


def run(sandbox: Sandbox, code: str, inputs: list | None = None, limits: Limits = SMALL, kind: str = "call") -> RawRun:
    inputs = [[]] if inputs is None else inputs
    task = {
        "kind": kind,
        "code": code,
        "entry_point": "f",
        "inputs": inputs,
        "time_limits": [2.0] * len(inputs),
        "load_limit": 2.0,
    }
    start = time.monotonic()
    result = sandbox.run(task, limits)
    elapsed = time.monotonic() - start
    assert elapsed < limits.wall_s + 1.0, f"took {elapsed:.1f} s"
    if sandbox.isolation.sandbox_uid is not None:
        slot_uid = _default_uid(0)  # the uid of the sandbox's only worker
        deadline = time.monotonic() + 1.0
        while _uid_processes(slot_uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _uid_processes(slot_uid) == [], "processes left behind"
    return result


def test_isolation_is_detected_and_reported() -> None:
    iso = detect_isolation()
    assert iso.kind in ("namespaces", "user-namespaces", "guard")
    assert iso.detail
    if os.geteuid() == 0:
        # this machine's kernel allows namespaces for root: the strong mode must be the one in use
        assert iso.kind == "namespaces", iso.detail
        assert iso.network == "namespace", iso.detail


def test_a_plain_program_runs(sandbox: Sandbox) -> None:
    r = run(sandbox, "def f(x):\n    return [x, x * 0.5, (x,), {x}]\n", [[2], [3]])
    assert r.done
    assert r.outputs == {0: [2, 1.0, (2,), {2}], 1: [3, 1.5, (3,), {3}]}


def test_fork_bomb(sandbox: Sandbox) -> None:
    code = (
        "import os\n"
        "def f():\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    r = run(sandbox, code)
    assert not r.done
    assert r.stop in ("timeout", "deadline", "exited")


def test_fork_bomb_that_detaches(sandbox: Sandbox) -> None:
    code = (
        "import os, time\n"
        "def f():\n"
        "    for _ in range(3):\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            if os.fork() == 0:\n"
        "                time.sleep(60)\n"
        "            os._exit(0)\n"
        "    return 1\n"
    )
    r = run(sandbox, code)  # the grandchildren sleep on; the namespace takes them down
    assert r.done
    assert r.outputs[0] == 1


def test_infinite_loop(sandbox: Sandbox) -> None:
    r = run(sandbox, "def f():\n    while True:\n        pass\n")
    assert r.stop == "timeout"
    assert r.stopped_at == 0


def test_signal_proof_infinite_loop_hits_the_wall_clock(sandbox: Sandbox) -> None:
    code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef f():\n    while True:\n        pass\n"
    r = run(sandbox, code)
    assert not r.done
    assert r.stop in ("timeout", "deadline")


def test_huge_allocation(sandbox: Sandbox) -> None:
    r = run(sandbox, "def f():\n    return len(bytearray(10 * 1024**3))\n")
    assert r.stop == "memory"


def test_writes_outside_its_folder_change_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = f"sandbox-{uuid.uuid4().hex}"
    targets = [f"/tmp/{marker}", str(tmp_path / marker), f"/root/{marker}", f"/work/{marker}", f"/var/tmp/{marker}"]
    code = (
        "import os\n"
        "def f(paths):\n"
        "    done = []\n"
        "    for p in paths:\n"
        "        try:\n"
        "            with open(p, 'w') as fh:\n"
        "                fh.write('x')\n"
        "            done.append(p)\n"
        "        except OSError:\n"
        "            pass\n"
        "    with open('here.txt', 'w') as fh:\n"
        "        fh.write('own folder is writable')\n"
        "    return [done, os.getcwd()]\n"
    )
    r = run(sandbox, code, [[targets]])
    assert r.done
    for t in targets:
        assert not Path(t).exists(), t
    assert not list(tmp_path.iterdir())


def test_the_users_files_are_hidden(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    home = Path.home()
    candidates = [str(secret), str(home / ".bashrc"), "/work/shared/benchmarks/code/SHA256SUMS", "/etc/shadow"]
    code = (
        "def f(paths):\n"
        "    seen = []\n"
        "    for p in paths:\n"
        "        try:\n"
        "            with open(p) as fh:\n"
        "                fh.read(1)\n"
        "            seen.append(p)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return seen\n"
    )
    r = run(sandbox, code, [[candidates]])
    assert r.done
    assert r.outputs[0] == []


def test_no_network(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = (
        "import socket\n"
        "def f(port):\n"
        "    out = []\n"
        "    for addr in [('127.0.0.1', port), ('1.1.1.1', 53), ('10.255.255.1', 80)]:\n"
        "        try:\n"
        "            s = socket.create_connection(addr, timeout=0.5)\n"
        "            out.append('connected')\n"
        "        except OSError as e:\n"
        "            out.append(type(e).__name__)\n"
        "    return out\n"
    )
    try:
        r = run(sandbox, code, [[port]])
    finally:
        server.close()
    assert r.done
    assert "connected" not in r.outputs[0]


def test_killing_its_parent_hurts_nobody(sandbox: Sandbox) -> None:
    code = "import os, signal\ndef f():\n    os.kill(os.getppid(), 9)\n    os.kill(-1, 9)\n    return 1\n"
    run(sandbox, code)  # whatever its outcome, within the deadline and with nothing left behind
    again = run(sandbox, "def f():\n    return 42\n")  # the worker survived
    assert again.done
    assert again.outputs[0] == 42


def test_os_system_is_confined(sandbox: Sandbox) -> None:
    marker = f"/tmp/sandbox-sys-{uuid.uuid4().hex}"
    code = f"import os\ndef f():\n    return os.system('touch {marker}; echo hi; curl -s http://1.1.1.1 >/dev/null')\n"
    r = run(sandbox, code)
    assert r.done
    assert not Path(marker).exists()


def test_a_hundred_megabytes_of_output(sandbox: Sandbox) -> None:
    code = "import os, sys\ndef f():\n    print('x' * (100 << 20))\n    os.write(1, b'y' * (10 << 20))\n    return 7\n"
    r = run(sandbox, code, limits=Limits(wall_s=5.0, cpu_s=5, memory_mb=1024, nproc=8))
    assert r.done
    assert r.outputs[0] == 7
    flood = (
        "import os\n"
        "def f():\n"
        "    for fd in range(3, 32):\n"
        "        try:\n"
        "            os.write(fd, b'z' * (100 << 20))\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 1\n"
    )
    r = run(sandbox, flood, limits=Limits(wall_s=5.0, cpu_s=5, memory_mb=1024, nproc=8, output_mb=8))
    assert not r.done


def test_stdin_program_printing_too_much_fails(sandbox: Sandbox) -> None:
    task_code = "print('x' * (100 << 20))\n"
    r = run(sandbox, task_code, ["1\n"], kind="stdin", limits=Limits(wall_s=5.0, cpu_s=5, memory_mb=1024, nproc=8))
    assert not r.done
    assert r.stop == "exception"


EVAL_TASK = CodeTask(
    benchmark="humanevalplus",
    task_id="Toy/0",
    kind="call",
    entry_point="add",
    inputs=[[1, 2], [3, 4], [10, -3]],
    n_base=2,
    canonical="def add(a, b):\n    return a + b\n",
    dataset="humaneval",
)


@pytest.fixture(scope="module")
def grader(sandbox: Sandbox):
    return CodeGrader(sandbox=sandbox)


def test_exit_before_the_tests_is_not_a_pass(grader: CodeGrader) -> None:
    for code in (
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n",
        "import os\nos._exit(0)\n",
        "def add(a, b):\n    import os\n    os._exit(0)\n",
        "def add(a, b):\n    raise SystemExit(0)\n",
    ):
        v = grader.grade(EVAL_TASK, code)
        assert not v.passed, (code, v)
        assert v.outcome in ("failed", "crashed"), (code, v)


def test_patching_the_harness_is_not_a_pass(grader: CodeGrader) -> None:
    forged = (
        "import os, sys\n"
        "for fd in range(3, 32):\n"
        "    try:\n"
        "        os.write(fd, b'{\"done\": 3}\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "def add(a, b):\n"
        "    return 0\n"
    )
    patched = (
        "import sys, json\n"
        "h = sys.modules['analysis.code.harness']\n"
        "h.emit = lambda fd, m: None\n"
        "h._send_output = lambda *a: None\n"
        "json.dumps = lambda *a, **k: '{\"done\": 3}'\n"
        "class Any:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def add(a, b):\n"
        "    return Any()\n"
    )
    eq_object = "class Any:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return Any()\n"
    for code in (forged, patched, eq_object):
        v = grader.grade(EVAL_TASK, code)
        assert not v.passed, (code, v)
    assert grader.grade(EVAL_TASK, EVAL_TASK.canonical).passed


def test_outcomes_of_ordinary_programs(grader: CodeGrader) -> None:
    assert grader.grade(EVAL_TASK, "def add(a, b)\n    return a + b\n").outcome == "syntax_error"
    wrong = grader.grade(EVAL_TASK, "def add(a, b):\n    return a - b\n")
    assert wrong.outcome == "failed"
    assert wrong.test == 0
    assert "expected 3, got -1" in wrong.detail
    plus_only = grader.grade(EVAL_TASK, "def add(a, b):\n    return a + b if b > 0 else 0\n")
    assert plus_only.outcome == "failed"
    assert plus_only.base_passed is True
    assert plus_only.test == 2
    assert grader.grade(EVAL_TASK, "def add(a, b):\n    while True:\n        pass\n").outcome == "timeout"
    assert grader.grade(EVAL_TASK, "def add(a, b):\n    return [0] * (10**10)\n").outcome == "memory"
    raised = grader.grade(EVAL_TASK, "def add(a, b):\n    return a / 0\n")
    assert raised.outcome == "failed"
    assert "ZeroDivisionError" in raised.detail
    assert grader.grade(EVAL_TASK, None).outcome == "failed"


REMOUNT = (
    "import ctypes, ctypes.util\n"
    "def f():\n"
    "    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
    "    rc = libc.mount(None, b'/', None, ctypes.c_ulong(32 | 4096), None)\n"  # MS_REMOUNT | MS_BIND, rw
    "    try:\n"
    "        open('/etc/sandbox-was-here', 'w').close()\n"
    "        wrote = True\n"
    "    except OSError:\n"
    "        wrote = False\n"
    "    return [rc, wrote]\n"
)


def test_no_capabilities_to_undo_the_read_only_view(sandbox: Sandbox) -> None:
    r = run(sandbox, REMOUNT)
    assert r.done
    assert r.outputs[0] == [-1, False]
    assert not Path("/etc/sandbox-was-here").exists()


def _weaker_sandbox(kind: str) -> Sandbox:
    from analysis.code.sandbox import Isolation, _probe

    if kind == "user-namespaces":
        mode = {"namespaces": True, "user_ns": True, "net_ns": True}
        ok, note = _probe(mode, None)
        if not ok:
            pytest.skip(f"user namespaces are not available here: {note}")
        return Sandbox(1, isolation=Isolation("user-namespaces", "namespace", None, note))
    return Sandbox(1, isolation=Isolation("guard", "guard", _default_uid(7), "forced for the test"))


@pytest.mark.parametrize("kind", ["user-namespaces", "guard"])
def test_weaker_isolation_modes_still_confine(kind: str, tmp_path: Path) -> None:
    """The modes used where the kernel refuses root namespaces (user namespaces) or all of them
    (guard): programs still run, time out, and cannot reach the network."""
    with _weaker_sandbox(kind) as sb:
        task = {"kind": "call", "entry_point": "f", "inputs": [[]], "time_limits": [1.0], "load_limit": 2.0}
        ok = sb.run({**task, "code": "def f():\n    return 41 + 1\n"}, SMALL)
        assert ok.done
        assert ok.outputs[0] == 42
        start = time.monotonic()
        loop = sb.run({**task, "code": "def f():\n    while True:\n        pass\n"}, SMALL)
        assert loop.stop == "timeout"
        assert time.monotonic() - start < SMALL.wall_s + 1
        net = (
            "import socket\n"
            "def f():\n"
            "    try:\n"
            "        socket.create_connection(('1.1.1.1', 53), timeout=0.5)\n"
            "        return 'connected'\n"
            "    except OSError as e:\n"
            "        return type(e).__name__\n"
        )
        r = sb.run({**task, "code": net}, SMALL)
        assert r.done
        assert r.outputs[0] != "connected"
        if kind == "user-namespaces":
            r = sb.run({**task, "code": REMOUNT}, SMALL)
            assert r.outputs[0][1] is False
            assert not Path("/etc/sandbox-was-here").exists()
