"""Evaluating toy world 2's checkpoints on the test set: ``n`` samples per problem with the first
world's KV-cache sampler, graded by exact match, as a counts table (``model, benchmark,
problem_id, n, c, temperature`` plus the problem's length and rarest op) for
``analysis.findings.compare_pair`` and ``analysis.metrics``."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from analysis.toyworld.sampler import sample
from analysis.toyworld2.config import ToyWorld2Config
from analysis.toyworld2.model import vocab
from analysis.toyworld2.tasks import Problems, check, held_out_set, zipf_weights

BENCHMARK = "toyworld2"


def problems_of(cfg: ToyWorld2Config) -> Problems:
    t = cfg.task
    return held_out_set(t.test_size, t.test_seed, zipf_weights(t.test_zipf), t.test_lengths, t.split_salt)


@torch.no_grad()
def correct_counts(
    model, problems: Problems, *, n: int, temperature: float, seed: int = 0, max_new_tokens: int = 26, chunk: int = 4096
) -> np.ndarray:
    """Correct samples out of ``n`` for every problem."""
    v = vocab()
    gen = torch.Generator().manual_seed(seed)
    prompts = v.encode_batch(problems.prompts())
    golds = problems.answers()
    order = np.repeat(np.arange(len(problems)), n)
    c = np.zeros(len(problems), dtype=np.int64)
    model.eval()
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        out = sample(
            model,
            prompts[torch.from_numpy(idx)],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            generator=gen,
            eos_id=v.eos,
            pad_id=v.pad,
        )
        for i, text in zip(idx.tolist(), v.decode_batch(out), strict=True):
            c[i] += check(text, golds[i])
    return c


def counts_frame(name: str, problems: Problems, c: np.ndarray, n: int, temperature: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": name,
            "benchmark": BENCHMARK,
            "problem_id": [f"p{i:03d}" for i in range(len(problems))],
            "n": np.full(len(problems), n, dtype=np.int64),
            "c": c.astype(np.int64),
            "temperature": float(temperature),
            "length": problems.lengths.astype(np.int64),
            "rarest_rank": problems.rarest_rank().astype(np.int64),
        }
    )


def evaluate(model, name: str, cfg: ToyWorld2Config, temperature: float, seed: int = 0) -> pl.DataFrame:
    """The counts table of one model at one temperature on the config's test set."""
    problems = problems_of(cfg)
    c = correct_counts(
        model, problems, n=cfg.eval.n, temperature=temperature, seed=seed, max_new_tokens=cfg.eval.max_new_tokens
    )
    return counts_frame(name, problems, c, cfg.eval.n, temperature)
