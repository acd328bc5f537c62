"""Grading a samples table: one verdict per sample, cached, under a hard deadline per item."""

from __future__ import annotations

import logging
import os
import time

import polars as pl
from tqdm import tqdm

from analysis import schemas
from analysis.grading.cache import GradeCache, cache_key, gold_json, response_sha256
from analysis.grading.modes import BENCHMARKS, IN_PROCESS_MODES, check_mode, grader_version
from analysis.grading.pool import GradingPool
from analysis.grading.result import GradeResult
from analysis.grading.worker import grade_one

log = logging.getLogger(__name__)

_FLUSH_EVERY_S = 5.0  # write fresh verdicts to the cache at least this often


def grade_samples(
    samples: pl.DataFrame | pl.LazyFrame,
    problems: pl.DataFrame | pl.LazyFrame,
    mode: str,
    *,
    workers: int = 2,
    deadline_s: float = 5.0,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    chunk_size: int = 32,
    memory_limit_mb: int | None = 2048,
) -> pl.DataFrame:
    """Grade every sample of ``samples`` against its problem's gold answers in ``problems``.

    ``samples`` is a samples table (``analysis.schemas.SAMPLES``), ``problems`` a problems table
    (``analysis.schemas.PROBLEMS``; matched on ``benchmark`` and ``problem_id``), ``mode`` one of
    ``strict``, ``paper`` (math) or ``exact`` (the toy world's tasks). In ``paper`` mode each
    sample is graded by the rules of its ``benchmark`` (``analysis.grading.paper``).

    Returns a grades table (``analysis.schemas.GRADES``) in the order of ``samples``, with the
    sample's ``finish_reason`` as an extra column: truncated samples (``length``) are graded as
    they are and can be counted separately (``summarize_grades``).

    Grading runs in ``workers`` processes with a hard wall-clock deadline of ``deadline_s``
    seconds per item (``analysis.grading.pool``): an item past it is killed and gets a ``timeout``
    verdict. ``exact`` mode, which cannot hang, is graded in this process (``IN_PROCESS_MODES``).
    With ``cache_dir``, verdicts are looked up in and added to a persistent cache
    (``analysis.grading.cache``) while grading, so an interrupted run resumes and a repeated one
    grades nothing. Identical (response, gold) pairs are graded once.
    """
    check_mode(mode)
    schemas.check(samples, "samples")
    schemas.check(problems, "problems")
    version = grader_version(mode)
    table = _join_gold(samples, problems)
    n = table.height
    texts = table["text"].to_list()
    golds = [tuple(g) for g in table["gold"].to_list()]
    # Only paper mode has benchmark-dependent rules; other benchmarks (the toy world's) get none.
    benches = [b if mode == "paper" and b in BENCHMARKS else None for b in table["benchmark"].to_list()]
    rhash = [response_sha256(t) for t in texts]
    gjson = [gold_json(g) for g in golds]
    keys = [cache_key(h, g, mode, version, b) for h, g, b in zip(rhash, gjson, benches, strict=True)]

    verdicts: dict[str, GradeResult] = {}
    cache = GradeCache(cache_dir) if cache_dir is not None else None
    try:
        if cache is not None:
            verdicts.update(cache.get_many(keys, deadline_s))
        todo: dict[str, int] = {}  # key -> first row with it
        for row, key in enumerate(keys):
            if key not in verdicts and key not in todo:
                todo[key] = row
        log.info(
            "grading %d samples (%s): %d from the cache, %d distinct to grade",
            n,
            mode,
            n - sum(1 for k in keys if k not in verdicts),
            len(todo),
        )
        if todo:
            _grade_missing(
                todo, texts, golds, benches, rhash, gjson, mode, version, verdicts, cache,
                workers=workers, deadline_s=deadline_s, chunk_size=chunk_size,
                memory_limit_mb=memory_limit_mb, progress=progress,
            )  # fmt: skip
    finally:
        if cache is not None:
            cache.close()

    ordered = [verdicts[k] for k in keys]
    grades = table.select(
        "run_hash",
        "model",
        "benchmark",
        "problem_id",
        "sample_index",
        pl.lit(mode).alias("grader"),
        pl.lit(version).alias("grader_version"),
        pl.Series("correct", [v.correct for v in ordered], dtype=pl.Boolean),
        pl.Series("extracted", [v.extracted for v in ordered], dtype=pl.String),
        pl.Series("status", [v.status for v in ordered], dtype=pl.String),
        "finish_reason",
    )
    return schemas.conform(grades, "grades")


