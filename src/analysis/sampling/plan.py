"""The work of a run, cut into chunks (one request each) and parts (one written file each).

Chunks are listed problem by problem (table order), then seed by seed, then in order within a
seed; their position in that list is their global index. A chunk of problem ``p``, run seed
``s`` (the ``k``-th seed of the run) and chunk index ``c`` holds samples
``k * n + c * chunk_size ...`` of ``p`` and is requested with the seed
``request_seed(s, p, c)``, so any chunk can be regenerated on its own.

Parts are runs of consecutive chunks holding at most ``batch_size`` sequences; the grouping is a
function of the config and the problems alone, so a restarted run regroups its missing chunks
exactly as an uninterrupted run would have (the hf backend's outputs depend on the grouping
through padding, so this is what makes its resume exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.store import stable_hash

SEED_BITS = 31  # request seeds fit a signed 32-bit int: every OpenAI-compatible server takes them


@dataclass(frozen=True, slots=True)
class Chunk:
    """One request: ``count`` samples of one problem under one request seed."""

    index: int  # global position in the plan
    problem_id: str
    run_seed: int
    seed_position: int
    chunk: int  # index within (problem, run seed)
    first_sample: int  # sample_index of the chunk's first sample
    count: int
    request_seed: int


def request_seed(run_seed: int, problem_id: str, chunk: int) -> int:
    """The seed of one request, derived from (run seed, problem id, chunk index)."""
    digest = stable_hash({"seed": run_seed, "problem_id": problem_id, "chunk": chunk}, length=16)
    return int(digest, 16) & ((1 << SEED_BITS) - 1)


def make_chunks(problem_ids: Sequence[str], n: int, seeds: Sequence[int], chunk_size: int) -> list[Chunk]:
    """All chunks of a run, in plan order."""
    chunks: list[Chunk] = []
    per_seed = -(-n // chunk_size)
    for pid in problem_ids:
        for position, seed in enumerate(seeds):
            for c in range(per_seed):
                count = min(chunk_size, n - c * chunk_size)
                first = position * n + c * chunk_size
                chunks.append(Chunk(len(chunks), pid, seed, position, c, first, count, request_seed(seed, pid, c)))
    return chunks


def group_parts(chunks: Sequence[Chunk], batch_size: int) -> list[list[Chunk]]:
    """Consecutive chunks packed greedily into parts of at most ``batch_size`` sequences."""
    parts: list[list[Chunk]] = []
    current: list[Chunk] = []
    size = 0
    for chunk in chunks:
        if current and size + chunk.count > batch_size:
            parts.append(current)
            current, size = [], 0
        current.append(chunk)
        size += chunk.count
    if current:
        parts.append(current)
    return parts


def missing_runs(part: Sequence[Chunk], covered: Sequence[bool]) -> list[list[Chunk]]:
    """The maximal runs of consecutive chunks of ``part`` that no written file covers yet."""
    runs: list[list[Chunk]] = []
    current: list[Chunk] = []
    for chunk in part:
        if covered[chunk.index]:
            if current:
                runs.append(current)
                current = []
        else:
            current.append(chunk)
    if current:
        runs.append(current)
    return runs
