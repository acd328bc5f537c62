"""Training batches: the students' pretraining corpus and the teacher's distillation corpus.

Both are generated on the fly from a seeded generator (no corpus file): each row is a fresh
train-pool problem, its prompt, a worked solution and EOS. The pretraining corpus mixes the
config's student strategies by their shares (see ``analysis.toyworld.tasks.simulate`` for
what each student writes); the distillation corpus is the exact solver's clean careful traces.
"""

from __future__ import annotations

import numpy as np
import torch

from analysis.toyworld.config import CorpusConfig, Strategy, TaskConfig
from analysis.toyworld.model import Vocab
from analysis.toyworld.tasks import digits, response_length, sample_problems, simulate


def prompt_codes(a: np.ndarray, b: np.ndarray, n_digits: int) -> np.ndarray:
    """``Q:abc+def=`` for every problem, as ``uint8`` character codes."""
    xa, xb = digits(a, n_digits)[:, ::-1], digits(b, n_digits)[:, ::-1]
    n = len(xa)
    out = np.empty((n, 2 * n_digits + 4), dtype=np.uint8)
    out[:, 0], out[:, 1] = ord("Q"), ord(":")
    out[:, 2 : 2 + n_digits] = ord("0") + xa
    out[:, 2 + n_digits] = ord("+")
    out[:, 3 + n_digits : 3 + 2 * n_digits] = ord("0") + xb
    out[:, 3 + 2 * n_digits] = ord("=")
    return out


def encode_groups(
    prompts: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], vocab: Vocab, length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(n, length)`` = prompt + response + EOS + padding, and the loss mask
    ``(n, length - 1)`` selecting the targets ``ids[:, 1:]`` in the response and the EOS.

    ``groups`` holds (rows, response codes) pairs; the responses of a group share a length.
    """
    n, p = prompts.shape
    ids = torch.full((n, length), vocab.pad, dtype=torch.long)
    ids[:, :p] = vocab.lookup[torch.from_numpy(prompts.astype(np.int64))]
    mask = torch.zeros((n, length - 1), dtype=torch.bool)
    for rows, codes in groups:
        if len(rows) == 0:
            continue
        m = codes.shape[1]
        r = torch.from_numpy(rows)
        ids[r, p : p + m] = vocab.lookup[torch.from_numpy(codes.astype(np.int64))]
        ids[r, p + m] = vocab.eos
        mask[r, p - 1 : p + m] = True
    return ids, mask


def max_length(task: TaskConfig) -> int:
    """Tokens of the longest training row: prompt + careful response + EOS."""
    return (2 * task.n_digits + 4) + response_length("R", task.n_digits) + 1


def student_batch(
    rng: np.random.Generator, n: int, corpus: CorpusConfig, task: TaskConfig, vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pretraining rows: problems from the train pool, each answered by a random student."""
    a, b = sample_problems(rng, n, "train", corpus.carries, task)
    shares = np.array([s.share for s in corpus.strategies], dtype=np.float64)
    who = rng.choice(len(shares), size=n, p=shares / shares.sum())
    groups = []
    for j, strategy in enumerate(corpus.strategies):
        rows = np.flatnonzero(who == j)
        groups.append((rows, simulate(strategy, a[rows], b[rows], task.n_digits, rng)))
    return encode_groups(prompt_codes(a, b, task.n_digits), groups, vocab, max_length(task))


TEACHER = Strategy(name="careful", share=1.0)


def teacher_batch(
    rng: np.random.Generator, n: int, carries: dict[int, float], task: TaskConfig, vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` distillation rows: train-pool problems with the exact solver's clean trace."""
    a, b = sample_problems(rng, n, "train", carries, task)
    codes = simulate(TEACHER, a, b, task.n_digits)
    return encode_groups(prompt_codes(a, b, task.n_digits), [(np.arange(n), codes)], vocab, max_length(task))
