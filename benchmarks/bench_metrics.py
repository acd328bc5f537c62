"""Speed and memory of analysis.metrics at paper scale (issue 3).

Measures, in one run:

1. the whole pass@k curve (every k from 1 to 1024) of 10,000 problems x n = 1024 x 2 models, against
   the common approach (the product-form estimator called once per k per problem, as the paper's
   ``pass@k.py`` does), with the results compared to 1e-12. The baseline is O(n^2) numpy calls per
   problem, so by default it runs on a subset of problems (``--baseline-problems``) and its time is
   scaled linearly to the full size (it is a loop over independent problems); ``--baseline-problems
   10000`` runs it in full;
2. the same curves with a 1,000-resample bootstrap interval, and a paired difference with crossover;
3. 50 million grades rows in parquet (no text column) -> per-problem counts -> curves, in a fresh
   child process whose peak resident memory is read from the kernel (``VmHWM`` in /proc/self/status;
   ``ru_maxrss`` is not used because Linux carries it over from the forking parent across exec).

Targets (issue 3): curve < 1 s and >= 50x the baseline; 50M rows with peak memory < 4 GB.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_metrics.py`` (generated data go to benchmarks/out/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from analysis import metrics

OUT = Path(__file__).resolve().parent / "out"


# --------------------------------------------------------------------------- the baseline


def product_form(n: int, c: int, k: int) -> float:
    """The estimator as human-eval and the paper's code write it (one call per problem per k)."""
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def baseline_curve(n: np.ndarray, c: np.ndarray, k_max: int) -> np.ndarray:
    """Mean pass@k for k = 1..k_max with nested loops, as ``pass@k.py`` does."""
    return np.array(
        [np.mean([product_form(int(a), int(b), k) for a, b in zip(n, c, strict=True)]) for k in range(1, k_max + 1)]
    )


# --------------------------------------------------------------------------- data


def synthetic_counts(problems: int, n: int, seed: int = 0) -> pl.DataFrame:
    """Two models with per-problem success rates from Beta distributions (many near 0 and near 1)."""
    rng = np.random.default_rng(seed)
    frames = []
    # base: spread-out success rates; rl: sharpened towards 1 but with more problems it never solves
    for model, (a, b, never) in (("base", (0.4, 0.6, 0.03)), ("rl", (0.9, 0.2, 0.12))):
        p = rng.beta(a, b, problems)
        p[rng.random(problems) < never] = 0.0
        frames.append(
            pl.DataFrame(
                {
                    "model": model,
                    "benchmark": "synthetic",
                    "problem_id": [f"p{i:06d}" for i in range(problems)],
                    "n": np.full(problems, n, dtype=np.int64),
                    "c": rng.binomial(n, p).astype(np.int64),
                }
            )
        )
    return pl.concat(frames)


