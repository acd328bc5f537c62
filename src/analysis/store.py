"""Files on disk: content hashes, atomic writes and completion markers.

Every stage of the study writes its output through these helpers so that

* a run lives under a path that contains the hash of everything that determines its output
  (a changed config never reuses stale results);
* a file is either absent or complete: writes go to a temporary file in the same folder and
  are moved into place with ``os.replace`` (atomic on POSIX), so a crash or ``kill -9`` never
  leaves a half-written file under the final name;
* a folder is finished only when its completion marker exists, and the marker is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

MARKER_NAME = "_SUCCESS.json"


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal objects give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):  # pydantic models
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    msg = f"cannot hash an object of type {type(obj).__name__}: {obj!r}"
    raise TypeError(msg)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``, cut to ``length`` characters."""
    digest = hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()
    return digest[:length]


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_parquet(df: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` so that the file is either absent or complete."""
    return _atomic_write(Path(path), lambda tmp: df.write_parquet(tmp))


def atomic_write_bytes(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def atomic_write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    return atomic_write_text(text + "\n", path)


def mark_complete(folder: str | os.PathLike[str], info: Mapping[str, Any] | None = None) -> Path:
    """Write the completion marker of ``folder``; call it after everything else is written."""
    return atomic_write_json(dict(info or {}), Path(folder) / MARKER_NAME)


def is_complete(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a completion marker."""
    return (Path(folder) / MARKER_NAME).is_file()


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON content of ``folder``'s completion marker (``FileNotFoundError`` if absent)."""
    return json.loads((Path(folder) / MARKER_NAME).read_text(encoding="utf-8"))


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete temporary files left by writes that were killed; return how many were removed."""
    removed = 0
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed
