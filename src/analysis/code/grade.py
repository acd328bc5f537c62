"""Grading programs: one verdict per program, and EvalPlus's expected outputs.

``CodeGrader.grade(task, code)`` runs one program on its task's tests in the sandbox and
compares in this (the parent) process: EvalPlus rules for HumanEval+/MBPP+
(``analysis.code.evalplus_rules``), LiveCodeBench rules for LiveCodeBench
(``analysis.code.livecodebench_rules``). Outcomes: ``passed``, ``failed`` (a wrong output, or
an exception on a test or while loading, with the test and expected/got), ``timeout``,
``memory``, ``crashed`` (the process ended or broke its result stream before every test ran:
``sys.exit``/``os._exit`` while loading, a fatal signal), ``syntax_error``.

For EvalPlus the expected outputs come from running the canonical solution once per task (in the
sandbox, with generous limits); they are cached on disk by a digest of the task, and their run
times set the per-input limits.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.code import evalplus_rules as ep
from analysis.code import livecodebench_rules as lcb
from analysis.code.jail import Limits
from analysis.code.loaders import CodeTask
from analysis.code.sandbox import RawRun, Sandbox
from analysis.code.values import Digest, decode, encode, short_repr
from analysis.store import atomic_write_json

GRADER_VERSION = "code-3"
REFERENCE_LIMIT_S = 60.0  # per input, when running the canonical solution
MEMORY_MB = 4096  # EvalPlus's default address-space limit


@dataclass(frozen=True)
class CodeVerdict:
    """One program's verdict. ``base_passed``: EvalPlus base tests only (``None`` elsewhere);
    ``test``: the index of the test it failed on, if any."""

    outcome: str
    detail: str = ""
    base_passed: bool | None = None
    test: int | None = None
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@dataclass
class Reference:
    """EvalPlus expected outputs of one task and the canonical solution's time per input."""

    outputs: list[Any]
    times: list[float]


