"""The study's tables, written down once.

Every stage reads and writes polars frames / parquet files with these columns. Extra columns
are allowed (a stage may carry more); the columns listed here must be present with these types.

| table    | one row per                 | written by                         |
|----------|-----------------------------|------------------------------------|
| problems | problem                     | ``analysis.benchmarks``            |
| prompts  | problem in a sampling run   | ``analysis.sampling``              |
| samples  | sampled completion          | ``analysis.sampling``              |
| grades   | sampled completion          | ``analysis.grading``               |
| counts   | model x problem             | ``analysis.metrics``               |
| curves   | model x benchmark x k       | ``analysis.metrics``               |
| scores   | scorer x scored response    | ``analysis.perplexity``            |
"""

from __future__ import annotations

import polars as pl

PROBLEMS = pl.Schema(
    {
        "benchmark": pl.String,
        "problem_id": pl.String,  # unique within a benchmark, stable across runs
        "index": pl.Int64,  # 0-based row order of the source file (the paper's index sets)
        "question": pl.String,
        "gold": pl.List(pl.String),  # accepted final answers; most problems have one
        "stratum": pl.String,  # difficulty group (MATH level, toy carry count); null if none
        "metadata": pl.String,  # JSON object with the source row's other fields
    }
)

PROMPTS = pl.Schema(
    {
        "run_hash": pl.String,
        "problem_id": pl.String,
        "prompt": pl.String,  # the exact string the model was conditioned on
        "n_prompt_tokens": pl.Int32,
    }
)

SAMPLES = pl.Schema(
    {
        "run_hash": pl.String,
        "model": pl.String,
        "benchmark": pl.String,
        "problem_id": pl.String,
        "sample_index": pl.Int32,  # 0..n-1 within the problem, over all seeds of the run
        "seed": pl.Int64,  # the seed of the request that produced this sample
        "text": pl.String,
        "n_tokens": pl.Int32,
        "finish_reason": pl.String,  # "stop" or "length"
    }
)

GRADES = pl.Schema(
    {
        "run_hash": pl.String,
        "model": pl.String,
        "benchmark": pl.String,
        "problem_id": pl.String,
        "sample_index": pl.Int32,
        "grader": pl.String,  # "strict" | "paper" | "exact"
        "grader_version": pl.String,
        "correct": pl.Boolean,
        "extracted": pl.String,  # the answer the grader found, null if none
        "status": pl.String,  # "ok" | "no_answer" | "timeout" | "error"
    }
)

COUNTS = pl.Schema(
    {
        "model": pl.String,
        "benchmark": pl.String,
        "problem_id": pl.String,
        "n": pl.Int64,
        "c": pl.Int64,
    }
)

CURVES = pl.Schema(
    {
        "model": pl.String,
        "benchmark": pl.String,
        "k": pl.Int64,
        "pass_at_k": pl.Float64,
    }
)

SCORES = pl.Schema(
    {
        "scorer": pl.String,
        "generator": pl.String,
        "benchmark": pl.String,
        "problem_id": pl.String,
        "sample_index": pl.Int32,
        "nll_mean": pl.Float64,
        "ppl": pl.Float64,
        "n_tokens": pl.Int32,
    }
)

TABLES: dict[str, pl.Schema] = {
    "problems": PROBLEMS,
    "prompts": PROMPTS,
    "samples": SAMPLES,
    "grades": GRADES,
    "counts": COUNTS,
    "curves": CURVES,
    "scores": SCORES,
}


class SchemaError(ValueError):
    """A frame lacks a column of its table, or has it with the wrong type."""


def check(df: pl.DataFrame | pl.LazyFrame, table: str) -> None:
    """Raise ``SchemaError`` naming every missing or mistyped column of ``table`` in ``df``."""
    if table not in TABLES:
        msg = f"unknown table {table!r}; known tables: {', '.join(TABLES)}"
        raise SchemaError(msg)
    have = df.collect_schema() if isinstance(df, pl.LazyFrame) else df.schema
    problems = []
    for name, dtype in TABLES[table].items():
        if name not in have:
            problems.append(f"missing column {name!r} ({dtype})")
        elif have[name] != dtype and have[name] != pl.Null:
            problems.append(f"column {name!r} is {have[name]}, expected {dtype}")
    if problems:
        msg = f"{table} table: " + "; ".join(problems)
        raise SchemaError(msg)


def conform(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Cast ``df``'s columns of ``table`` to their declared types, put them first, then check."""
    schema = TABLES[table]
    missing = [c for c in schema if c not in df.columns]
    if missing:
        msg = f"{table} table: missing columns {missing}"
        raise SchemaError(msg)
    extra = [c for c in df.columns if c not in schema]
    out = df.select([pl.col(c).cast(t) for c, t in schema.items()] + extra)
    check(out, table)
    return out


def empty(table: str) -> pl.DataFrame:
    """An empty frame with ``table``'s columns."""
    return pl.DataFrame(schema=TABLES[table])
