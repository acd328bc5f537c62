"""The toy world's task family: addition with a worked solution and an exactly checkable answer.

A problem is ``a + b`` with ``n_digits``-digit operands, written ``Q:abc+def=`` (zero-padded).
A response is a worked solution in one of three formats, then ``A:`` and the sum as
``n_digits + 1`` zero-padded digits, which ``analysis.grading.grade_exact`` checks (the answer
is the token after the last ``A:``). Example responses for ``Q:457+385=`` (gold ``0842``):

* careful (``R``, right to left with carries; the teacher's format):
  ``R750>12;581>14;431>08;A:0842`` — each column is ``x y c > s`` with c the carry in and s
  the two-digit column sum;
* shortcut (``L``, left to right, carries ignored): ``L43>7;58>3;75>2;A:0732``;
* sloppy (``S``, the shortcut's layout with |x − y| instead of x + y): ``S43>1;58>3;75>2;A:0132``.

The difficulty stratum is the number of columns that produce a carry (``carries=k``).
Every unordered operand pair belongs to exactly one pool (``train``, ``rl`` or ``test``) by a
salted hash, so pretraining and distillation data (train), RL prompts (rl) and the test set
(test) never share a problem, in either operand order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis import schemas
from analysis.toyworld.config import Strategy, TaskConfig, ToyWorldConfig, load_config

BENCHMARK = "toyworld"
ALPHABET = "0123456789QALRS:+=>;"
FORMAT_LETTER = {"careful": "R", "shortcut": "L", "sloppy": "S"}
LETTER_FORMAT = {v: k for k, v in FORMAT_LETTER.items()}
POOLS = ("train", "rl", "test")
# Share of the unordered operand pairs in each pool.
POOL_SHARES = {"train": 0.80, "rl": 0.15, "test": 0.05}

_CODE = {c: ord(c) for c in ALPHABET}
_DIGIT0 = ord("0")


# ---------------------------------------------------------------------------------------------
# Problems, strata and pools


def digits(x: np.ndarray, n_digits: int) -> np.ndarray:
    """``(len(x), n_digits)`` array: column i holds the digit of 10**i."""
    x = np.asarray(x, dtype=np.int64)
    return np.stack([(x // 10**i) % 10 for i in range(n_digits)], axis=1)


def count_carries(a: np.ndarray, b: np.ndarray, n_digits: int) -> np.ndarray:
    """Number of columns whose (correct) sum produces a carry."""
    xa, xb = digits(a, n_digits), digits(b, n_digits)
    carry = np.zeros(len(xa), dtype=np.int64)
    count = np.zeros(len(xa), dtype=np.int64)
    for i in range(n_digits):
        carry = (xa[:, i] + xb[:, i] + carry >= 10).astype(np.int64)
        count += carry
    return count


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed 64-bit hash of each element (wrapping arithmetic)."""
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def pool_of(a: np.ndarray, b: np.ndarray, n_digits: int, salt: int = 0) -> np.ndarray:
    """The pool (0 train, 1 rl, 2 test) of each problem; ``a + b`` and ``b + a`` share it."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = (lo * 10**n_digits + hi).astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
    u = (_mix64(key) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    cuts = np.cumsum([POOL_SHARES[p] for p in POOLS])
    return np.searchsorted(cuts[:-1], u, side="right")


def _normalised(weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    ks = np.array(sorted(weights), dtype=np.int64)
    w = np.array([weights[int(k)] for k in ks], dtype=np.float64)
    return ks, w / w.sum()


def sample_problems(
    rng: np.random.Generator, n: int, pool: str, carries: dict[int, float], task: TaskConfig
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random problems of ``pool`` whose carry counts follow the weights ``carries``."""
    if pool not in POOLS:
        msg = f"unknown pool {pool!r}; pools: {POOLS}"
        raise ValueError(msg)
    ks, p = _normalised(carries)
    if ks.max() > task.n_digits:
        msg = f"carry counts {ks.tolist()} impossible with {task.n_digits}-digit operands"
        raise ValueError(msg)
    want = rng.choice(ks, size=n, p=p)
    a_out = np.empty(n, dtype=np.int64)
    b_out = np.empty(n, dtype=np.int64)
    pool_id = POOLS.index(pool)
    hi = 10**task.n_digits
    for k in ks:
        slots = np.flatnonzero(want == k)
        filled = 0
        while filled < len(slots):
            m = max(256, 4 * (len(slots) - filled))
            a = rng.integers(0, hi, size=m)
            b = rng.integers(0, hi, size=m)
            ok = (count_carries(a, b, task.n_digits) == k) & (pool_of(a, b, task.n_digits, task.split_salt) == pool_id)
            a, b = a[ok], b[ok]
            take = min(len(a), len(slots) - filled)
            a_out[slots[filled : filled + take]] = a[:take]
            b_out[slots[filled : filled + take]] = b[:take]
            filled += take
    return a_out, b_out