def task_digest(task: CodeTask) -> str:
    blob = json.dumps([GRADER_VERSION, task.task_id, task.canonical, encode(task.inputs)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class CodeGrader:
    """Grades programs for a set of tasks with one sandbox (use as a context manager)."""

    def __init__(
        self, workers: int = 1, cache_dir: str | os.PathLike[str] | None = None, sandbox: Sandbox | None = None
    ):
        self.sandbox = sandbox or Sandbox(workers)
        self._own = sandbox is None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._refs: dict[str, Reference] = {}

    def __enter__(self) -> CodeGrader:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._own:
            self.sandbox.close()

    # ---- EvalPlus references -----------------------------------------------------------
    def reference(self, task: CodeTask) -> Reference:
        """Expected outputs of an EvalPlus task (computed once, then from memory or disk)."""
        key = f"{task.benchmark}/{task.task_id}"
        if key in self._refs:
            return self._refs[key]
        digest = task_digest(task)
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / "code-reference" / f"{task.task_id.replace('/', '_')}-{digest}.json"
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                outs = [
                    Digest(v["h"]) if isinstance(v, dict) and set(v) == {"h"} else decode(v) for v in data["outputs"]
                ]
                ref = Reference(outs, data["times"])
                self._refs[key] = ref
                return ref
        n = len(task.inputs)
        run = self.sandbox.run(
            _call_task(task, task.canonical, [REFERENCE_LIMIT_S] * n, load_limit=REFERENCE_LIMIT_S),
            Limits(wall_s=600.0, cpu_s=600, memory_mb=MEMORY_MB, nproc=16),
        )
        if not run.done:
            msg = f"{key}: the canonical solution did not run every input ({run.stop}: {run.message})"
            raise RuntimeError(msg)
        outputs = [run.outputs[i] for i in range(n)]
        if task.dataset == "mbpp" and task.entry_point in ep.MBPP_OUTPUT_NOT_NONE_TASKS:
            outputs = [o is not None for o in outputs]  # EvalPlus's trusted_exec(output_not_none=True)
        ref = Reference(outputs, [run.times.get(i, 0.0) for i in range(n)])
        if path is not None:
            outs = [{"h": v.hex} if isinstance(v, Digest) else encode(v) for v in ref.outputs]
            atomic_write_json({"outputs": outs, "times": ref.times}, path)
        self._refs[key] = ref
        return ref

    # ---- one program -------------------------------------------------------------------
    def grade(self, task: CodeTask, code: str | None) -> CodeVerdict:
        if code is None or not code.strip():
            return CodeVerdict("failed", "no code in the response")
        if task.dataset == "livecodebench":
            return self._grade_lcb(task, code)
        return self._grade_evalplus(task, code)

    def _grade_evalplus(self, task: CodeTask, code: str) -> CodeVerdict:
        ref = self.reference(task)
        limits = ep.time_limits(ref.times)
        base, plus = limits[: task.n_base], limits[task.n_base :]
        wall = ep.run_budget(base) + (ep.run_budget(plus) if plus else 0.0) + 1.0
        run = self.sandbox.run(_call_task(task, code, limits, load_limit=wall), _limits(wall))
        early = _early_outcome(run)
        n_ok = len(run.outputs)
        # compare what did come back, base then plus (each with its own comparator, as EvalPlus
        # runs them in separate processes)
        for lo, hi in ((0, task.n_base), (task.n_base, len(task.inputs))):
            got = [run.outputs[i] for i in range(lo, min(hi, n_ok))]
            bad = ep.first_mismatch(
                task.dataset,
                task.entry_point,
                task.atol,
                task.inputs[lo:hi][: len(got)],
                got,
                ref.outputs[lo:hi][: len(got)],
            )
            if bad is not None:
                i, why = bad
                return CodeVerdict(
                    "failed", f"test {lo + i} ({_part(task, lo + i)}): {why}", lo == task.n_base, lo + i, run.wall_s
                )
        if early is not None:
            outcome, detail, at = early
            return CodeVerdict(outcome, detail, at is not None and at >= task.n_base, at, run.wall_s)
        return CodeVerdict("passed", "", True, None, run.wall_s)

    def _grade_lcb(self, task: CodeTask, code: str) -> CodeVerdict:
        program = lcb.IMPORT_PRELUDE + "\n" + code
        n = len(task.inputs)
        job = {
            "kind": task.kind,
            "code": program,
            "inputs": task.inputs,
            "time_limits": [lcb.TEST_TIMEOUT_S] * n,
            "load_limit": lcb.TEST_TIMEOUT_S,
            "entry_point": task.entry_point,
            "func_name": task.entry_point,
        }
        run = self.sandbox.run(job, _limits(lcb.run_budget(n)))
        for i in range(len(run.outputs)):
            got, exp = run.outputs[i], task.expected[i]
            why = lcb.stdio_mismatch(got, exp) if task.kind == "stdin" else lcb.call_mismatch(got, exp)
            if why is not None:
                return CodeVerdict("failed", f"test {i}: {why}", None, i, run.wall_s)
        early = _early_outcome(run)
        if early is not None:
            outcome, detail, at = early
            return CodeVerdict(outcome, detail, None, at, run.wall_s)
        return CodeVerdict("passed", "", None, None, run.wall_s)


def _part(task: CodeTask, i: int) -> str:
    return "base" if i < task.n_base else "plus"


def _call_task(task: CodeTask, code: str, limits: list[float], *, load_limit: float) -> dict[str, Any]:
    """Loading the program is limited only by the run's budget, as in EvalPlus (whose one
    deadline covers loading and every input)."""
    return {
        "kind": "call",
        "code": code,
        "entry_point": task.entry_point,
        "inputs": task.inputs,
        "time_limits": limits,
        "load_limit": load_limit,
    }


def _limits(wall: float) -> Limits:
    return Limits(wall_s=wall + 1.0, cpu_s=math.ceil(wall) + 2, memory_mb=MEMORY_MB, nproc=16, fsize_mb=16)


def _early_outcome(run: RawRun) -> tuple[str, str, int | None] | None:
    """Why a run that did not report every test ended, as (outcome, detail, test index)."""
    if run.done:
        return None
    at = run.stopped_at
    where = f"test {at}" if at is not None else "loading"
    stop = run.stop
    if stop == "syntax_error":
        return "syntax_error", run.message, None
    if stop in ("timeout", "deadline"):
        return "timeout", f"{where}: time limit ({run.message or 'per-test limit'})", at
    if stop == "memory":
        return "memory", f"{where}: memory limit", at
    if stop == "exception":
        return "failed", f"test {at} raised {run.message}", at
    if stop == "load_error":
        return "failed", f"loading raised {short_repr(run.message, 300)}", None
    return "crashed", f"{stop}: {run.message}", at
