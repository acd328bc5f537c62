"""A persistent cache of verdicts, so that re-running a study re-grades nothing.

Key: SHA-256 of (SHA-256 of the response, the accepted gold answers, the mode, the grader
version, and in ``paper`` mode the benchmark, whose rules differ). A verdict is reused only when
all of them are equal; a new grader version (new rules or new library versions, see
``analysis.grading.modes.grader_version``) re-grades everything.

A ``timeout`` verdict also depends on the deadline it was given: it is reused only for a
deadline no longer than the one it ran under, so raising the deadline re-tries exactly the
items that timed out.

Storage: one SQLite file (stdlib ``sqlite3``), ``<cache_dir>/grades.sqlite``. Chosen over
parquet shards because a study looks up a subset of keys among millions (an indexed lookup,
not a scan of every shard), adds verdicts while grading (each batch is one transaction: a
crash loses at most the batch in flight and never leaves a half-written file), and may run
several grading jobs on one cache at once (SQLite locks the file; parquet shards would need
their own locking and compaction).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.grading.result import GradeResult

CACHE_FILE = "grades.sqlite"
_BATCH = 500  # keys per SELECT ... IN (...)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    response_sha256 TEXT NOT NULL,
    gold TEXT NOT NULL,
    mode TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    correct INTEGER NOT NULL,
    extracted TEXT,
    status TEXT NOT NULL,
    deadline_s REAL NOT NULL
) WITHOUT ROWID
"""


def response_sha256(response: str | None) -> str:
    """SHA-256 of a response's UTF-8 bytes; ``None`` hashes differently from the empty string."""
    if response is None:
        return "none"
    return hashlib.sha256(response.encode("utf-8", errors="surrogatepass")).hexdigest()


def gold_json(gold: Sequence[str]) -> str:
    """The canonical text of a list of accepted answers."""
    return json.dumps(list(gold), ensure_ascii=False, separators=(",", ":"))


def cache_key(response_hash: str, gold: str, mode: str, grader_version: str, benchmark: str | None = None) -> str:
    """The cache key of one verdict (``gold`` as given by ``gold_json``).

    ``benchmark`` is part of the key only where the rules depend on it (``paper`` mode), so
    keys of the other modes are unchanged.
    """
    parts = (
        (response_hash, gold, mode, grader_version)
        if benchmark is None
        else (response_hash, gold, mode, grader_version, benchmark)
    )
    text = "\x1f".join(parts)
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CachedVerdict:
    """A verdict as stored, with the deadline it was graded under."""

    result: GradeResult
    deadline_s: float


class GradeCache:
    """The verdict cache in ``cache_dir`` (created if absent)."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        folder = Path(cache_dir)
        if folder.exists() and not folder.is_dir():
            msg = f"cache_dir is not a folder: {folder}"
            raise NotADirectoryError(msg)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / CACHE_FILE
        self._db = sqlite3.connect(self.path, timeout=120)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def __enter__(self) -> GradeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def get_many(self, keys: Iterable[str], deadline_s: float) -> dict[str, GradeResult]:
        """The cached verdicts among ``keys`` usable for a run with deadline ``deadline_s``."""
        found: dict[str, GradeResult] = {}
        key_list = list(dict.fromkeys(keys))
        for k in range(0, len(key_list), _BATCH):
            batch = key_list[k : k + _BATCH]
            placeholders = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, correct, extracted, status, mode, deadline_s FROM verdicts WHERE key IN ({placeholders})",
                batch,
            )
            for key, correct, extracted, status, mode, cached_deadline in rows:
                if status == "timeout" and cached_deadline < deadline_s:
                    continue  # a longer deadline may succeed: grade it again
                found[key] = GradeResult(bool(correct), extracted, status, mode)
        return found

    def put_many(
        self, rows: Iterable[tuple[str, str, str, str, GradeResult]], grader_version: str, deadline_s: float
    ) -> None:
        """Store verdicts: (key, response_sha256, gold_json, mode, verdict) tuples, in one transaction."""
        records = [
            (key, rsha, gold, mode, grader_version, int(r.correct), r.extracted, r.status, deadline_s)
            for key, rsha, gold, mode, r in rows
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?)", records)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
