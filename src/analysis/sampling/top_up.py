"""Adaptive top-up: more samples for chosen problems of a finished run, as a run of its own.

    from analysis.metrics.planner import unsolved_plan
    from analysis.sampling import load_samples, topup, topup_lineage

    plan = unsolved_plan(pilot_counts, k=256)        # extra samples per problem still open
    child = topup(pilot_dir, plan)                   # resumable; returns the finished folder
    fresh = load_samples(child)                      # the top-up's own samples
    pooled = load_samples(topup_lineage(child))      # pilot + every top-up, indices continuing

From a shell (``analysis.sampling.__main__``; plan files: ``analysis.topup_plan``)::

    python -m analysis.sampling plan-topup RUN_DIR --grades GRADES.parquet --k 256 --out plan.csv
    python -m analysis.sampling topup RUN_DIR --extra plan.csv --at-least 256 [--out-root DIR]

Design:

* A top-up is a run folder of its own (``<out_root>/<hash>/``, next to its parent by default),
  with a run's layout (``config.json``, ``prompts.parquet`` of its problems, part files,
  ``_SUCCESS.json``; ``analysis.sampling.storage``), so ``load_samples``, grading and counting
  read it like any run. Its samples carry its own ``run_hash``.
* Its hash is ``stable_hash({"format", "parent": <parent run hash>, "extra": [[problem_id, m],
  ...]})`` with the problems in the parent's order. The parent's hash pins everything else
  (model fingerprint, problems, template, sampling parameters, hf batch size), so the same
  extras on the same parent are one run, and any other count on any problem is another.
  ``config.json`` holds the identity, the root run's config, and a ``topup`` section: parent,
  root, ``extra``, ``first_index`` per problem, ``next_index`` (the index after the lineage's
  last sample, for every problem any top-up of the chain touched; a top-up of a top-up reads
  only its parent's ``config.json``), and the parent folder at creation time (not hashed).
* Sample indices continue: a problem whose lineage (the root run and the top-ups between)
  holds samples ``0..s-1`` gets ``s..s+m-1``.
* Seeds: the chunk of problem ``p`` that starts at sample index ``i`` is requested with
  :func:`topup_seed` ``(root's first seed, p, i)``: a function of the sample index, not of the
  top-up's hash, so topping up 32 and then 32 more draws what topping up 64 at once draws (when
  both cut chunks at the same indices, i.e. counts are multiples of ``chunk_size``), and a
  different derivation from the root run's ``request_seed``.
* Chunks of ``chunk_size`` are grouped into parts as in a run (``plan.group_parts``, the
  parent's batch size), so a top-up stopped at any point resumes by writing exactly the missing
  parts and ends with the table an uninterrupted top-up writes (hf backend included).
* The parent must be finished. Its config is validated again and must hash to the recorded run
  (same model folder content, same problems: pass ``problems`` if the run was made from a table).

pass@k with unequal n per problem. Every pass@k function estimates a problem from its own
``n_i`` and ``c_i`` (``1 − C(n_i − c_i, k) / C(n_i, k)``; counts tables carry ``n`` per problem,
and curves run up to the smallest ``n`` of a group). That estimate is unbiased for
``1 − (1 − p_i)^k`` for every fixed ``n_i ≥ k``, so the mean over problems is unbiased whatever
the ``n_i`` are, *provided each ``n_i`` is fixed without looking at problem i's own samples*:

* Pooling the parent and the top-up (``load_samples(topup_lineage(child))``) is unbiased when the
  extras were fixed that way: the same count for every problem, or counts chosen from other data
  (another model, another run).
* Planner extras (``metrics.planner.unsolved_plan``: samples only where the pilot saw no success)
  read the problem's own pilot, and pooling then biases pass@k upwards (``planner.expected_estimate``
  computes by how much; the tests check it). Estimate from the top-up's own samples instead
  (``load_samples(child)``): there ``n_i`` is the extra count, fixed once the pilot is known. Give
  every problem to be estimated at least ``k`` fresh samples with ``at_least=k``; the pilot then
  only plans.
* The "unsolved at k" decision may pool: 0 successes in all ``n`` samples of a problem has
  probability ``(1 − p)^n`` however the ``n`` was reached by topping up only problems with no success
  so far, which is what the rule-out bound (``planner.samples_to_rule_out``) needs.
"""