@dataclass(frozen=True)
class ProblemSet:
    a: np.ndarray
    b: np.ndarray
    carries: np.ndarray
    n_digits: int

    def __len__(self) -> int:
        return len(self.a)

    def prompts(self) -> list[str]:
        return [prompt(int(x), int(y), self.n_digits) for x, y in zip(self.a, self.b, strict=True)]

    def answers(self) -> list[str]:
        return [answer(int(x), int(y), self.n_digits) for x, y in zip(self.a, self.b, strict=True)]


def _quotas(size: int, weights: dict[int, float]) -> dict[int, int]:
    ks, p = _normalised(weights)
    raw = p * size
    base = np.floor(raw).astype(int)
    order = np.argsort(-(raw - base), kind="stable")
    for i in order[: size - base.sum()]:
        base[i] += 1
    return {int(k): int(q) for k, q in zip(ks, base, strict=True)}


def held_out_problems(task: TaskConfig) -> ProblemSet:
    """The fixed test problems: stratified by carry count, from the test pool, no duplicates."""
    rng = np.random.default_rng(task.test_seed)
    a_all, b_all, k_all = [], [], []
    for k, q in _quotas(task.test_size, task.test_carries).items():
        seen: set[tuple[int, int]] = set()
        a_k: list[int] = []
        b_k: list[int] = []
        while len(a_k) < q:
            a, b = sample_problems(rng, 4 * q + 16, "test", {k: 1.0}, task)
            for x, y in zip(a.tolist(), b.tolist(), strict=True):
                pair = (min(x, y), max(x, y))
                if pair in seen:
                    continue
                seen.add(pair)
                a_k.append(x)
                b_k.append(y)
                if len(a_k) == q:
                    break
        a_all += a_k
        b_all += b_k
        k_all += [k] * q
    perm = rng.permutation(len(a_all))
    return ProblemSet(
        np.array(a_all, dtype=np.int64)[perm],
        np.array(b_all, dtype=np.int64)[perm],
        np.array(k_all, dtype=np.int64)[perm],
        task.n_digits,
    )


def prompt(a: int, b: int, n_digits: int) -> str:
    return f"Q:{a:0{n_digits}d}+{b:0{n_digits}d}="


def answer(a: int, b: int, n_digits: int) -> str:
    return f"{a + b:0{n_digits + 1}d}"


def stratum(carries: int) -> str:
    return f"carries={carries}"


def problems_table(task: TaskConfig) -> pl.DataFrame:
    """The test set as an ``analysis.schemas.PROBLEMS`` table."""
    ts = held_out_problems(task)
    rows = []
    for i, (a, b, k) in enumerate(zip(ts.a.tolist(), ts.b.tolist(), ts.carries.tolist(), strict=True)):
        rows.append(
            {
                "benchmark": BENCHMARK,
                "problem_id": f"{BENCHMARK}/{a:0{task.n_digits}d}+{b:0{task.n_digits}d}",
                "index": i,
                "question": prompt(a, b, task.n_digits),
                "gold": [answer(a, b, task.n_digits)],
                "stratum": stratum(k),
                "metadata": json.dumps(
                    {"a": a, "b": b, "carries": k, "n_digits": task.n_digits}, sort_keys=True, separators=(",", ":")
                ),
            }
        )
    return pl.DataFrame(rows, schema=schemas.PROBLEMS)


def load_problems(source: str | os.PathLike[str] | ToyWorldConfig | None = None) -> pl.DataFrame:
    """Benchmark-registry loader: the test problems of a toy-world config (default config if None)."""
    cfg = source if isinstance(source, ToyWorldConfig) else load_config(source)
    return problems_table(cfg.task)


# ---------------------------------------------------------------------------------------------
# Students and the teacher: worked solutions as arrays of character codes


def response_length(fmt: str, n_digits: int) -> int:
    """Characters of a response in format ``fmt`` (letter ``R``, ``L`` or ``S``), without EOS."""
    per_column = 7 if fmt == "R" else 5
    return 1 + per_column * n_digits + 2 + n_digits + 1


def _slip(rng: np.random.Generator, d: np.ndarray, p: float) -> np.ndarray:
    if p <= 0:
        return d
    hit = rng.random(d.shape) < p
    return np.where(hit, (d + rng.integers(1, 10, size=d.shape)) % 10, d)


def _confuse(rng: np.random.Generator | None, carry: np.ndarray, forget: float, phantom: float) -> np.ndarray:
    """The carry a careful student writes: a real carry is dropped with probability ``forget``,
    a carry is invented where there is none with probability ``phantom``."""
    out = carry
    if rng is not None and forget > 0:
        out = np.where((carry == 1) & (rng.random(len(carry)) < forget), 0, out)
    if rng is not None and phantom > 0:
        out = np.where((carry == 0) & (rng.random(len(carry)) < phantom), 1, out)
    return out


