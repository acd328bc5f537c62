"""The run folder on disk.

Layout of one run, ``<out_root>/<run_hash>/``:

``config.json``
    written first: the config as given, the resolved identity that was hashed (model
    fingerprint, template text, stop strings, problems hash, ...), the plan's size and the
    library versions.
``prompts.parquet``
    one row per problem (``analysis.schemas.PROMPTS``): the exact prompt string and its token count.
``part-<first>-<last>.parquet``
    samples (``analysis.schemas.SAMPLES``) of the chunks ``first..last`` (global chunk indices,
    inclusive, 7 digits); every file is written atomically, so it holds whole chunks or does not
    exist.
``_SUCCESS.json``
    the completion marker, written last, with the run's summary (samples, tokens, truncated
    share, wall time).
``.lock``
    an advisory lock held while a process samples into the folder (released by the OS when that
    process dies, even by ``kill -9``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from analysis import schemas
from analysis.sampling.identity import SamplingError
from analysis.sampling.plan import Chunk
from analysis.store import atomic_write_parquet, is_complete

CONFIG_NAME = "config.json"
PROMPTS_NAME = "prompts.parquet"
LOCK_NAME = ".lock"
_PART = re.compile(r"^part-(\d{7})-(\d{7})\.parquet$")


# A part file: the samples table plus how each sample ended ("eos" | "stop_string" | "length",
# null where the backend does not say) and which stop string ended it (analysis.finish).
PART_SCHEMA = pl.Schema({**schemas.SAMPLES, "ended_by": pl.String, "stop_string": pl.String})


def part_name(first: int, last: int) -> str:
    """File name of the part holding chunks ``first..last``."""
    return f"part-{first:07d}-{last:07d}.parquet"


def list_parts(run_dir: Path) -> list[tuple[int, int, Path]]:
    """``(first, last, path)`` of every part file, by first chunk."""
    found = []
    for path in run_dir.glob("part-*.parquet"):
        m = _PART.match(path.name)
        if m is None:
            msg = f"unexpected file {path} in a run folder"
            raise SamplingError(msg)
        found.append((int(m[1]), int(m[2]), path))
    return sorted(found)


def covered_chunks(run_dir: Path, chunks: Sequence[Chunk]) -> list[bool]:
    """Which chunks of the plan a part file already holds; checks every part against the plan."""
    covered = [False] * len(chunks)
    for first, last, path in list_parts(run_dir):
        if not (0 <= first <= last < len(chunks)):
            msg = f"{path.name} names chunks outside this run's plan of {len(chunks)} chunks"
            raise SamplingError(msg)
        if any(covered[first : last + 1]):
            msg = f"{path.name} overlaps another part file in {run_dir}"
            raise SamplingError(msg)
        expected = sum(c.count for c in chunks[first : last + 1])
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        if rows != expected:
            msg = f"{path} holds {rows} samples, its chunks hold {expected}"
            raise SamplingError(msg)
        covered[first : last + 1] = [True] * (last - first + 1)
    return covered


def write_part(run_dir: Path, chunks: Sequence[Chunk], samples: pl.DataFrame) -> Path:
    """Write the samples of consecutive ``chunks`` as one part, atomically."""
    samples = schemas.conform(samples, "samples")
    expected = sum(c.count for c in chunks)
    if samples.height != expected:
        msg = f"part of chunks {chunks[0].index}..{chunks[-1].index}: {samples.height} rows, expected {expected}"
        raise SamplingError(msg)
    return atomic_write_parquet(samples, run_dir / part_name(chunks[0].index, chunks[-1].index))


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a sampling run folder."""
    return (path / CONFIG_NAME).is_file()


def read_run_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a run folder."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        msg = f"{run_dir} is not a sampling run folder (no {CONFIG_NAME})"
        raise SamplingError(msg)
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the folder's advisory lock; fail at once if another live process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOCK_NAME, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"another process is sampling into {run_dir}"
            raise SamplingError(msg) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _as_dirs(run_dir_or_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(run_dir_or_dirs, (str, os.PathLike)):
        return [Path(run_dir_or_dirs)]
    return [Path(d) for d in run_dir_or_dirs]


def load_samples(
    run_dir_or_dirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, require_complete: bool = True
) -> pl.LazyFrame:
    """The samples of one or more runs as one lazy frame (``analysis.schemas.SAMPLES``).

    Unfinished runs are refused unless ``require_complete=False`` (then the parts written so far
    are read).
    """
    dirs = _as_dirs(run_dir_or_dirs)
    if not dirs:
        msg = "load_samples needs at least one run folder"
        raise SamplingError(msg)
    paths: list[Path] = []
    for d in dirs:
        if not is_run_dir(d):
            msg = f"{d} is not a sampling run folder (no {CONFIG_NAME})"
            raise SamplingError(msg)
        if require_complete and not is_complete(d):
            msg = f"{d} is not a finished run (no _SUCCESS.json); pass require_complete=False to read its parts"
            raise SamplingError(msg)
        paths.extend(p for _, _, p in list_parts(d))
    if not paths:
        return schemas.empty("samples").lazy()
    # Parts written before the ``ended_by``/``stop_string`` columns existed lack them: read as nulls.
    schema = {**PART_SCHEMA, **pl.read_parquet_schema(paths[0])}
    frame = pl.scan_parquet(paths, schema=schema, missing_columns="insert")
    schemas.check(frame, "samples")
    return frame


def load_prompts(run_dir: str | os.PathLike[str]) -> pl.DataFrame:
    """The prompts of a run (``analysis.schemas.PROMPTS``)."""
    path = Path(run_dir) / PROMPTS_NAME
    if not path.is_file():
        msg = f"{run_dir} has no {PROMPTS_NAME}"
        raise SamplingError(msg)
    frame = pl.read_parquet(path)
    schemas.check(frame, "prompts")
    return frame