def _join_gold(samples: pl.DataFrame | pl.LazyFrame, problems: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    cols = ["run_hash", "model", "benchmark", "problem_id", "sample_index", "text", "finish_reason"]
    s = samples.lazy().select(cols).with_row_index("_row")
    p = problems.lazy().select("benchmark", "problem_id", "gold")
    dupes = p.group_by("benchmark", "problem_id").len().filter(pl.col("len") > 1).collect()
    if dupes.height:
        msg = f"problems table has duplicate (benchmark, problem_id): {dupes.head(5).rows()}"
        raise ValueError(msg)
    table = s.join(p, on=["benchmark", "problem_id"], how="left").sort("_row").collect()
    missing = table.filter(pl.col("gold").is_null()).select("benchmark", "problem_id").unique()
    if missing.height:
        msg = (
            f"{missing.height} (benchmark, problem_id) pairs of the samples have no gold answer in the "
            f"problems table, e.g. {missing.head(5).rows()}"
        )
        raise ValueError(msg)
    empty = table.filter(pl.col("gold").list.len() == 0).select("benchmark", "problem_id").unique()
    if empty.height:
        msg = f"problems with an empty gold list: {empty.head(5).rows()}"
        raise ValueError(msg)
    return table


def _grade_missing(
    todo: dict[str, int],
    texts: list[str | None],
    golds: list[tuple[str, ...]],
    benches: list[str | None],
    rhash: list[str],
    gjson: list[str],
    mode: str,
    version: str,
    verdicts: dict[str, GradeResult],
    cache: GradeCache | None,
    *,
    workers: int,
    deadline_s: float,
    chunk_size: int,
    memory_limit_mb: int | None,
    progress: bool,
) -> None:
    todo_keys = list(todo)
    items = [(texts[todo[k]], golds[todo[k]], benches[todo[k]]) for k in todo_keys]
    pending: list[tuple[str, str, str, str, GradeResult]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if cache is not None and pending:
            cache.put_many(pending, version, deadline_s)
        pending.clear()
        last_flush = time.monotonic()

    bar = tqdm(total=len(items), desc=f"grading ({mode})", unit="sample", disable=not progress)
    if mode in IN_PROCESS_MODES:
        try:
            for key, (text, gold, bench) in zip(todo_keys, items, strict=True):
                row = todo[key]
                verdicts[key] = result = GradeResult(*grade_one(text, gold, mode, bench), mode)  # as a worker does
                pending.append((key, rhash[row], gjson[row], mode, result))
                bar.update(1)
        finally:
            flush()
            bar.close()
        return
    try:
        with GradingPool(workers, deadline_s, chunk_size=chunk_size, memory_limit_mb=memory_limit_mb) as pool:
            for i, result in pool.grade_iter(items, mode):
                key = todo_keys[i]
                row = todo[key]
                verdicts[key] = result
                pending.append((key, rhash[row], gjson[row], mode, result))
                bar.update(1)
                if time.monotonic() - last_flush > _FLUSH_EVERY_S:
                    flush()
            if pool.stats.timeouts or pool.stats.crashes:
                log.warning(
                    "grading (%s): %d items timed out after %.1f s, %d workers crashed",
                    mode,
                    pool.stats.timeouts,
                    deadline_s,
                    pool.stats.crashes,
                )
    finally:
        flush()  # whatever was graded is kept, even when the run fails
        bar.close()
