"""The cross matrix: perplexity under each scorer model of each generator model's responses.

``cross_perplexity`` gives one row per (scorer, response) in the ``scores`` table of
``analysis.schemas``: PPL_base(Y_base), PPL_base(Y_RL), PPL_RL(Y_RL), PPL_base(Y_distill), ...
are then filters of one tidy frame.

Each scorer is loaded once (when given as a folder) and released before the next. Identical
(prompt, text, EOS flag) rows are scored once. With ``cache_dir`` every scored response is kept
on disk under the scorer's fingerprint (a hash of its files or weights, its tokenizer, the
backend, dtype and encoding options), in part files written atomically every ``cache_every``
responses: a rerun, or a run resumed after a crash, scores only what is missing, and a changed
model never reuses stale scores.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import torch
from tqdm.auto import tqdm

from analysis import schemas
from analysis.perplexity.hf import default_device, load_scorer
from analysis.perplexity.options import ScoringOptions, resolve
from analysis.perplexity.score import score_responses
from analysis.store import atomic_write_json, atomic_write_parquet, file_sha256, stable_hash

ScorerSpec = str | os.PathLike[str] | tuple[Any, Any]

RESPONSE_COLUMNS = ("generator", "benchmark", "problem_id", "sample_index", "prompt", "text")
KEY_COLUMNS = ("generator", "benchmark", "problem_id", "sample_index")
CACHE_VERSION = 1


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """Hash of the names and contents of every file in a model folder (weights, config, tokenizer)."""
    root = Path(folder)
    if not root.is_dir():
        msg = (
            f"cannot fingerprint {str(folder)!r}: not a local folder; caching needs a local model folder "
            "(download the pinned snapshot first) or a loaded (model, tokenizer) pair"
        )
        raise ValueError(msg)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))
    return stable_hash([[p.relative_to(root).as_posix(), file_sha256(p)] for p in files], length=32)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of a tokenizer's full definition (fast tokenizers) or its vocabulary and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    text = backend.to_str() if backend is not None else stable_hash(sorted(tokenizer.get_vocab().items()), length=64)
    special = {k: str(v) for k, v in sorted(getattr(tokenizer, "special_tokens_map", {}).items())}
    return stable_hash([text, special], length=32)


def model_fingerprint(model: torch.nn.Module) -> str:
    """Hash of a loaded model's parameter names, shapes, dtypes and bytes."""
    h = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            t = tensor.detach().contiguous().reshape(-1)
            h.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
            h.update(t.view(torch.uint8).cpu().numpy().tobytes())
    return h.hexdigest()[:32]


def responses_table(samples: pl.DataFrame, prompts: pl.DataFrame) -> pl.DataFrame:
    """The ``responses`` input of ``cross_perplexity`` from a sampling run's samples and prompts tables.

    Joins each sample to the exact prompt string of its run and problem; the sample's ``model``
    becomes ``generator``. The other sample columns (``finish_reason``, ``run_hash``, ...) are kept,
    so ``include_eos`` can be derived, e.g. ``stopped=pl.col("finish_reason") == "stop"``.
    """
    schemas.check(samples, "samples")
    schemas.check(prompts, "prompts")
    dup = prompts.select("run_hash", "problem_id").is_duplicated()
    if dup.any():
        first = prompts.filter(dup).select("run_hash", "problem_id").row(0)
        msg = f"the prompts table has more than one prompt for (run_hash, problem_id) = {first}"
        raise ValueError(msg)
    joined = samples.join(
        prompts.select("run_hash", "problem_id", "prompt"), on=["run_hash", "problem_id"], how="left", validate="m:1"
    )
    orphans = joined.filter(pl.col("prompt").is_null())
    if orphans.height:
        first = orphans.select("run_hash", "model", "problem_id", "sample_index").row(0)
        msg = (
            f"{orphans.height} samples have no prompt in the prompts table; "
            f"first (run_hash, model, problem_id, sample_index): {first}"
        )
        raise ValueError(msg)
    return joined.rename({"model": "generator"})


