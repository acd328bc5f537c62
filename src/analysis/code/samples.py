"""Grading a samples table of code answers: the study's grade stage for code benchmarks.

``grade_code_samples`` returns a grades table with the columns of the math grades
(``analysis.schemas.GRADES``: ``grader`` is ``"code"``) plus ``finish_reason``, ``outcome``,
``detail``, ``base_passed``, ``retried`` and ``upper_bound``:

* ``correct``: the program passed every test (EvalPlus: base and plus; LiveCodeBench: every
  test available, which with public tests only makes pass@k an upper bound, flagged in
  ``upper_bound``);
* ``extracted``: the program that was run (``analysis.code.extract``);
* ``status``: ``ok`` when the program ran to a verdict (passed, failed, syntax error, crash,
  memory), ``timeout`` when it ran out of time, ``no_answer`` when the response held no code;
* ``outcome``/``detail``: the sandbox's verdict and why.

Timeouts are graded twice: every sample that timed out in the parallel pass is re-run once, one
at a time, after it (a loaded machine slows programs past EvalPlus's time limits); the second
verdict stands and ``retried`` marks it. Identical programs for the same problem are run once.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
from tqdm import tqdm

from analysis import schemas
from analysis.code.extract import extract_code
from analysis.code.grade import GRADER_VERSION, CodeGrader, CodeVerdict
from analysis.code.loaders import CodeTask, load_tasks
from analysis.code.sandbox import OUTCOMES

log = logging.getLogger(__name__)
MODE = "code"


def grade_code_samples(
    samples: pl.DataFrame | pl.LazyFrame,
    tasks: dict[str, CodeTask],
    *,
    prefilled: bool | dict[str, bool] = False,
    workers: int = 2,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    grader: CodeGrader | None = None,
) -> pl.DataFrame:
    """Grade every sample of ``samples`` (a samples table) against ``tasks`` (problem id -> task).

    ``prefilled``: whether the prompt ended inside an opened ```python block (per model name, or
    one value for all).
    """
    schemas.check(samples, "samples")
    df = samples.lazy().collect() if isinstance(samples, pl.LazyFrame) else samples
    missing = sorted(set(df["problem_id"].unique().to_list()) - set(tasks))
    if missing:
        msg = f"{len(missing)} problems of the samples have no tests, e.g. {missing[:5]}"
        raise ValueError(msg)
    models, pids, texts = df["model"].to_list(), df["problem_id"].to_list(), df["text"].to_list()
    codes = []
    for model, text in zip(models, texts, strict=True):
        pre = prefilled.get(model, False) if isinstance(prefilled, dict) else prefilled
        codes.append(extract_code(text, prefilled=pre))
    todo: dict[tuple[str, str], int] = {}
    for row, (pid, code) in enumerate(zip(pids, codes, strict=True)):
        if code is not None and (pid, code) not in todo:
            todo[(pid, code)] = row
    verdicts: dict[tuple[str, str], CodeVerdict] = {}
    retried: set[tuple[str, str]] = set()
    own = grader is None
    g = grader or CodeGrader(workers=workers, cache_dir=Path(cache_dir) if cache_dir else None)
    try:
        # references first, one task at a time (they set the time limits)
        cost: dict[str, float] = {}
        for pid in dict.fromkeys(p for p, _ in todo):
            if tasks[pid].dataset != "livecodebench":
                cost[pid] = sum(g.reference(tasks[pid]).times)
        # the slowest tasks first, so that no worker is left with one of them at the end
        keys = sorted(todo, key=lambda k: -cost.get(k[0], 0.0))
        bar = tqdm(total=len(keys), desc="grading (code)", unit="program", disable=not progress)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for key, verdict in zip(keys, pool.map(lambda k: g.grade(tasks[k[0]], k[1]), keys), strict=True):
                verdicts[key] = verdict
                bar.update(1)
        bar.close()
        slow = [k for k in keys if verdicts[k].outcome == "timeout"]
        for key in slow:  # once more, sequentially
            verdicts[key] = g.grade(tasks[key[0]], key[1])
            retried.add(key)
        if slow:
            changed = sum(verdicts[k].outcome != "timeout" for k in slow)
            log.warning("code grading: %d timeouts re-run one at a time, %d changed verdict", len(slow), changed)
    finally:
        if own:
            g.sandbox.close()
    rows = []
    for pid, code in zip(pids, codes, strict=True):
        if code is None:
            rows.append(("failed", "no code in the response", None, False, "no_answer"))
            continue
        v = verdicts[(pid, code)]
        status = "timeout" if v.outcome == "timeout" else "ok"
        rows.append((v.outcome, v.detail, v.base_passed, (pid, code) in retried, status))
    outcome, detail, base, again, status = (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 5
    grades = df.select(
        "run_hash",
        "model",
        "benchmark",
        "problem_id",
        "sample_index",
        pl.lit(MODE).alias("grader"),
        pl.lit(GRADER_VERSION).alias("grader_version"),
        pl.Series("correct", [o == "passed" for o in outcome], dtype=pl.Boolean),
        pl.Series("extracted", codes, dtype=pl.String),
        pl.Series("status", status, dtype=pl.String),
        "finish_reason",
        pl.Series("outcome", outcome, dtype=pl.String),
        pl.Series("detail", detail, dtype=pl.String),
        pl.Series("base_passed", base, dtype=pl.Boolean),
        pl.Series("retried", again, dtype=pl.Boolean),
        pl.Series("upper_bound", [tasks[p].upper_bound for p in pids], dtype=pl.Boolean),
    )
    return schemas.conform(grades, "grades")


def grade_code_job(
    samples: pl.DataFrame | pl.LazyFrame,
    benchmark: str,
    source: str | os.PathLike[str],
    **kw: object,
) -> pl.DataFrame:
    """``grade_code_samples`` with the tests of ``benchmark`` loaded from ``source``."""
    return grade_code_samples(samples, load_tasks(benchmark, source), **kw)  # type: ignore[arg-type]


def outcome_counts(grades: pl.DataFrame) -> pl.DataFrame:
    """Per (model, benchmark, grader) of a code grades table: how many samples ended in each
    sandbox outcome (``outcome_passed`` ... ``outcome_syntax_error``), how many were re-run after a
    timeout (``n_retried``), and whether the tests were public only (``upper_bound``: pass@k is
    then an upper bound). How often programs time out or crash is itself a finding."""
    return (
        grades.group_by("model", "benchmark", "grader", maintain_order=True)
        .agg(
            *[(pl.col("outcome") == o).sum().alias(f"outcome_{o}") for o in OUTCOMES],
            pl.col("retried").sum().alias("n_retried"),
            pl.col("upper_bound").any().alias("upper_bound"),
        )
        .sort("model", "benchmark", "grader")
    )
