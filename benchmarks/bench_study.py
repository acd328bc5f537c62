"""`make study` from a fresh clone: wall time and where it goes, before and after a change.

For each git ref given, clones this repository at that ref into a temporary folder, runs
`make study` there (a fresh virtual environment included, as a new user would), and reads the
timing files the workflow writes (`<study>/benchmarks/*.tsv`, Snakemake's per-job wall seconds).
Prints, per ref, the whole wall time, the install, the seconds per stage (summed over that
stage's jobs: process seconds, which overlap when jobs run in parallel), the process seconds of all
jobs and that figure divided by the cores (no schedule can run the jobs in less), and when the last job of
each rule finished (seconds after the first job started, from Snakemake's log), with each figure's ratio
to the first ref's (the baseline, measured in the same run). The load average before and after is
printed too: other processes on the machine slow every stage.

    .venv/bin/python benchmarks/bench_study.py --refs <before-commit> HEAD
    .venv/bin/python benchmarks/bench_study.py --study-dir /path/to/clone/data/runs/studies/toy  # report only

Each clone takes the full study's time (about 15 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def stage_seconds(study_dir: Path) -> dict[str, float]:
    """Seconds per stage (models, sample, grade, findings, perplexity_scores, page, ...), summed over its jobs."""
    import polars as pl

    from analysis.pages.reproducibility import wall_times_in

    times = wall_times_in(study_dir / "benchmarks")
    if times.is_empty():
        return {}
    summed = times.group_by("stage", maintain_order=True).agg(pl.col("seconds").sum())
    figures = dict(summed.iter_rows())
    # Every job runs one thread, so its wall seconds are its work (Snakemake's cpu_time samples the
    # process now and then and misses half of a 30-second job). No schedule on this many cores runs
    # the jobs in less than their sum over the cores (install and Snakemake's own start aside).
    work = times["seconds"].sum()
    figures["process s, all jobs"] = work
    figures[f"process s / {os.cpu_count()} cores"] = work / (os.cpu_count() or 1)
    return figures


_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START = re.compile(r"^(?:local)?rule (\w+):$")
_FINISH = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)$")


def milestones(log: Path) -> dict[str, float]:
    """From Snakemake's log of one run: seconds from the first job's start until the last job of
    each rule finished (``<rule> done``), in the order the rules first finished. This shows the
    critical path: when the models were ready, when sampling ended, when the book was built."""
    first: datetime | None = None
    now: datetime | None = None
    done: dict[str, float] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if m := _STAMP.match(line):
            now = datetime.strptime(m[1], "%a %b %d %H:%M:%S %Y")
        elif _START.match(line) and now is not None and first is None:
            first = now
        elif (m := _FINISH.match(line)) and now is not None and first is not None:
            done[f"{m[1]} done"] = (now - first).total_seconds()
    return dict(sorted(done.items(), key=lambda kv: kv[1]))


def newest_log(clone: Path) -> Path | None:
    logs = sorted((clone / ".snakemake" / "log").glob("*.snakemake.log"))
    return logs[-1] if logs else None


def run_ref(ref: str, workdir: Path) -> dict[str, float]:
    clone = workdir / ref.replace("/", "_")
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", ref], check=True)
    t0 = time.perf_counter()
    subprocess.run(["make", "venv"], cwd=clone, check=True, stdout=subprocess.DEVNULL)
    install = time.perf_counter() - t0
    log = workdir / f"{clone.name}.log"
    with log.open("w") as sink:
        done = subprocess.run(["make", "study"], cwd=clone, stdout=sink, stderr=subprocess.STDOUT, check=False)
    total = time.perf_counter() - t0
    if done.returncode != 0:
        msg = f"make study failed at {ref} (log: {log})"
        raise RuntimeError(msg)
    figures = {"wall (install + study)": total, "install": install}
    figures |= stage_seconds(clone / "data" / "runs" / "studies" / "toy")
    if (log := newest_log(clone)) is not None:
        figures |= milestones(log)
    return figures


def report(results: dict[str, dict[str, float]]) -> None:
    names = list(dict.fromkeys(k for r in results.values() for k in r))
    refs = list(results)
    base = results[refs[0]]
    print(f"{'seconds':<26}" + "".join(f"{r[:12]:>14}" for r in refs) + ("   ratio to first" if len(refs) > 1 else ""))
    for name in names:
        cells = "".join(f"{results[r].get(name, float('nan')):>14.1f}" for r in refs)
        ratios = "  ".join(
            f"{results[r][name] / base[name]:.2f}" for r in refs[1:] if name in results[r] and base.get(name)
        )
        print(f"{name:<26}{cells}   {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", nargs="+", help="git refs to time, the first being the baseline")
    parser.add_argument("--study-dir", type=Path, help="only report the stage seconds of a finished study")
    parser.add_argument("--clone", type=Path, help="with --study-dir: the clone whose Snakemake log has the milestones")
    parser.add_argument("--keep", action="store_true", help="keep the clones")
    args = parser.parse_args()
    if args.study_dir:
        figures = stage_seconds(args.study_dir)
        if args.clone is not None and (log := newest_log(args.clone)) is not None:
            figures |= milestones(log)
        report({"study": figures})
        return
    if not args.refs:
        parser.error("give --refs or --study-dir")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    workdir = Path(tempfile.mkdtemp(prefix="bench-study-"))
    try:
        results = {ref: run_ref(ref, workdir) for ref in args.refs}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report(results)


if __name__ == "__main__":
    main()