def _check_responses(responses: pl.DataFrame, include_eos: bool | str) -> None:
    missing = [c for c in RESPONSE_COLUMNS if c not in responses.columns]
    if missing:
        msg = f"responses lack columns {missing}; need {list(RESPONSE_COLUMNS)}"
        raise ValueError(msg)
    if isinstance(include_eos, str):
        if include_eos not in responses.columns:
            msg = f"include_eos names column {include_eos!r}, which responses lack"
            raise ValueError(msg)
        if responses.schema[include_eos] != pl.Boolean or responses[include_eos].null_count():
            dtype = responses.schema[include_eos]
            msg = f"include_eos column {include_eos!r} must be Boolean without nulls, got {dtype}"
            raise ValueError(msg)
    for col in ("prompt", "text"):
        nulls = responses.filter(pl.col(col).is_null())
        if nulls.height:
            msg = f"{nulls.height} responses have a null {col!r}, first: {nulls.select(KEY_COLUMNS).row(0)}"
            raise ValueError(msg)
    empty = responses.filter(pl.col("text") == "")
    if empty.height:
        msg = (
            f"{empty.height} responses are empty (perplexity undefined); first (generator, benchmark, problem_id, "
            f"sample_index): {empty.select(KEY_COLUMNS).row(0)}; drop them before scoring"
        )
        raise ValueError(msg)
    dup = responses.select(KEY_COLUMNS).is_duplicated()
    if dup.any():
        first = responses.filter(dup).select(KEY_COLUMNS).row(0)
        msg = f"responses repeat the key (generator, benchmark, problem_id, sample_index) = {first}"
        raise ValueError(msg)


def _read_cache(folder: Path) -> dict[str, tuple[float, float, int]]:
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return {}
    cached = pl.concat([pl.read_parquet(p) for p in parts]).unique("key", keep="first")
    return {k: (a, b, c) for k, a, b, c in cached.select("key", "nll_mean", "ppl", "n_tokens").iter_rows()}