from __future__ import annotations

import json
import numbers
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from analysis.sampling.backends import Backend
from analysis.sampling.config import SamplingConfig
from analysis.sampling.fill import library_versions, sample_missing_chunks
from analysis.sampling.identity import SamplingError, run_hash
from analysis.sampling.plan import SEED_BITS, Chunk
from analysis.sampling.runner import RunSpec, check_folder, prepare_run
from analysis.sampling.storage import is_run_dir, list_parts, read_run_config
from analysis.store import canonical_json, is_complete, stable_hash

FORMAT = "analysis.sampling.topup/1"
SECTION = "topup"  # the key of the top-up record in config.json

Extras = Mapping[str, int] | pl.DataFrame
"""Extra samples per problem: ``{problem_id: m}``, or a frame with ``problem_id`` and ``extra``
(the planner's output; rows of other models or benchmarks than the run's are ignored)."""


def topup_seed(root_seed: int, problem_id: str, first_sample: int) -> int:
    """The request seed of the top-up chunk of ``problem_id`` starting at sample ``first_sample``."""
    digest = stable_hash({"topup_seed": root_seed, "problem_id": problem_id, "first_sample": first_sample})
    return int(digest, 16) & ((1 << SEED_BITS) - 1)


def topup_chunks(
    extras: Mapping[str, int], first_index: Mapping[str, int], root_seed: int, chunk_size: int
) -> list[Chunk]:
    """The chunks of a top-up, problem by problem in ``extras`` order."""
    chunks: list[Chunk] = []
    for pid, m in extras.items():
        for c, offset in enumerate(range(0, m, chunk_size)):
            first = first_index[pid] + offset
            count = min(chunk_size, m - offset)
            chunks.append(Chunk(len(chunks), pid, root_seed, 0, c, first, count, topup_seed(root_seed, pid, first)))
    return chunks


def _lineage_state(record: dict[str, Any]) -> tuple[dict[str, Any], str, int, dict[str, int]]:
    """(root run's config, root run hash, root samples per problem, next index of touched problems)."""
    top = record.get(SECTION)
    if top is None:
        spp = SamplingConfig.model_validate(record["config"]).samples_per_problem
        return record["config"], record["run_hash"], spp, {}
    return record["config"], top["root"], int(top["root_samples_per_problem"]), dict(top["next_index"])


def resolve_extras(
    extra: Extras,
    problem_ids: Sequence[str],
    *,
    model: str | None = None,
    benchmark: str | None = None,
    at_least: int = 0,
) -> dict[str, int]:
    """``{problem_id: m}`` with ``m > 0``, in ``problem_ids`` order: what a top-up samples.

    A frame's rows of another ``model`` or ``benchmark`` (where it has those columns) are ignored.
    Every problem gets at least ``at_least``. Raises ``SamplingError`` on unknown problems,
    repeated rows, counts that are not non-negative ints, or when nothing is left to sample.
    """
    if isinstance(extra, pl.DataFrame):
        missing = [col for col in ("problem_id", "extra") if col not in extra.columns]
        if missing:
            msg = f"the extras table lacks column(s) {missing}"
            raise SamplingError(msg)
        for col, value in (("model", model), ("benchmark", benchmark)):
            if value is not None and col in extra.columns:
                extra = extra.filter(pl.col(col) == value)
        if extra["problem_id"].is_duplicated().any():
            dup = extra.filter(pl.col("problem_id").is_duplicated())["problem_id"][0]
            msg = f"the extras table names problem {dup!r} more than once"
            raise SamplingError(msg)
        extra = dict(extra.select("problem_id", "extra").iter_rows())
    unknown = sorted(set(extra) - set(problem_ids))
    if unknown:
        msg = f"the run has no problem(s) {unknown[:5]}{' ...' if len(unknown) > 5 else ''}"
        raise SamplingError(msg)
    for what, m in [*((f"extra samples of problem {pid!r}", m) for pid, m in extra.items()), ("at_least", at_least)]:
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
            msg = f"{what} must be a non-negative int, got {m!r}"
            raise SamplingError(msg)
    wanted = {pid: max(int(extra.get(pid, 0)), int(at_least)) for pid in problem_ids}
    wanted = {pid: m for pid, m in wanted.items() if m > 0}
    if not wanted:
        msg = "no problem gets extra samples: nothing to top up"
        raise SamplingError(msg)
    return wanted


