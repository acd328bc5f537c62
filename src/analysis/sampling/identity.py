"""What a run is: the model it samples, the problems it covers, and the hash that names it.

The run hash is ``analysis.store.stable_hash`` of

* the config fields that decide the samples (not where or how fast they are computed;
  ``fit_to_context`` only where it is set, so older runs keep their hashes);
* a fingerprint of the model: hub ID + revision, or, for a local folder, a cheap content
  fingerprint (small files hashed whole; large weight files by size plus sampled blocks at the
  start, which holds a safetensors header, the middle and the end);
* the template's text and stop strings (editing a template changes the hash);
* a hash of the problems' ``(problem_id, question)`` pairs, in order.

Nothing here loads a model or a tokenizer.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from analysis.prompts import PromptTemplate, stop_strings
from analysis.sampling.config import SamplingConfig
from analysis.store import file_sha256, stable_hash

FORMAT = "analysis.sampling/1"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_WHOLE_FILE_LIMIT = 64 << 20  # files up to 64 MiB are hashed whole
_SAMPLE_BLOCK = 1 << 20  # larger files: three 1 MiB blocks plus the size


class SamplingError(ValueError):
    """Bad input to a sampling run, found before any model is loaded."""


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: a local folder, the hub, or an endpoint that serves it."""

    kind: Literal["local", "hub", "served"]
    ref: str  # absolute folder, hub ID, or served model name
    revision: str | None = None

    @property
    def label(self) -> str:
        """A short human name: the folder's name or the hub ID."""
        return Path(self.ref).name if self.kind == "local" else self.ref


def resolve_model(name: str, revision: str | None, backend: str, what: str = "model") -> ModelRef:
    """Find ``name`` as a local folder or a pinned hub ID; raise ``SamplingError`` otherwise."""
    path = Path(name).expanduser()
    if path.is_dir():
        if backend != "openai" and what == "model" and not (path / "config.json").is_file():
            msg = f"{what} folder {path} has no config.json: not a Hugging Face model folder"
            raise SamplingError(msg)
        return ModelRef("local", str(path.resolve()), None)
    if backend == "openai" and what == "model":
        return ModelRef("served", name, revision)
    if path.exists():
        msg = f"{what} path {path} is a file, not a model folder"
        raise SamplingError(msg)
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") > 1 or not _HUB_ID.match(name)
    if looks_like_path:
        msg = f"{what} folder not found: {path}"
        raise SamplingError(msg)
    if revision is None:
        msg = (
            f"{what} {name!r} is not a local folder ({path.resolve()} does not exist); as a hub ID it needs a "
            "pinned revision (a commit hash): the hub copy can change under the same name"
        )
        raise SamplingError(msg)
    return ModelRef("hub", name, revision)


def _file_digest(path: Path, size: int) -> str:
    if size <= _WHOLE_FILE_LIMIT:
        return file_sha256(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in (0, size // 2, max(size - _SAMPLE_BLOCK, 0)):
            f.seek(offset)
            h.update(f.read(_SAMPLE_BLOCK))
    return "sampled:" + h.hexdigest()


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """A content fingerprint of a model folder that costs seconds even for 100 GB of weights."""
    root = Path(folder)
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts) or path.suffix == ".md":
            continue
        size = path.stat().st_size
        entries.append([rel.as_posix(), size, _file_digest(path, size)])
    if not entries:
        msg = f"model folder {root} holds no files"
        raise SamplingError(msg)
    return stable_hash(entries, length=32)


def model_fingerprint(ref: ModelRef) -> dict[str, Any]:
    """The model's identity in the run hash."""
    if ref.kind == "local":
        return {"kind": "local", "content": folder_fingerprint(ref.ref)}
    return {"kind": ref.kind, "id": ref.ref, "revision": ref.revision}


def problems_hash(problems: pl.DataFrame) -> str:
    """Hash of the ``(problem_id, question)`` pairs, in table order."""
    return stable_hash(problems.select("problem_id", "question").rows(), length=32)


def resolved_device(config: SamplingConfig) -> str:
    """The hf backend's torch device (``auto`` becomes ``cuda`` where a GPU is visible)."""
    if config.device != "auto":
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolved_dtype(config: SamplingConfig, device: str | None = None) -> str:
    """hf: ``auto`` is bfloat16 on CUDA and float32 on CPU; vllm keeps ``auto`` (the model's dtype)."""
    if config.dtype != "auto" or config.backend != "hf":
        return config.dtype
    return "bfloat16" if (device or resolved_device(config)).startswith("cuda") else "float32"


def identity_payload(
    config: SamplingConfig,
    model: dict[str, Any],
    tokenizer: dict[str, Any] | None,
    template: PromptTemplate,
    problems_digest: str,
    model_name: str,
) -> dict[str, Any]:
    """Everything that decides a run's samples; its hash names the run folder."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "backend": config.backend,
        "model": model,
        "tokenizer": tokenizer,
        "model_name": model_name,
        "benchmark": config.benchmark,
        "problems": problems_digest,
        "template": template.spec(),
        "chat_template": config.chat_template,
        "n": config.n,
        "seeds": list(config.seeds),
        "chunk_size": config.chunk_size,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_tokens": config.max_tokens,
        "max_model_len": config.max_model_len,
        "stop": list(stop_strings(template, config.stop)),
        "stop_token_ids": list(config.stop_token_ids),
        "tensor_parallel_size": config.tensor_parallel_size,
    }
    if config.fit_to_context:  # only when set, so that the hashes of runs without it stay as they were
        payload["fit_to_context"] = True
    if config.backend == "hf":
        # The hf backend is bitwise reproducible only with the same device type, dtype, batch
        # grouping and CPU thread count, so these are part of what a run is.
        device = resolved_device(config)
        payload["device"] = device.split(":")[0]
        payload["dtype"] = resolved_dtype(config, device)
        payload["batch_size"] = config.effective_batch_size
        payload["num_threads"] = (config.num_threads or 1) if device == "cpu" else None
    else:
        payload["dtype"] = config.dtype
    return payload


def run_hash(payload: dict[str, Any]) -> str:
    """The run folder's name."""
    return stable_hash(payload, length=16)
