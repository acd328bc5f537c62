"""Grading throughput on realistic MATH500-style responses (target: >= 200 strict verdicts/s, 2 workers).

Responses: for each MATH500 problem, a few hundred words of worked reasoning that end in one
``\\boxed{}`` answer: three other problems' solutions with their boxes removed, then the problem's
own solution. Half keep the problem's answer (correct), half end in another problem's answer
(incorrect). Every response is distinct, and no cache is used.

Printed for each mode (strict, paper):

* ``in-process``: the graders called directly, no pool and no deadline, in a process whose LaTeX
  parser is already warm (for reference: pool workers start from the fork server's warm-up);
* ``pool, 1 worker`` and ``pool, N workers``: ``GradingPool`` with ``--chunk-size`` items per
  task, started before timing; the ratio is what the second worker buys on this machine;
* ``one item per task``: the same pool without chunking, the design chunking replaces;
* the pool's own cost per item, measured in ``exact`` mode where grading is nearly free.

Each figure is measured ``--repeats`` times from cold caches; the best and the median are
printed (this machine is shared, so the best run is the least disturbed one).

Run: ``.venv/bin/python benchmarks/bench_grading.py --benchmarks-dir ../shared/benchmarks/math``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import statistics
import time
from pathlib import Path

from analysis.benchmarks import load_benchmark
from analysis.grading import GradingPool, grade_response


def build_responses(benchmarks_dir: Path, n: int, seed: int = 0) -> list[tuple[str, tuple[str, ...]]]:
    problems = load_benchmark("math500", benchmarks_dir)
    solutions = [json.loads(m)["solution"] for m in problems["metadata"]]
    golds = [tuple(g) for g in problems["gold"]]
    rng = random.Random(seed)
    unboxed = [re.sub(r"\\boxed\{", "{", s) for s in solutions]
    items = []
    for k in range(n):
        i = k % len(solutions)
        filler = " ".join(unboxed[j] for j in rng.sample(range(len(solutions)), 3))
        if k % 2 == 0:
            ending = solutions[i]
        else:
            other = golds[(i + 1 + rng.randrange(len(golds) - 1)) % len(golds)][0]
            ending = re.sub(r"\\boxed\{.*\}", lambda _m, o=other: f"\\boxed{{{o}}}", solutions[i], flags=re.DOTALL)
        items.append((f"Let me think step by step.\n{filler}\nNow the problem itself.\n{ending}", golds[i]))
    return items


def _clear_caches() -> None:
    """Forget parsed answers, so that every repetition starts cold (as a fresh worker does)."""
    from analysis.grading import paper, strict
    from analysis.grading.official import parse

    for cached in (strict._parse_boxed, strict._boxed_verdict, parse.parse_answer, paper._equal_cached):
        cached.cache_clear()


def timed_serial(items: list[tuple[str, tuple[str, ...]]], mode: str) -> float:
    _clear_caches()
    start = time.perf_counter()
    for response, gold in items:
        grade_response(response, gold, mode)
    return time.perf_counter() - start


def timed_pool(
    items: list[tuple[str, tuple[str, ...]]], mode: str, workers: int, chunk: int, deadline: float
) -> tuple[float, float]:
    """Wall seconds to grade ``items`` in a started pool, and the workers' CPU seconds."""
    with GradingPool(workers, deadline, chunk_size=chunk) as pool:
        pool.grade(items[:workers], mode)  # workers started and forked from the warm fork server
        cpu0 = pool.stats.cpu_s
        start = time.perf_counter()
        results = pool.grade(items, mode)
        elapsed = time.perf_counter() - start
        cpu = pool.stats.cpu_s - cpu0
    bad = sum(r.status in ("timeout", "error") for r in results)
    if bad:
        print(f"    note: {bad} verdicts with status timeout/error")
    return elapsed, cpu


def _burn(n: int) -> float:
    total = 0
    for i in range(n):
        total += i * i
    return float(total)


def parallel_capacity(n: int = 3_000_000) -> float:
    """How much more CPU work two processes get done than one, right now, on this machine."""
    import multiprocessing

    start = time.perf_counter()
    _burn(n)
    one = time.perf_counter() - start
    # spawn, not forkserver: the grading pools must be the ones to start (and preload) the fork server
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1, 1])  # both processes started and imported
        start = time.perf_counter()
        pool.map(_burn, [n, n])
        two = time.perf_counter() - start
    return 2 * one / two


def best(n: int, runs: list[tuple[float, float]]) -> float:
    """Verdicts/s of the fastest of ``runs`` ((wall seconds, CPU seconds) pairs)."""
    return n / min(t for t, _ in runs)


def rates(n: int, times: list[float]) -> str:
    """Best and median verdicts/s over the repetitions (the best is the least disturbed run)."""
    best, median = n / min(times), n / statistics.median(times)
    return f"best {best:7.1f}/s  median {median:7.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks-dir", type=Path, default=Path("../shared/benchmarks/math"))
    parser.add_argument("-n", type=int, default=4000, help="responses per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--deadline", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    items = build_responses(args.benchmarks_dir, args.n)
    words = sum(len(r.split()) for r, _ in items) / len(items)
    print(f"{len(items)} responses, {words:.0f} words on average, one box each; {os.cpu_count()} cpus")
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    print(f"parallel capacity now: 2 processes do {parallel_capacity():.2f}x the work of 1 (pure CPU loop)")
    small = items[: max(1, args.n // 4)]
    for mode in ("strict", "paper"):
        timed_serial(small, mode)  # imports and parser tables, then cold answer caches below
        configs = {
            "in-process, warm parser, no deadline": lambda m=mode: (timed_serial(small, m), 0.0),
            f"pool, 1 worker, chunks of {args.chunk_size}": lambda m=mode: timed_pool(
                items, m, 1, args.chunk_size, args.deadline
            ),
            f"pool, {args.workers} workers, chunks of {args.chunk_size}": lambda m=mode: timed_pool(
                items, m, args.workers, args.chunk_size, args.deadline
            ),
            f"pool, {args.workers} workers, one item per task": lambda m=mode: timed_pool(
                items, m, args.workers, 1, args.deadline
            ),
        }
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label in configs}
        for _ in range(args.repeats):  # interleaved, so every configuration sees the same load
            for label, run in configs.items():
                runs[label].append(run())
        print(f"{mode}:  verdicts/s (best, median of {args.repeats}); worker CPU ms per verdict")
        labels = list(configs)
        for label in labels:
            size = len(small) if label == labels[0] else len(items)
            cpu = "" if label == labels[0] else f"   {1000 * min(c for _, c in runs[label]) / size:5.2f} ms CPU"
            print(f"  {label:<38s} {rates(size, [t for t, _ in runs[label]])}{cpu}")
        one, many, single = (best(len(items), runs[label]) for label in labels[1:])
        print(f"  -> {args.workers} workers vs 1: {many / one:.2f}x; chunks vs one item per task: {many / single:.2f}x")
    # The pool's own cost per item, with grading itself nearly free (exact match on "A:").
    chunked = min(timed_pool(items, "exact", args.workers, args.chunk_size, args.deadline)[0] for _ in range(2))
    unchunked = min(timed_pool(items, "exact", args.workers, 1, args.deadline)[0] for _ in range(2))
    print(
        f"pool overhead (exact mode, grading nearly free): chunks of {args.chunk_size} "
        f"{len(items) / chunked:8.0f}/s, one item per task {len(items) / unchunked:6.0f}/s "
        f"({1000 * unchunked / len(items):.2f} ms vs {1000 * chunked / len(items):.3f} ms per item)"
    )
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
