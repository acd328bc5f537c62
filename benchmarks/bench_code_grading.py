"""Programs graded per second: HumanEval+ reference solutions on all base + plus tests.

Two ways, in the same run, on the same tasks:

* ``sandbox``: ``analysis.code.CodeGrader`` (warm zygote per worker, one fork + namespaces per
  program, comparison in the parent);
* ``fresh interpreter``: the baseline, one ``python -I`` process started per program, which
  loads the program, runs every input and prints the encoded outputs (no isolation at all);
  compared with the same rules.

Expected outputs (the canonical solution's run, which sets the time limits) are computed first
and not timed. The figure depends on the machine and on its load (a shared 2-core machine here;
``os.getloadavg`` is printed with the result). Part of HumanEval+ is dominated by the programs'
own work (a few tasks take seconds on their plus inputs), so the script also reports the
per-program overhead on the cheapest tasks, where the two ways differ most.

    .venv/bin/python benchmarks/bench_code_grading.py [--folder ../shared/benchmarks/code] [--tasks 164] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from analysis.code import evalplus_rules as ep
from analysis.code.grade import CodeGrader
from analysis.code.loaders import CodeTask, load_tasks
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default=str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "code"))
    ap.add_argument("--tasks", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cheap", type=int, default=40, help="how many of the cheapest tasks the overhead figure uses")
    ap.add_argument("--cache-dir", default=None, help="keep the expected outputs here between runs")
    args = ap.parse_args()
    tasks = list(load_tasks("humanevalplus", args.folder).values())[: args.tasks]
    from concurrent.futures import ThreadPoolExecutor

    with CodeGrader(workers=args.workers, cache_dir=args.cache_dir) as g:
        print(f"isolation: {g.sandbox.isolation.kind} ({g.sandbox.isolation.detail})")
        t0 = time.perf_counter()
        refs = {t.task_id: g.reference(t) for t in tasks}
        print(f"expected outputs of {len(tasks)} tasks: {time.perf_counter() - t0:.1f} s (not timed below)")
        cheap = sorted(tasks, key=lambda t: sum(refs[t.task_id].times))[: args.cheap]

        def sandbox_rate(chosen: list[CodeTask]) -> tuple[float, int]:
            start = time.perf_counter()
            with ThreadPoolExecutor(args.workers) as pool:
                verdicts = list(pool.map(lambda t: g.grade(t, t.canonical), chosen))
            return len(chosen) / (time.perf_counter() - start), sum(v.passed for v in verdicts)

        def fresh_rate(chosen: list[CodeTask]) -> tuple[float, int]:
            start = time.perf_counter()
            with ThreadPoolExecutor(args.workers) as pool:
                ok = list(pool.map(lambda t: fresh_interpreter(t, refs[t.task_id].outputs), chosen))
            return len(chosen) / (time.perf_counter() - start), sum(ok)

        for label, chosen in ((f"all {len(tasks)} tasks", tasks), (f"the {len(cheap)} cheapest tasks", cheap)):
            s_rate, s_ok = sandbox_rate(chosen)
            f_rate, f_ok = fresh_rate(chosen)
            print(
                f"{label}: sandbox {s_rate:.1f} programs/s ({s_ok}/{len(chosen)} passed); "
                f"fresh interpreter {f_rate:.1f} programs/s ({f_ok}/{len(chosen)} passed); "
                f"ratio {s_rate / f_rate:.2f}x"
            )
    print(f"load average (1, 5, 15 min): {os.getloadavg()}; CPUs: {os.cpu_count()}; workers: {args.workers}")


if __name__ == "__main__":
    main()
