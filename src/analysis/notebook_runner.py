"""Run one stage or page notebook through papermill, surviving a slow kernel start.

On a busy machine a kernel can take longer than papermill's default 60 s to answer, and papermill
then fails the whole step with ``Kernel didn't respond in 60 seconds``. Here the start timeout is
generous (``RLVR_KERNEL_START_TIMEOUT``, default 300 s) and a failed kernel *start* is retried
(twice, with a pause); an error raised while the notebook's cells run is a real failure and fails
at once.

    python -m analysis.notebook_runner notebooks/passk.ipynb out.ipynb --cwd . -p config configs/toy.yaml
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

START_TIMEOUT_ENV = "RLVR_KERNEL_START_TIMEOUT"
DEFAULT_START_TIMEOUT_S = 300.0
RETRIES = 2
PAUSE_S = 5.0
# What jupyter_client / nbclient say when a kernel never became ready (nothing of the notebook ran).
TRANSIENT_MESSAGES = ("Kernel didn't respond", "Kernel died before replying to kernel_info")


def start_timeout() -> float:
    """The kernel start timeout in seconds (``RLVR_KERNEL_START_TIMEOUT`` or the default)."""
    raw = os.environ.get(START_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        msg = f"{START_TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}"
        raise ValueError(msg)
    return value


def is_transient(exc: BaseException) -> bool:
    """True for a failed kernel start (retry), False for anything else (fail)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return False
    return isinstance(exc, RuntimeError | TimeoutError) and any(m in str(exc) for m in TRANSIENT_MESSAGES)


def run_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: dict[str, Any],
    *,
    cwd: str | os.PathLike[str] | None = None,
    retries: int = RETRIES,
    pause_s: float = PAUSE_S,
    execute: Callable[..., Any] | None = None,
) -> None:
    """Execute ``notebook`` into ``output`` with ``parameters``, retrying failed kernel starts."""
    if execute is None:
        from papermill import execute_notebook as execute
    timeout = start_timeout()
    for attempt in range(retries + 1):
        try:
            execute(
                os.fspath(notebook),
                os.fspath(output),
                parameters=parameters,
                cwd=None if cwd is None else os.fspath(cwd),
                start_timeout=timeout,
                progress_bar=False,
            )
            return
        except Exception as exc:
            if attempt == retries or not is_transient(exc):
                raise
            log.warning(
                "%s: the kernel did not start (%s); retry %d of %d in %.0f s",
                notebook,
                exc,
                attempt + 1,
                retries,
                pause_s,
            )
            time.sleep(pause_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analysis.notebook_runner", description=__doc__)
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--cwd", default=None)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    run_notebook(args.notebook, args.output, dict(args.parameter), cwd=args.cwd)


if __name__ == "__main__":
    main()