def topup(
    parent_dir: str | os.PathLike[str],
    extra: Extras,
    out_root: str | os.PathLike[str] | None = None,
    *,
    at_least: int = 0,
    problems: pl.DataFrame | None = None,
    backend: Backend | None = None,
    progress: bool = True,
) -> Path:
    """Sample ``extra`` more samples of each named problem of the finished run ``parent_dir``.

    ``extra``: see :data:`Extras`; ``at_least``: every problem of the run gets at least this many
    (see the module docstring: an unbiased pass@k from the top-up alone up to ``k = at_least``).
    ``out_root``: where the top-up's folder goes (default: the parent's folder's parent).
    ``problems`` and ``backend`` as in ``run_sampling``. A finished top-up returns at once; an
    unfinished one resumes. Returns the top-up's folder.
    """
    started = time.perf_counter()
    parent_dir = Path(parent_dir)
    record = read_run_config(parent_dir)
    if not is_complete(parent_dir):
        msg = f"{parent_dir} is not finished; finish it before topping it up"
        raise SamplingError(msg)
    root_config, root_hash, root_spp, next_index = _lineage_state(record)
    spec = prepare_run(root_config, problems)
    if spec.run_hash != root_hash:
        msg = (
            f"{parent_dir}: its config now hashes to {spec.run_hash}, not to the recorded run {root_hash} "
            "(model folder or problems changed; pass the problems table the run was made from)"
        )
        raise SamplingError(msg)
    cfg = spec.config
    extras = resolve_extras(
        extra, spec.problems["problem_id"].to_list(), model=spec.model_name, benchmark=cfg.benchmark, at_least=at_least
    )
    first_index = {pid: next_index.get(pid, root_spp) for pid in extras}
    identity = json.loads(
        canonical_json({"format": FORMAT, "parent": record["run_hash"], "extra": list(extras.items())})
    )
    tspec = replace(
        spec,
        problems=spec.problems.filter(pl.col("problem_id").is_in(list(extras))),
        identity=identity,
        run_hash=run_hash(identity),
    )
    out_root = Path(out_root) if out_root is not None else parent_dir.parent
    run_dir = out_root / tspec.run_hash
    check_folder(out_root, run_dir, tspec)
    if is_complete(run_dir):
        return run_dir
    chunks = topup_chunks(extras, first_index, cfg.seeds[0], cfg.chunk_size)

    def describe(_n_parts: int) -> dict[str, Any]:
        section = {
            "parent": record["run_hash"],
            "parent_dir": str(parent_dir.resolve()),
            "root": root_hash,
            "root_samples_per_problem": root_spp,
            "extra": extras,
            "first_index": first_index,
            "next_index": {**next_index, **{pid: first_index[pid] + m for pid, m in extras.items()}},
        }
        plan = {"problems": len(extras), "samples": sum(extras.values()), "chunks": len(chunks)}
        return {"config": root_config, SECTION: section, "plan": plan}

    def summarize(new_samples: int, sampling_s: float) -> dict[str, Any]:
        return _summary(run_dir, tspec, record["run_hash"], extras, first_index, new_samples, started, sampling_s)

    summary = sample_missing_chunks(
        tspec,
        run_dir,
        chunks,
        describe,
        summarize,
        backend=backend,
        progress=progress,
        model_identity=spec.identity,  # the top-up's own identity names its parent, not the model
        resume_label=f"top-up {tspec.run_hash}",
    )
    if summary is not None and progress:
        sys.stderr.write(
            f"top-up {tspec.run_hash} of {record['run_hash']}: {summary['samples']} samples of "
            f"{summary['problems']} problems ({summary['new_samples']} new), wall {summary['wall_s']:.1f} s\n"
        )
    return run_dir


