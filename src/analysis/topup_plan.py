"""Top-up plan files: from a graded run, how many more samples each problem needs to decide
"unsolved at k", written as a file ``python -m analysis.sampling topup`` reads.

    python -m analysis.sampling plan-topup RUN_DIR --grades GRADES.parquet --k 256 --out plan.csv
    python -m analysis.sampling topup RUN_DIR --extra plan.csv --at-least 256
    # grade the top-up, then plan again from the grades of the whole lineage:
    python -m analysis.sampling plan-topup TOPUP_DIR --grades G1.parquet G2.parquet --k 256 --out plan2.csv

or from Python: ``write_plan(plan_topup(run_dir, grades, k=256), "plan.csv")``.

What the plan decides (``metrics.planner.unsolved_plan``): a problem with a correct sample in the
run's lineage (the root run and every top-up up to ``RUN_DIR``, pooled) is "solved" and gets 0
extra samples; one without gets ``samples_to_rule_out(k, epsilon, confidence) − n`` more (at least
0), so that, if they all fail too, its pass@k is at most ``epsilon`` at ``confidence``
(one-sided Clopper–Pearson bound for 0 of n). Pooling is right for that decision: 0 successes in n
samples has probability ``(1 − p)^n`` however n was reached. It is *not* right for pass@k: the
extras look at each problem's own pilot, so pooled pass@k is biased upwards (see
``analysis.sampling.top_up``). To estimate pass@k too, top up with ``--at-least k`` and estimate
from the top-up's own samples alone. A plan says nothing about problems that already have a
success (their pass@k may be anything above 0); a problem whose ``extra`` is 0 and ``status``
"open" is decided: unsolved at k.

A plan file holds ``run_hash`` (the run it tops up: ``RUN_DIR``), ``model``, ``benchmark``,
``problem_id``, ``n`` and ``c`` (graded samples and correct ones in the lineage), ``status``
("solved" / "open") and ``extra``; ``topup`` needs only ``problem_id`` and ``extra`` and refuses a
plan whose ``run_hash`` names another run. ``.csv`` or ``.parquet``, by the file name.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from analysis.metrics.counts import GradesSource, counts_from_grades, scan_grades
from analysis.metrics.planner import unsolved_plan
from analysis.sampling import SamplingError, load_samples, read_run_config, topup_lineage
from analysis.store import atomic_write_parquet, atomic_write_text

SUFFIXES = (".csv", ".parquet")


def lineage_counts(run_dir: str | os.PathLike[str], grades: GradesSource, *, grader: str | None = None) -> pl.DataFrame:
    """The counts table (``n``, ``c`` per problem) of every sample of ``run_dir``'s lineage, pooled.

    ``grades``: grades of the lineage's runs (other runs' rows are ignored, matched on ``run_hash``).
    Raises ``ValueError`` unless every sample of the lineage is graded exactly once.
    """
    lineage = topup_lineage(run_dir)
    hashes = [read_run_config(d)["run_hash"] for d in lineage]
    lf = scan_grades(grades)
    if "run_hash" not in lf.collect_schema():
        msg = "the grades table has no run_hash column: cannot tell which run its rows grade"
        raise ValueError(msg)
    lf = lf.filter(pl.col("run_hash").is_in(hashes))
    if lf.select(pl.len()).collect().item() == 0:
        msg = f"the grades hold no rows of run(s) {hashes} (the lineage of {run_dir}); grade them first"
        raise ValueError(msg)
    counts = counts_from_grades(lf, grader=grader)
    sampled = load_samples(lineage).group_by("problem_id").agg(pl.len().cast(pl.Int64).alias("sampled")).collect()
    check = sampled.join(counts.select("problem_id", "n"), on="problem_id", how="full", coalesce=True)
    bad = check.filter((pl.col("n") != pl.col("sampled")).fill_null(True))
    if bad.height:
        row = bad.row(0, named=True)
        msg = (
            f"problem {row['problem_id']!r} has {row['sampled'] or 0} samples in runs {hashes} but {row['n'] or 0} "
            f"graded ({bad.height} problem(s) differ); grade every run of the lineage, each once"
        )
        raise ValueError(msg)
    return counts


def plan_topup(
    run_dir: str | os.PathLike[str],
    grades: GradesSource,
    k: int,
    *,
    epsilon: float = 0.05,
    confidence: float = 0.95,
    grader: str | None = None,
) -> pl.DataFrame:
    """The extra samples per problem of ``run_dir`` that decide "unsolved at k" (see the module docstring)."""
    plan = unsolved_plan(lineage_counts(run_dir, grades, grader=grader), k, epsilon=epsilon, confidence=confidence)
    run_hash = read_run_config(run_dir)["run_hash"]
    return plan.select(pl.lit(run_hash).alias("run_hash"), pl.all())


def _suffix(path: Path) -> str:
    if path.suffix not in SUFFIXES:
        msg = f"{path}: a plan file is .csv or .parquet"
        raise ValueError(msg)
    return path.suffix


def write_plan(plan: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a plan atomically, as CSV or parquet by ``path``'s suffix."""
    path = Path(path)
    if _suffix(path) == ".csv":
        return atomic_write_text(plan.write_csv(), path)
    return atomic_write_parquet(plan, path)


def read_plan(path: str | os.PathLike[str], run_hash: str | None = None) -> pl.DataFrame:
    """A plan file's rows (for ``run_hash`` only, where the file has that column).

    Raises ``ValueError`` for a missing or unreadable file, or one that plans only other runs.
    Other checks (columns, unknown problems, counts) are ``top_up.resolve_extras``'.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"plan file not found: {path}"
        raise SamplingError(msg)
    try:
        ids = {"problem_id": pl.String, "run_hash": pl.String}
        plan = pl.read_csv(path, schema_overrides=ids) if _suffix(path) == ".csv" else pl.read_parquet(path)
    except pl.exceptions.PolarsError as e:
        msg = f"cannot read plan file {path}: {e}"
        raise SamplingError(msg) from e
    if run_hash is not None and "run_hash" in plan.columns:
        mine = plan.filter(pl.col("run_hash") == run_hash)
        if mine.height == 0:
            others = sorted(plan["run_hash"].drop_nulls().unique().to_list())
            msg = f"{path} plans run(s) {others[:5]}, not run {run_hash}"
            raise SamplingError(msg)
        plan = mine
    return plan


def describe(plan: pl.DataFrame, k: int) -> str:
    """One line: what a plan decides."""
    open_ = plan.filter(pl.col("status") == "open")
    todo = open_.filter(pl.col("extra") > 0)
    return (
        f"{plan.height} problems: {plan.height - open_.height} solved, {open_.height - todo.height} unsolved at "
        f"k={k} (decided), {todo.height} open needing {int(todo['extra'].sum())} extra samples"
    )