def cross_perplexity(
    scorers: Mapping[str, ScorerSpec],
    responses: pl.DataFrame,
    *,
    include_eos: bool | str = False,
    options: ScoringOptions | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    cache_every: int = 1024,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    vllm_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """Score every response under every scorer; a ``scores`` table (``analysis.schemas.SCORES``).

    ``scorers`` maps a scorer name (the ``scorer`` column) to a model folder or hub id, or to a
    loaded ``(model, tokenizer)`` pair (``(vllm.LLM, tokenizer or None)`` for ``options.backend ==
    "vllm"``).
    ``responses`` has one row per response with ``generator``, ``benchmark``, ``problem_id``,
    ``sample_index``, ``prompt`` (the exact prompt string) and ``text``; join the sampling run's
    samples and prompts tables to build it. ``include_eos`` is a bool for all rows or the name of
    a Boolean column (e.g. ``finish_reason == "stop"``). Rows come out scorer by scorer, each in
    the order of ``responses``. ``options`` (default ``ScoringOptions()``) are those of
    ``score_responses``; ``dtype``/``device`` apply to scorers loaded from folders
    (``load_scorer``), and ``vllm_kwargs`` go to ``analysis.perplexity.vllm.load_llm``.

    The cache key (with ``cache_dir``) holds exactly the options that change the scores
    (``ScoringOptions.RESULT_FIELDS``): ``backend`` in the scorer's folder (next to its
    fingerprint, load dtype and engine settings), ``add_special_tokens`` and ``eos_token_id`` in
    each response's key. Options that shape only the computation (batching, chunking, padding
    side) are left out, so scores cached under one batching are reused under another.
    """
    options = resolve(options)
    backend = options.backend
    if not scorers:
        msg = "no scorers given"
        raise ValueError(msg)
    if cache_every < 1:
        msg = f"cache_every must be at least 1, got {cache_every}"
        raise ValueError(msg)
    _check_responses(responses, include_eos)
    flags = responses[include_eos].to_list() if isinstance(include_eos, str) else [include_eos] * responses.height
    prompts, texts = responses["prompt"].to_list(), responses["text"].to_list()
    keys = _response_keys(prompts, texts, flags, options)
    unique: dict[str, int] = {}  # key -> first row with it
    for i, k in enumerate(keys):
        unique.setdefault(k, i)

    frames = []
    for name, spec in tqdm(scorers.items(), desc="scorers", unit="model", disable=not progress):
        loaded: tuple[Any, Any] | None = None if isinstance(spec, (str, os.PathLike)) else spec
        if loaded is not None and not (isinstance(loaded, tuple) and len(loaded) == 2):
            msg = f"scorer {name!r}: expected a model folder or a (model, tokenizer) pair, got {type(spec).__name__}"
            raise TypeError(msg)
        results: dict[str, tuple[float, float, int]] = {}
        folder: Path | None = None
        if cache_dir is not None:
            content = folder_fingerprint(spec) if loaded is None else _loaded_fingerprint(loaded, backend)
            settings = _scorer_settings(
                content, options, _load_dtype(backend, dtype, device) if loaded is None else None, vllm_kwargs
            )
            folder = Path(cache_dir) / stable_hash(settings, length=24)
            results = _read_cache(folder)
            atomic_write_json(
                {"scorer": name, "source": str(spec) if loaded is None else None, **settings}, folder / "scorer.json"
            )
        todo = [k for k in unique if k not in results]
        owned = False
        if todo:
            if loaded is None:
                loaded = _load(spec, backend, dtype, device, vllm_kwargs)  # type: ignore[arg-type]
                owned = True
            model, tokenizer = loaded
            step = cache_every if folder is not None else len(todo)
            for start in range(0, len(todo), step):
                part = todo[start : start + step]
                rows = [unique[k] for k in part]
                scored = score_responses(
                    model,
                    tokenizer,
                    [prompts[i] for i in rows],
                    [texts[i] for i in rows],
                    include_eos=[flags[i] for i in rows],
                    options=options,
                    progress=progress,
                )
                if folder is not None:
                    atomic_write_parquet(
                        scored.with_columns(key=pl.Series(part, dtype=pl.String)),
                        folder / f"part-{stable_hash(part, length=16)}.parquet",
                    )
                results.update(zip(part, scored.iter_rows(), strict=True))
        if owned:
            del model, tokenizer, loaded
            _release()
        nll, ppl, n = zip(*(results[k] for k in keys), strict=True) if keys else ((), (), ())
        frames.append(
            responses.select(KEY_COLUMNS).with_columns(
                scorer=pl.lit(name, dtype=pl.String),
                nll_mean=pl.Series(nll, dtype=pl.Float64),
                ppl=pl.Series(ppl, dtype=pl.Float64),
                n_tokens=pl.Series(n, dtype=pl.Int32),
            )
        )
    return schemas.conform(pl.concat(frames), "scores")


def _response_keys(prompts: list[str], texts: list[str], flags: list[bool], options: ScoringOptions) -> list[str]:
    """Each response's cache key: its prompt, text and EOS flag, and the options that change how it
    is encoded (``add_special_tokens``, ``eos_token_id``). Identical keys are scored once."""
    encoding = [options.add_special_tokens, options.eos_token_id]
    return [stable_hash([p, t, f, *encoding], length=32) for p, t, f in zip(prompts, texts, flags, strict=True)]


def _scorer_settings(
    content: str, options: ScoringOptions, dtype: str | None, vllm_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What names a scorer's cache folder: its fingerprint, ``options.backend``, the dtype it is
    loaded in (``None`` for a loaded pair: then it is in the weights) and the vLLM engine settings."""
    return {
        "content": content,
        "backend": options.backend,
        "dtype": dtype,
        "engine": dict(vllm_kwargs or {}) if options.backend == "vllm" else None,
        "cache_version": CACHE_VERSION,
    }


def _loaded_fingerprint(loaded: tuple[Any, Any], backend: str) -> str:
    model, tokenizer = loaded
    if backend == "vllm":
        msg = "caching with a loaded vLLM engine is not supported; pass the model folder instead"
        raise ValueError(msg)
    return stable_hash([model_fingerprint(model), tokenizer_fingerprint(tokenizer)], length=32)


def _load_dtype(backend: str, dtype: torch.dtype | None, device: str | torch.device | None) -> str:
    """The dtype a folder scorer is loaded in, as a string (part of the cache key)."""
    if dtype is not None:
        return str(dtype).removeprefix("torch.")
    if backend == "vllm":
        return "auto"
    dev = torch.device(device) if device is not None else default_device()
    return "bfloat16" if dev.type == "cuda" else "float32"


def _load(
    spec: str | os.PathLike[str],
    backend: str,
    dtype: torch.dtype | None,
    device: str | torch.device | None,
    vllm_kwargs: Mapping[str, Any] | None,
) -> tuple[Any, Any]:
    if backend == "vllm":
        from analysis.perplexity.vllm import load_llm

        kwargs = dict(vllm_kwargs or {})
        if dtype is not None:
            kwargs["dtype"] = str(dtype).removeprefix("torch.")
        llm = load_llm(spec, **kwargs)
        return llm, llm.get_tokenizer()
    return load_scorer(spec, dtype=dtype, device=device)


def _release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