def _summary(
    run_dir: Path,
    spec: RunSpec,
    parent: str,
    extras: dict[str, int],
    first_index: dict[str, int],
    new_samples: int,
    started: float,
    sampling_s: float,
) -> dict[str, Any]:
    """The completion marker's summary, after checking every planned sample is there exactly once."""
    paths = [p for _, _, p in list_parts(run_dir)]
    table = pl.scan_parquet(paths).select("problem_id", "sample_index", "n_tokens", "finish_reason").collect()
    want = pl.DataFrame(
        {
            "problem_id": list(extras),
            "lo": [first_index[p] for p in extras],
            "hi": [first_index[p] + m - 1 for p, m in extras.items()],
            "m": list(extras.values()),
        },
        schema_overrides={"lo": pl.Int64, "hi": pl.Int64, "m": pl.UInt32},
    )
    got = table.group_by("problem_id").agg(
        pl.col("sample_index").min().cast(pl.Int64).alias("lo"),
        pl.col("sample_index").max().cast(pl.Int64).alias("hi"),
        pl.col("sample_index").n_unique().alias("m"),
        pl.len().alias("rows"),
    )
    check = want.join(got, on="problem_id", how="full", suffix="_got", coalesce=True)
    bad = check.filter(
        (pl.col("lo") != pl.col("lo_got")).fill_null(True)
        | (pl.col("hi") != pl.col("hi_got")).fill_null(True)
        | (pl.col("m") != pl.col("m_got")).fill_null(True)
        | (pl.col("rows") != pl.col("m")).fill_null(True)
    )
    if bad.height:
        msg = f"{run_dir}: samples do not match the top-up's plan, e.g. {bad.row(0, named=True)}"
        raise SamplingError(msg)
    return {
        "run_hash": spec.run_hash,
        "topup_of": parent,
        "model": spec.model_name,
        "benchmark": spec.config.benchmark,
        "backend": spec.config.backend,
        "problems": len(extras),
        "samples": table.height,
        "tokens": int(table["n_tokens"].sum() or 0),
        "truncated_share": float((table["finish_reason"] == "length").mean() or 0.0),
        "parts": len(paths),
        "new_samples": new_samples,
        "sampling_s": round(sampling_s, 3),
        "wall_s": round(time.perf_counter() - started, 3),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }


def topup_lineage(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The folders of a run and the runs it tops up, root first: what to pool with ``load_samples``.

    A parent is looked for next to its child (same folder of runs), then where it was when the
    child was made.
    """
    chain = [Path(run_dir)]
    while (section := read_run_config(chain[-1]).get(SECTION)) is not None:
        parent = section["parent"]
        candidates = [chain[-1].parent / parent, Path(section["parent_dir"])]
        found = next(
            (d for d in candidates if is_run_dir(d) and read_run_config(d).get("run_hash") == parent),
            None,
        )
        if found is None:
            msg = f"{chain[-1]} tops up run {parent}, found neither at {candidates[0]} nor at {candidates[1]}"
            raise SamplingError(msg)
        chain.append(found)
    return chain[::-1]
