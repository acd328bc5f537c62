"""Programs graded per second: HumanEval+ reference solutions on all base + plus tests.

Two ways, in the same run, on the same tasks, in the same order (the slowest tasks first, as the
grade stage schedules them):

* ``sandbox``: the study's grade stage for code, ``analysis.code.samples.grade_code_samples``
  (one sample per task: the canonical solution in a fenced block; warm zygote per worker, one
  fork + namespaces per program, comparison in the parent, timeouts re-run once);
* ``fresh interpreter``: the baseline, one ``python -I`` process started per program, which
  loads the program, runs every input and prints the encoded outputs (no isolation at all);
  compared with the same rules.

Expected outputs (the canonical solution's run, which sets the time limits) are computed first
and not timed. The figure depends on the machine and on its load (a shared 2-core machine here;
``os.getloadavg`` is printed with the result). Part of HumanEval+ is dominated by the programs'
own work (a few tasks take seconds on their plus inputs): the script prints that work (the sum
of the canonical solution's per-test times) and the rate it alone allows on the workers, and the
per-program overhead on the cheapest tasks, where the two ways differ most.

    .venv/bin/python benchmarks/bench_code_grading.py [--folder ../shared/benchmarks/code] [--tasks 164] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from analysis import schemas
from analysis.code import evalplus_rules as ep
from analysis.code.grade import CodeGrader
from analysis.code.loaders import CodeTask, load_tasks
from analysis.code.samples import grade_code_samples
from analysis.code.values import Digest, decode

_FRESH = r"""
import json, sys, time
from analysis.code.harness import DIGEST_ABOVE, LONG
from analysis.code.values import encode, digest_value
job = json.loads(sys.stdin.read())
ns = {}
exec(compile(job["code"], "<program>", "exec"), ns)
fn = ns[job["entry_point"]]
out = []
for args in job["inputs"]:
    value = fn(*args)
    if type(value) in (list, tuple) and len(value) > LONG:
        out.append({"h": digest_value(value)})
        continue
    enc = encode(value)
    out.append({"h": digest_value(value)} if len(json.dumps(enc)) > DIGEST_ABOVE else {"v": enc})
sys.stdout.write(json.dumps(out))
"""


def fresh_interpreter(task: CodeTask, expected: list) -> bool:
    job = json.dumps({"code": task.canonical, "entry_point": task.entry_point, "inputs": task.inputs})
    proc = subprocess.run([sys.executable, "-I", "-c", _FRESH], input=job, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return False
    outs = [Digest(o["h"]) if "h" in o else decode(o["v"]) for o in json.loads(proc.stdout)]
    n = task.n_base
    return all(
        ep.first_mismatch(task.dataset, task.entry_point, task.atol, task.inputs[a:b], outs[a:b], expected[a:b]) is None
        for a, b in ((0, n), (n, len(task.inputs)))
    )


def _samples(chosen: list[CodeTask]) -> pl.DataFrame:
    """One sample per task: the canonical solution, answered as a model would (a fenced block)."""
    frame = pl.DataFrame(
        {
            "run_hash": "bench",
            "model": "reference",
            "benchmark": "humanevalplus",
            "problem_id": [t.task_id for t in chosen],
            "sample_index": 0,
            "seed": 0,
            "text": [f"```python\n{t.canonical}\n```" for t in chosen],
            "n_tokens": 0,
            "finish_reason": "stop",
        }
    )
    return schemas.conform(frame, "samples")


def _cpu_s() -> float:
    """CPU seconds of this process and of every child it has waited for (workers, programs)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _figure(name: str, n: int, wall: float, cpu: float, note: str, workers: int) -> str:
    return (
        f"{name} {n / wall:.1f} programs/s ({note}; CPU {cpu:.1f} s = {1000 * cpu / n:.0f} ms a program, "
        f"so at most {n * workers / cpu:.1f} programs/s on {workers} idle cores)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default=str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "code"))
    ap.add_argument("--tasks", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cheap", type=int, default=40, help="how many of the cheapest tasks the overhead figure uses")
    ap.add_argument("--cache-dir", default=None, help="keep the expected outputs here between runs")
    args = ap.parse_args()
    tasks = list(load_tasks("humanevalplus", args.folder).values())[: args.tasks]
    with tempfile.TemporaryDirectory() as scratch:
        run(tasks, args, Path(args.cache_dir or scratch))
    print(f"load average (1, 5, 15 min): {os.getloadavg()}; CPUs: {os.cpu_count()}; workers: {args.workers}")


def run(tasks: list[CodeTask], args: argparse.Namespace, cache: Path) -> None:
    with CodeGrader(workers=args.workers, cache_dir=cache) as g:
        print(f"isolation: {g.sandbox.isolation.kind} ({g.sandbox.isolation.detail})")
        t0 = time.perf_counter()
        refs = {t.task_id: g.reference(t) for t in tasks}
        print(f"expected outputs of {len(tasks)} tasks: {time.perf_counter() - t0:.1f} s (not timed below)")
    work = {t.task_id: sum(refs[t.task_id].times) for t in tasks}
    by_cost = sorted(tasks, key=lambda t: -work[t.task_id])  # the order grade_code_samples runs them in
    cheap = by_cost[-args.cheap :]

    def sandbox(chosen: list[CodeTask]) -> tuple[float, float, str]:
        # CPU is counted once the workers have exited (with their programs); it includes starting
        # them (about 0.1 s each), not the expected outputs (read back from the cache first)
        cpu0 = _cpu_s()
        with CodeGrader(workers=args.workers, cache_dir=cache) as timed:
            for t in chosen:
                timed.reference(t)
            start = time.perf_counter()
            grades = grade_code_samples(
                _samples(chosen), {t.task_id: t for t in chosen}, workers=args.workers, grader=timed, progress=False
            )
            wall = time.perf_counter() - start
        note = f"{grades['correct'].sum()}/{len(chosen)} passed, {grades['retried'].sum()} re-run"
        return wall, _cpu_s() - cpu0, note

    def fresh(chosen: list[CodeTask]) -> tuple[float, float, str]:
        cpu0, start = _cpu_s(), time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            ok = list(pool.map(lambda t: fresh_interpreter(t, refs[t.task_id].outputs), chosen))
        return time.perf_counter() - start, _cpu_s() - cpu0, f"{sum(ok)}/{len(chosen)} passed"

    for label, chosen in ((f"all {len(by_cost)} tasks", by_cost), (f"the {len(cheap)} cheapest tasks", cheap)):
        n, own = len(chosen), sum(work[t.task_id] for t in chosen)
        s_wall, s_cpu, s_note = sandbox(chosen)
        f_wall, f_cpu, f_note = fresh(chosen)
        print(f"{label}:")
        print("  " + _figure("sandbox", n, s_wall, s_cpu, s_note, args.workers))
        print("  " + _figure("fresh interpreter", n, f_wall, f_cpu, f_note, args.workers))
        print(f"  ratio sandbox / fresh interpreter: {f_wall / s_wall:.2f}x (wall), {f_cpu / s_cpu:.2f}x (CPU)")
        print(
            f"  the programs' own work (the canonical solution's time on every test): {own:.1f} s, "
            f"so at most {n * args.workers / own:.1f} programs/s on {args.workers} idle cores with no overhead"
        )


if __name__ == "__main__":
    main()
