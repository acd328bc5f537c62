"""Speed of the simultaneous band (analysis.metrics.band) at paper scale.

Measures, in one run:

1. the sup-t band over every k from 1 to 1024 for 10,000 paired problems x n = 1024 (both the
   paired bootstrap and the Gaussian multiplier), with ``--resamples`` resamples;
2. the baseline, passk-inference 0.3.1's ``compare`` (the reference implementation), on a subset
   of ``--baseline-problems`` problems, scaled linearly to the full size (its pass@k is a Python loop
   over problems for each k, linear in problems), and our band on the same subset, which must agree
   with it exactly under the multiplier draws.

Target: the full-size band in a few seconds. Run: ``nice -n 10 .venv/bin/python benchmarks/bench_band.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import polars as pl

from analysis.metrics.band import simultaneous_band


def synthetic(problems: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p_base = rng.beta(0.3, 1.0, size=problems)
    p_rl = np.where(p_base > 0.05, np.minimum(1.0, 2.0 * p_base + 0.05), p_base * 0.1)
    return rng.binomial(n, p_base), rng.binomial(n, p_rl)


def counts_table(c_base: np.ndarray, c_rl: np.ndarray, n: int) -> pl.DataFrame:
    ids = [f"p{i:06d}" for i in range(c_base.size)]
    return pl.concat(
        [
            pl.DataFrame({"model": model, "benchmark": "bench", "problem_id": ids, "n": n, "c": c.astype(np.int64)})
            for model, c in (("base", c_base), ("rl", c_rl))
        ]
    )


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-problems", type=int, default=500)
    args = parser.parse_args()

    c_base, c_rl = synthetic(args.problems, args.n)
    counts = counts_table(c_base, c_rl, args.n)
    print(f"{args.problems:,} problems x n = {args.n} (every k from 1 to {args.n}), {args.resamples} resamples")
    for method in ("bootstrap", "multiplier"):
        band, seconds = timed(
            lambda method=method: simultaneous_band(counts, "rl", "base", n_resamples=args.resamples, method=method)
        )
        print(f"  band ({method:10s}): {seconds:6.2f} s   critical {band.critical:.3f}   {band.reading()}")

    try:
        import passk_inference
    except ImportError:
        print("passk-inference is not installed (the dev extra): no baseline")
        return
    m = args.baseline_problems
    sub = counts_table(c_base[:m], c_rl[:m], args.n)
    ours, t_ours = timed(
        lambda: simultaneous_band(sub, "rl", "base", n_resamples=args.resamples, method="multiplier", seed=0)
    )
    ref, t_ref = timed(
        lambda: passk_inference.compare(
            c_base[:m], np.full(m, args.n), c_rl[:m], np.full(m, args.n), bootstrap=args.resamples, seed=0
        )
    )
    gap = float(np.max(np.abs(ours.table["lo"].to_numpy() - np.asarray(ref["lower"]))))
    scaled = t_ref * args.problems / m
    print(f"baseline passk-inference on {m:,} problems: {t_ref:6.2f} s (ours {t_ours:.2f} s, {t_ref / t_ours:.0f}x)")
    first = list(ours.first_loss or [])
    print(f"  max |lower edge difference| = {gap:.1e}; first loss {first} vs {ref['first_loss_interval']}")
    print(f"  baseline scaled to {args.problems:,} problems: ~{scaled:.0f} s")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (timings on a shared machine scale with it)")


if __name__ == "__main__":
    main()
