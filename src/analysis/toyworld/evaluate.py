"""Fast evaluation of toy-world checkpoints, for experiments and the phase diagram.

The final study samples with ``analysis.sampling`` and grades with ``analysis.grading``; this
module does the same job in-process with the toy world's KV-cache sampler, so that a phase
diagram of dozens of checkpoints fits in an hour on the CPU. It grades with the same
``grade_exact`` and estimates pass@k with ``analysis.metrics`` (the unbiased estimator).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from analysis.grading import grade_exact
from analysis.metrics import pass_at_k
from analysis.toyworld.corpus import prompt_codes
from analysis.toyworld.model import token_logprobs, vocab
from analysis.toyworld.sampler import sample
from analysis.toyworld.tasks import ProblemSet, clean_trace, response_format


def pass_curve(c: np.ndarray, n: int, ks: tuple[int, ...] | list[int]) -> dict[int, float]:
    """Mean unbiased pass@k over problems for each k (``analysis.metrics.pass_at_k``)."""
    c = np.asarray(c)
    return {k: float(np.mean(pass_at_k(n, c, k))) for k in ks}


@dataclass
class EvalResult:
    """One model sampled ``n`` times per problem at one temperature."""

    temperature: float
    top_p: float
    n: int
    c: np.ndarray  # correct samples per problem
    carries: np.ndarray
    formats: dict[str, int]  # responses by format letter (R, L, S, ?)
    correct_formats: dict[str, int]
    correct_valid: int  # correct responses whose worked solution is valid
    kept: list[tuple[int, str]] = field(default_factory=list)  # (problem index, response) for perplexity

    def curve(self, ks: tuple[int, ...] | list[int]) -> dict[int, float]:
        return pass_curve(self.c, self.n, ks)

    def solved(self) -> set[int]:
        return set(np.flatnonzero(self.c > 0).tolist())

    def valid_share(self) -> float:
        total = int(self.c.sum())
        return self.correct_valid / total if total else float("nan")

    def format_share(self, letter: str) -> float:
        return self.formats.get(letter, 0) / max(1, sum(self.formats.values()))


@torch.no_grad()
def evaluate_model(
    model,
    problems: ProblemSet,
    *,
    n: int,
    temperature: float,
    top_p: float = 1.0,
    seed: int = 0,
    max_new_tokens: int = 32,
    keep_per_problem: int = 16,
    chunk: int = 4096,
) -> EvalResult:
    """Sample ``n`` responses per problem, grade them, and keep a few for perplexity."""
    v = vocab()
    nd = problems.n_digits
    gen = torch.Generator().manual_seed(seed)
    prompts = v.lookup[torch.from_numpy(prompt_codes(problems.a, problems.b, nd).astype(np.int64))]
    golds = problems.answers()
    valid_r = [clean_trace("R", int(a), int(b), nd) for a, b in zip(problems.a, problems.b, strict=True)]
    valid_l = [
        clean_trace("L", int(a), int(b), nd) if k == 0 else None
        for a, b, k in zip(problems.a, problems.b, problems.carries, strict=True)
    ]
    order = np.repeat(np.arange(len(problems)), n)
    c = np.zeros(len(problems), dtype=np.int64)
    formats: Counter[str] = Counter()
    correct_formats: Counter[str] = Counter()
    correct_valid = 0
    kept: list[tuple[int, str]] = []
    seen = np.zeros(len(problems), dtype=np.int64)
    model.eval()
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        out = sample(
            model,
            prompts[torch.from_numpy(idx)],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            generator=gen,
            eos_id=v.eos,
            pad_id=v.pad,
        )
        for i, text in zip(idx.tolist(), v.decode_batch(out), strict=True):
            f = response_format(text)
            formats[f] += 1
            if grade_exact(text, golds[i]).correct:
                c[i] += 1
                correct_formats[f] += 1
                correct_valid += text in (valid_r[i], valid_l[i])
            if seen[i] < keep_per_problem:
                kept.append((i, text))
                seen[i] += 1
    return EvalResult(
        temperature, top_p, n, c, problems.carries.copy(), dict(formats), dict(correct_formats), correct_valid, kept
    )


@torch.no_grad()
def sequence_perplexities(
    scorer, problems: ProblemSet, responses: list[tuple[int, str]], batch: int = 1024
) -> np.ndarray:
    """Per-response perplexity under ``scorer``: exp of the mean NLL of the response's tokens
    given the prompt (the EOS is not scored, matching a scorer that sees only the text)."""
    v = vocab()
    nd = problems.n_digits
    prompts = prompt_codes(problems.a, problems.b, nd)
    p = prompts.shape[1]
    out = np.empty(len(responses))
    for start in range(0, len(responses), batch):
        part = responses[start : start + batch]
        width = max(len(t) for _, t in part)
        if width == 0:
            out[start : start + len(part)] = np.nan
            continue
        ids = torch.full((len(part), p + width), v.pad, dtype=torch.long)
        mask = torch.zeros((len(part), p + width - 1), dtype=torch.bool)
        for j, (i, text) in enumerate(part):
            ids[j, :p] = v.lookup[torch.from_numpy(prompts[i].astype(np.int64))]
            if text:
                ids[j, p : p + len(text)] = torch.tensor(v.encode(text))
                mask[j, p - 1 : p - 1 + len(text)] = True
        lp = token_logprobs(scorer, ids)
        m = mask.float()
        nll = -(lp * m).sum(1) / m.sum(1).clamp(min=1)
        ppl = torch.exp(nll).numpy()
        ppl[mask.sum(1).numpy() == 0] = np.nan
        out[start : start + len(part)] = ppl
    return out


def coverage_comparison(base: EvalResult, other: EvalResult) -> dict[str, int]:
    """Sizes of the solved sets and their differences (problems with at least one correct sample)."""
    b, o = base.solved(), other.solved()
    return {"solved": len(o), "solved_base": len(b), "only_other": len(o - b), "only_base": len(b - o)}


def crossover_k(base: EvalResult, other: EvalResult, ks: list[int]) -> int | None:
    """The smallest k at which the base's pass@k is at least the other model's, if it ever is."""
    cb, co = base.curve(ks), other.curve(ks)
    for k in ks:
        if cb[k] >= co[k]:
            return k
    return None


def summarize(result: EvalResult, ks: list[int]) -> dict[str, Any]:
    """Flat figures for tables: pass@k, format shares, valid-solution share, per-stratum pass@1."""
    curve = result.curve(ks)
    row: dict[str, Any] = {f"pass@{k}": curve[k] for k in ks}
    row |= {f"share_{f}": result.format_share(f) for f in ("L", "S", "R")}
    row["valid_cot"] = result.valid_share()
    for k in sorted(set(result.carries.tolist())):
        sel = result.carries == k
        row[f"pass@1_c{k}"] = float(np.mean(result.c[sel] / result.n))
        row[f"pass@{result.n}_c{k}"] = float(np.mean(result.c[sel] > 0))
    return row