def simulate(
    strategy: Strategy, a: np.ndarray, b: np.ndarray, n_digits: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Responses of ``strategy``'s students as ``uint8`` character codes, one row per problem.

    With ``rng=None`` (or zero slip, forget and phantom) the response is the strategy's clean trace.
    Errors are consistent with the trace: a slipped digit or a dropped carry is written down,
    and the answer is copied from the written column results.
    """
    xa, xb = digits(a, n_digits), digits(b, n_digits)
    n = len(xa)
    letter = FORMAT_LETTER[strategy.name]
    out = np.empty((n, response_length(letter, n_digits)), dtype=np.uint8)
    out[:, 0] = ord(letter)
    slip = strategy.slip if rng is not None else 0.0
    if strategy.name == "careful":
        forget = strategy.forget if rng is not None else 0.0
        phantom = strategy.phantom if rng is not None else 0.0
        carry = np.zeros(n, dtype=np.int64)
        units = np.empty((n, n_digits), dtype=np.int64)
        for i in range(n_digits):
            c_in = _confuse(rng, carry, forget, phantom if i > 0 else 0.0)
            s = xa[:, i] + xb[:, i] + c_in
            units[:, i] = _slip(rng, s % 10, slip) if rng is not None else s % 10
            carry = s // 10
            col = 1 + 7 * i
            out[:, col] = _DIGIT0 + xa[:, i]
            out[:, col + 1] = _DIGIT0 + xb[:, i]
            out[:, col + 2] = _DIGIT0 + c_in
            out[:, col + 3] = ord(">")
            out[:, col + 4] = _DIGIT0 + carry
            out[:, col + 5] = _DIGIT0 + units[:, i]
            out[:, col + 6] = ord(";")
        lead = _confuse(rng, carry, forget, phantom)  # the final carry is the answer's leading digit
    else:
        units = np.empty((n, n_digits), dtype=np.int64)
        for j, i in enumerate(range(n_digits - 1, -1, -1)):
            d = (xa[:, i] + xb[:, i]) % 10 if strategy.name == "shortcut" else np.abs(xa[:, i] - xb[:, i])
            units[:, i] = _slip(rng, d, slip) if rng is not None else d
            col = 1 + 5 * j
            out[:, col] = _DIGIT0 + xa[:, i]
            out[:, col + 1] = _DIGIT0 + xb[:, i]
            out[:, col + 2] = ord(">")
            out[:, col + 3] = _DIGIT0 + units[:, i]
            out[:, col + 4] = ord(";")
        lead = np.zeros(n, dtype=np.int64)
    pos = out.shape[1] - (n_digits + 3)
    out[:, pos] = ord("A")
    out[:, pos + 1] = ord(":")
    out[:, pos + 2] = _DIGIT0 + lead
    for j, i in enumerate(range(n_digits - 1, -1, -1)):
        out[:, pos + 3 + j] = _DIGIT0 + units[:, i]
    return out


def codes_to_strings(codes: np.ndarray) -> list[str]:
    return [row.tobytes().decode("ascii") for row in codes]


def clean_trace(fmt: str, a: int, b: int, n_digits: int) -> str:
    """The error-free response of format ``fmt`` (``careful``/``R``, ``shortcut``/``L``, ``sloppy``/``S``)."""
    name = LETTER_FORMAT.get(fmt, fmt)
    if name not in FORMAT_LETTER:
        msg = f"unknown format {fmt!r}; formats: {sorted(FORMAT_LETTER)} or letters {sorted(LETTER_FORMAT)}"
        raise ValueError(msg)
    codes = simulate(Strategy(name=name, share=1.0), np.array([a]), np.array([b]), n_digits)
    return codes_to_strings(codes)[0]


def teacher_solution(a: int, b: int, n_digits: int) -> str:
    """The exact solver's worked solution (the careful format without errors)."""
    return clean_trace("careful", a, b, n_digits)


def response_format(text: str) -> str:
    """The format letter a response starts with (``R``, ``L``, ``S``), or ``?``."""
    return text[0] if text and text[0] in LETTER_FORMAT else "?"


def valid_solution(text: str, a: int, b: int, n_digits: int) -> bool:
    """Whether ``text`` is a correct worked solution: the clean careful trace, or the clean
    shortcut trace on a problem without carries (where ignoring carries is exact).

    The sloppy format is never a valid method, even where |x − y| happens to equal x + y.
    """
    fmt = response_format(text)
    if fmt == "R":
        return text == clean_trace("R", a, b, n_digits)
    if fmt == "L":
        no_carry = int(count_carries(np.array([a]), np.array([b]), n_digits)[0]) == 0
        return no_carry and text == clean_trace("L", a, b, n_digits)
    return False
