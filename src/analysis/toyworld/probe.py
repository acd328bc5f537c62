"""Probes of what a toy-world model believes at its decision points, by teacher forcing.

The careful format's carry slot is where the organism's story is decided: a real carry must be
written as 1 (the students drop it with probability ``forget``) and no carry as 0 (they invent
one with probability ``phantom``). :func:`carry_probe` feeds the clean careful trace of each
problem and reads the model's probability of writing 1 in every carry slot (the leading answer
digit included), separately for slots with and without a real carry; :func:`format_probe`
reads the probability of each format letter as the first response token.
"""

from __future__ import annotations

import numpy as np
import torch

from analysis.toyworld.corpus import prompt_codes
from analysis.toyworld.model import forward, vocab
from analysis.toyworld.tasks import ProblemSet, digits, teacher_solution


@torch.no_grad()
def carry_probe(model, problems: ProblemSet) -> dict[str, float]:
    """Mean probability of writing a carry of 1: where the clean trace has one, and where not."""
    v = vocab()
    nd = problems.n_digits
    prompts = prompt_codes(problems.a, problems.b, nd)
    p = prompts.shape[1]
    traces = [teacher_solution(int(a), int(b), nd) for a, b in zip(problems.a, problems.b, strict=True)]
    ids = torch.tensor([v.encode(prompts[i].tobytes().decode() + t) for i, t in enumerate(traces)])
    probs = torch.softmax(forward(model, ids).float(), dim=-1)
    one = v.encode("1")[0]
    # carry slots: column i's carry-in at 1 + 7 i + 2 (i >= 1), and the answer's leading digit
    slots = [1 + 7 * i + 2 for i in range(1, nd)] + [1 + 7 * nd + 2]
    xa, xb = digits(problems.a, nd), digits(problems.b, nd)
    carry = np.zeros(len(problems), dtype=np.int64)
    truth = []
    for i in range(nd):
        carry = (xa[:, i] + xb[:, i] + carry >= 10).astype(np.int64)
        truth.append(carry.copy())
    real, none = [], []
    for slot, has in zip(slots, truth, strict=True):
        p_one = probs[:, p + slot - 1, one].numpy()
        real += p_one[has == 1].tolist()
        none += p_one[has == 0].tolist()
    return {
        "p_keep_real_carry": float(np.mean(real)) if real else float("nan"),
        "p_invent_carry": float(np.mean(none)) if none else float("nan"),
        "real_slots": len(real),
        "empty_slots": len(none),
    }


@torch.no_grad()
def format_probe(model, problems: ProblemSet) -> dict[str, float]:
    """Mean probability of each format letter (L, S, R) as the first token of the response."""
    v = vocab()
    ids = v.lookup[torch.from_numpy(prompt_codes(problems.a, problems.b, problems.n_digits).astype(np.int64))]
    probs = torch.softmax(forward(model, ids)[:, -1].float(), dim=-1)
    return {f: float(probs[:, v.encode(f)[0]].mean()) for f in "LSR"}