def write_grades(folder: Path, problems: int, n: int, per_file: int, seed: int = 0) -> pl.DataFrame:
    """Grades parquet files (all GRADES columns, no text) for 2 models; returns the true counts."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = []
    jobs = [(m, start) for m in ("base", "rl") for start in range(0, problems, per_file)]
    for model, start in tqdm(jobs, desc="writing grades parquet", unit="file"):
        stop = min(start + per_file, problems)
        size = stop - start
        p = rng.beta(0.5, 0.5, size)
        correct = rng.random((size, n)) < p[:, None]
        extracted = rng.integers(0, 20, (size, n))
        ids = [f"p{i:06d}" for i in range(start, stop)]
        frame = pl.DataFrame(
            {
                "run_hash": pl.Series([f"run-{model}"], dtype=pl.String).new_from_index(0, size * n),
                "model": pl.Series([model], dtype=pl.String).new_from_index(0, size * n),
                "benchmark": pl.Series(["synthetic"], dtype=pl.String).new_from_index(0, size * n),
                "problem_id": pl.Series(ids, dtype=pl.String).gather(np.repeat(np.arange(size), n)),
                "sample_index": np.tile(np.arange(n, dtype=np.int32), size),
                "grader": pl.Series(["strict"], dtype=pl.String).new_from_index(0, size * n),
                "grader_version": pl.Series(["1"], dtype=pl.String).new_from_index(0, size * n),
                "correct": correct.ravel(),
                "extracted": extracted.ravel(),
                "status": pl.Series(["ok"], dtype=pl.String).new_from_index(0, size * n),
            }
        ).with_columns(
            pl.when(pl.col("extracted") == 0)
            .then(None)
            .otherwise(pl.col("extracted").cast(pl.String))
            .alias("extracted")
        )
        tmp = folder / f".{model}-{start:06d}.parquet.tmp"
        frame.write_parquet(tmp)
        tmp.replace(folder / f"{model}-{start:06d}.parquet")
        truth.append(pl.DataFrame({"model": model, "problem_id": ids, "n": np.full(size, n), "c": correct.sum(axis=1)}))
    return pl.concat(truth)


def ensure_grades(rows: int, n: int) -> tuple[Path, pl.DataFrame]:
    """Reuse benchmarks/out/grades-<rows>/ when complete, else write it."""
    problems = rows // (2 * n)
    folder = OUT / f"grades-{rows}-n{n}"
    marker = OUT / f"{folder.name}.truth.parquet"  # written last: the folder is complete
    if marker.exists():
        return folder, pl.read_parquet(marker)
    truth = write_grades(folder, problems, n, per_file=max(1, 2_500_000 // n))
    tmp = marker.with_suffix(".tmp")
    truth.write_parquet(tmp)
    tmp.replace(marker)
    return folder, truth


# --------------------------------------------------------------------------- measurements


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def bench_curves(problems: int, n: int, baseline_problems: int, resamples: int) -> dict:
    counts = synthetic_counts(problems, n)
    fast_s, curve = best_of(lambda: metrics.pass_at_k_curve(counts))
    out = {"problems": problems, "n": n, "models": 2, "curve_s": fast_s}
    # Worst case for the curve: every problem has its own n (n .. 2n-1), so no two share (n, c) and
    # nothing is merged; k still runs 1..n.
    spread = counts.with_columns((pl.col("n") + pl.int_range(pl.len()).over("model") % n).alias("n"))
    distinct = spread.select("model", "n", "c").unique().height
    worst_s, _ = best_of(lambda: metrics.pass_at_k_curve(spread, ks=np.arange(1, n + 1)))
    out |= {
        "curve_distinct_s": worst_s,
        "distinct_rows": distinct,
        "distinct_rows_main": counts.select("model", "n", "c").unique().height,
    }

    sub = min(baseline_problems, problems)
    print(f"baseline: product form per k per problem on {sub} problems x 2 models x {n} k ...", flush=True)
    base_s = 0.0
    worst = 0.0
    for model in ("base", "rl"):
        rows = counts.filter(pl.col("model") == model).head(sub)
        t0 = time.perf_counter()
        slow = baseline_curve(rows["n"].to_numpy(), rows["c"].to_numpy(), n)
        base_s += time.perf_counter() - t0
        ours = metrics.pass_at_k_curve(rows)["pass_at_k"].to_numpy()
        worst = max(worst, float(np.max(np.abs(slow - ours))))
        # per-problem agreement too (a mean can hide offsetting errors)
        idx = np.linspace(0, sub - 1, min(sub, 50)).astype(int)
        grid = metrics.per_problem_pass_at_k(rows["n"].to_numpy()[idx], rows["c"].to_numpy()[idx], n)
        for j, i in enumerate(idx):
            a, b = int(rows["n"][int(i)]), int(rows["c"][int(i)])
            pf = np.array([product_form(a, b, k) for k in range(1, n + 1)])
            worst = max(worst, float(np.max(np.abs(pf - grid[j]))))
    out |= {
        "baseline_problems": sub,
        "baseline_measured_s": base_s,
        "baseline_full_s": base_s * problems / sub,
        "baseline_scaled": sub < problems,
        "max_abs_diff": worst,
    }
    out["speedup"] = out["baseline_full_s"] / fast_s

    boot_s, banded = best_of(lambda: metrics.pass_at_k_curve(counts, ci=0.95, n_resamples=resamples), repeat=1)
    out |= {"resamples": resamples, "curve_ci_s": boot_s}
    assert np.allclose(banded["pass_at_k"].to_numpy(), curve["pass_at_k"].to_numpy(), atol=1e-12)
    pair_s, _ = best_of(
        lambda: metrics.paired_difference(counts, "rl", "base", ci=0.95, n_resamples=resamples), repeat=1
    )
    cross_s, cross = best_of(lambda: metrics.crossover(counts, "rl", "base", n_resamples=resamples), repeat=1)
    out |= {"paired_ci_s": pair_s, "crossover_s": cross_s, "crossover": str(cross)}
    return out


def child_50m(folder: str) -> None:
    """Run in a fresh process: grades parquet -> counts -> curves; print timings and peak memory as JSON."""
    t0 = time.perf_counter()
    counts = metrics.counts_from_grades(str(Path(folder) / "*.parquet"))
    t1 = time.perf_counter()
    curve = metrics.pass_at_k_curve(counts)
    t2 = time.perf_counter()
    counts.write_parquet(Path(folder).parent / "counts-50m.parquet")
    hwm_kb = 0
    with open("/proc/self/status") as f:  # peak RSS of this process since its exec
        for line in f:
            if line.startswith("VmHWM:"):
                hwm_kb = int(line.split()[1])
    print(
        json.dumps(
            {
                "counts_s": t1 - t0,
                "curves_s": t2 - t1,
                "count_rows": counts.height,
                "curve_rows": curve.height,
                "vmhwm_mb": hwm_kb / 1024,
            }
        )
    )


def bench_50m(rows: int, n: int) -> dict:
    folder, truth = ensure_grades(rows, n)
    files = sorted(folder.glob("*.parquet"))
    size_mb = sum(f.stat().st_size for f in files) / 2**20
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child-50m", str(folder)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"50M child failed:\n{proc.stdout}\n{proc.stderr}")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = pl.read_parquet(folder.parent / "counts-50m.parquet")
    check = counts.join(truth, on=["model", "problem_id"], suffix="_true")
    exact = (
        check.height == truth.height and (check["c"] == check["c_true"]).all() and (check["n"] == check["n_true"]).all()
    )
    return {
        "rows": int(truth["n"].sum()),
        "files": len(files),
        "parquet_mb": size_mb,
        "child_wall_s": wall,
        "counts_equal_truth": bool(exact),
        **child,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--baseline-problems", type=int, default=250, help="problems per model for the slow loop")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=50_000_000, help="grades rows for the parquet test")
    parser.add_argument("--rows-n", type=int, default=1000, help="samples per problem in the parquet test")
    parser.add_argument("--skip-parquet", action="store_true")
    parser.add_argument("--child-50m", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_50m:
        child_50m(args.child_50m)
        return

    OUT.mkdir(parents=True, exist_ok=True)
    print(f"numpy {np.__version__}, polars {pl.__version__}, {os.cpu_count()} CPUs, pid {os.getpid()}", flush=True)
    curves = bench_curves(args.problems, args.n, args.baseline_problems, args.resamples)
    big = None if args.skip_parquet else bench_50m(args.rows, args.rows_n)

    c = curves
    scaled = " (scaled from {} problems)".format(c["baseline_problems"]) if c["baseline_scaled"] else ""
    lines = [
        ("measurement", "figure", "target / note"),
        (f"curve, {c['problems']:,} problems x n={c['n']} x 2 models, k=1..{c['n']}", f"{c['curve_s']:.3f} s", "< 1 s"),
        (
            f"  same, n spread over {c['n']}..{2 * c['n'] - 1} (no (n, c) repeats)",
            f"{c['curve_distinct_s']:.3f} s",
            f"{c['distinct_rows']:,} distinct (n, c) vs {c['distinct_rows_main']:,}",
        ),
        (
            "baseline: product form per k per problem",
            f"{c['baseline_full_s']:.1f} s{scaled}",
            f"measured {c['baseline_measured_s']:.1f} s",
        ),
        ("speed-up", f"{c['speedup']:.0f}x", ">= 50x"),
        (
            "  speed-up of the no-repeats curve vs the same baseline",
            f"{c['baseline_full_s'] / c['curve_distinct_s']:.0f}x",
            "lower bound (its baseline would be slower)",
        ),
        ("max |ours - baseline|", f"{c['max_abs_diff']:.2e}", "<= 1e-12"),
        (f"curve with {c['resamples']}-resample bootstrap CI", f"{c['curve_ci_s']:.2f} s", "report"),
        (f"paired difference, {c['resamples']} resamples, all k", f"{c['paired_ci_s']:.2f} s", "report"),
        (f"crossover with {c['resamples']} resamples", f"{c['crossover_s']:.2f} s", "report"),
    ]
    if big is not None:
        lines += [
            (f"parquet: {big['rows']:,} rows, {big['files']} files", f"{big['parquet_mb']:.0f} MiB", "no text column"),
            ("  grades -> counts", f"{big['counts_s']:.1f} s", f"{big['count_rows']:,} counts rows"),
            ("  counts -> curves", f"{big['curves_s']:.2f} s", f"{big['curve_rows']:,} curve rows"),
            ("  child process wall time (incl. imports)", f"{big['child_wall_s']:.1f} s", "report"),
            ("  peak RSS of the child (VmHWM)", f"{big['vmhwm_mb']:.0f} MiB", "< 4096 MiB"),
            ("  counts equal the generated truth", str(big["counts_equal_truth"]), "True"),
        ]
    width = [max(len(r[i]) for r in lines) for i in range(3)]
    print()
    for i, row in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in width))
    print(f"\ncrossover (rl vs base, synthetic): {c['crossover']}")
    ok = c["curve_s"] < 1.0 and c["speedup"] >= 50 and c["max_abs_diff"] <= 1e-12
    if big is not None:
        ok = ok and big["vmhwm_mb"] < 4096 and big["counts_equal_truth"]
    result = {"curves": curves, "parquet": big, "targets_met": ok}
    (OUT / "bench_metrics.json").write_text(json.dumps(result, indent=1))
    print(f"targets met: {ok}  (figures in {OUT / 'bench_metrics.json'})")


if __name__ == "__main__":
    main()
