"""Toy-world pool workers end with their parent (analysis.childproc.die_with_parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PARENT = textwrap.dedent(
    """
    import multiprocessing as mp, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from analysis.toyworld import jobs

    def pid_then_sleep(_):
        import os
        print(os.getpid(), flush=True)
        time.sleep(600)

    if __name__ == "__main__":
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=ctx, initializer=jobs._init_worker, initargs=(ctx.Queue(),)) as pool:
            for _ in range(2):
                pool.submit(pid_then_sleep, None)
            time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_pool_workers_die_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    pids: list[int] = []
    try:
        pids += [int(parent.stdout.readline()) for _ in range(2)]
        assert all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)  # what pkill -9 or an OOM kill does: no cleanup runs
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in pids)
    finally:
        parent.kill()
        parent.wait(timeout=30)
        parent.stdout.close()
        for pid in filter(_alive, pids):  # a failed test leaves no sleeping workers behind
            os.kill(pid, signal.SIGKILL)


def test_die_with_parent_is_in_place_on_linux():
    code = "from analysis.childproc import die_with_parent; print(die_with_parent())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(sys.platform.startswith("linux"))
