"""Toy world 2's task family: short programs of long-tailed skills on a three-digit register.

A problem is a start state (three digits) and a program of 1 to ``MAX_STEPS`` operations, each
a lowercase letter; the prompt is ``Q`` + state + ``:`` + program padded with ``.`` + ``=``,
e.g. ``Q382:cb..=``. A response executes the program step by step, each step written as the
operation's letter, the new state and ``;``, then ``A:`` and the final state, which
``analysis.grading.grade_exact`` checks. For ``Q382:cb..=``: ``c615;b516;A:516`` (add 3 to
every digit, then reverse).

The twelve operations (:data:`OPS`) are ranked by how often pretraining shows them (Zipf). Two
kinds: *digit maps* change every digit the same way (add 1, add 3, 9 − d, ...); *moves*
permute the positions (reverse, rotate, swap). A digit map commutes with every move, and the
additions commute with each other, so a response may execute two adjacent commuting steps in
either order and still reach the answer: there is more than one valid way to it. Only the final
answer is graded.

Every (start, program) problem belongs to exactly one pool (``train``, ``rl`` or ``test``) by a
salted hash, so the pretraining corpus, the RL prompts and the test set never share a problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHABET = "0123456789abcdefghijklQA:=;."
MAX_STEPS = 4
STATE = 3  # digits in the register
POOLS = ("train", "rl", "test")
POOL_SHARES = {"train": 0.80, "rl": 0.15, "test": 0.05}
PROMPT_LENGTH = 1 + STATE + 1 + MAX_STEPS + 1
STEP_LENGTH = 1 + STATE + 1
RESPONSE_LENGTH = MAX_STEPS * STEP_LENGTH + 2 + STATE  # the longest response, without EOS


@dataclass(frozen=True)
class Op:
    """One skill: its letter, its name, and its kind (``map``: the same map on every digit, given as
    the table ``d -> table[d]``; ``move``: a permutation, new digit i = old digit ``perm[i]``)."""

    letter: str
    name: str
    kind: str
    table: tuple[int, ...] = ()
    perm: tuple[int, ...] = ()
    additive: bool = False


# In frequency rank order (``a`` the most common). The partner of an op (:data:`PARTNER`) is the
# more common op of the same kind that a student confuses it with.
OPS: tuple[Op, ...] = (
    Op("a", "add 1", "map", tuple((d + 1) % 10 for d in range(10)), additive=True),
    Op("b", "reverse", "move", perm=(2, 1, 0)),
    Op("c", "add 3", "map", tuple((d + 3) % 10 for d in range(10)), additive=True),
    Op("d", "rotate left", "move", perm=(1, 2, 0)),
    Op("e", "9 - d", "map", tuple(9 - d for d in range(10))),
    Op("f", "swap first two", "move", perm=(1, 0, 2)),
    Op("g", "times 3", "map", tuple(3 * d % 10 for d in range(10))),
    Op("h", "rotate right", "move", perm=(2, 0, 1)),
    Op("i", "add 7", "map", tuple((d + 7) % 10 for d in range(10)), additive=True),
    Op("j", "swap last two", "move", perm=(0, 2, 1)),
    Op("k", "times 7", "map", tuple(7 * d % 10 for d in range(10))),
    Op("l", "times 9", "map", tuple(9 * d % 10 for d in range(10))),
)
N_OPS = len(OPS)
LETTERS = "".join(o.letter for o in OPS)
PAD_OP = "."


def _partners() -> tuple[int, ...]:
    out = []
    for i, op in enumerate(OPS):
        same = [j for j, o in enumerate(OPS) if o.kind == op.kind and j != i]
        above = [j for j in same if j < i]
        out.append(above[-1] if above else same[0])
    return tuple(out)


PARTNER = _partners()
_TABLES = np.array([o.table if o.kind == "map" else tuple(range(10)) for o in OPS], dtype=np.int64)
_PERMS = np.array([o.perm if o.kind == "move" else (0, 1, 2) for o in OPS], dtype=np.int64)


def apply_op(op: np.ndarray, state: np.ndarray) -> np.ndarray:
    """New states ``(n, 3)`` after op ``op[i]`` (index into :data:`OPS`) on ``state[i]``."""
    op = np.asarray(op, dtype=np.int64)
    moved = np.take_along_axis(state, _PERMS[op], axis=1)
    return _TABLES[op[:, None], moved]


def commute(x: int, y: int) -> bool:
    """Whether ops ``x`` and ``y`` commute (so two adjacent steps may be written in either order)."""
    ox, oy = OPS[x], OPS[y]
    return ox.kind != oy.kind or (ox.additive and oy.additive) or x == y


def zipf_weights(exponent: float) -> np.ndarray:
    """Op frequencies ∝ 1 / rank**exponent (0: uniform), normalised."""
    w = 1.0 / np.arange(1, N_OPS + 1, dtype=np.float64) ** exponent
    return w / w.sum()


# ---------------------------------------------------------------------------------------------
# Problems and pools


@dataclass
class Problems:
    """``n`` problems: start states ``(n, 3)``, programs ``(n, MAX_STEPS)`` (op index, −1 = none)."""

    start: np.ndarray
    program: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    @property
    def lengths(self) -> np.ndarray:
        return (self.program >= 0).sum(1)

    def finals(self) -> np.ndarray:
        """The correct final state of every problem."""
        state = self.start.copy()
        for s in range(MAX_STEPS):
            ops = self.program[:, s]
            live = ops >= 0
            if live.any():
                state[live] = apply_op(ops[live], state[live])
        return state

    def answers(self) -> list[str]:
        return ["".join(map(str, row)) for row in self.finals()]

    def prompts(self) -> list[str]:
        return [prompt_text(s, p) for s, p in zip(self.start, self.program, strict=True)]

    def rarest_rank(self) -> np.ndarray:
        """The rank (1 = most common) of each problem's rarest op."""
        return np.where(self.program >= 0, self.program, -1).max(1) + 1


def prompt_text(start: np.ndarray, program: np.ndarray) -> str:
    ops = "".join(LETTERS[o] if o >= 0 else PAD_OP for o in program)
    return "Q" + "".join(map(str, start)) + ":" + ops + "="


def problem_keys(start: np.ndarray, program: np.ndarray) -> np.ndarray:
    """A unique integer per problem (start state, program)."""
    key = start[:, 0] * 100 + start[:, 1] * 10 + start[:, 2]
    for s in range(MAX_STEPS):
        key = key * (N_OPS + 1) + (program[:, s] + 1)
    return key


def _mix64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def pool_of(start: np.ndarray, program: np.ndarray, salt: int = 0) -> np.ndarray:
    """The pool (0 train, 1 rl, 2 test) of each problem."""
    key = problem_keys(start, program).astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
    u = (_mix64(key) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    cuts = np.cumsum([POOL_SHARES[p] for p in POOLS])
    return np.searchsorted(cuts[:-1], u, side="right")


def draw_problems(
    rng: np.random.Generator,
    n: int,
    pool: str,
    op_weights: np.ndarray,
    length_weights: dict[int, float],
    salt: int = 0,
) -> Problems:
    """``n`` problems of ``pool``: lengths by ``length_weights``, ops i.i.d. by ``op_weights``."""
    want = POOLS.index(pool)
    lengths = np.array(sorted(length_weights), dtype=np.int64)
    lw = np.array([length_weights[k] for k in lengths], dtype=np.float64)
    starts, programs, have = [], [], 0
    while have < n:
        m = max(64, 2 * (n - have) * int(1 / POOL_SHARES[pool]))
        start = rng.integers(0, 10, size=(m, STATE))
        length = rng.choice(lengths, size=m, p=lw / lw.sum())
        program = rng.choice(N_OPS, size=(m, MAX_STEPS), p=op_weights)
        program[np.arange(MAX_STEPS)[None, :] >= length[:, None]] = -1
        keep = pool_of(start, program, salt) == want
        starts.append(start[keep])
        programs.append(program[keep])
        have += int(keep.sum())
    return Problems(np.concatenate(starts)[:n], np.concatenate(programs)[:n])


def held_out_set(
    size: int, seed: int, op_weights: np.ndarray, length_weights: dict[int, float], salt: int = 0
) -> Problems:
    """The fixed test set: distinct test-pool problems, drawn by ``seed``."""
    rng = np.random.default_rng([seed, 7])
    got = draw_problems(rng, 4 * size, "test", op_weights, length_weights, salt)
    _, first = np.unique(problem_keys(got.start, got.program), return_index=True)
    first = np.sort(first)[:size]
    if len(first) < size:
        msg = f"could not draw {size} distinct test problems"
        raise ValueError(msg)
    return Problems(got.start[first], got.program[first])


# ---------------------------------------------------------------------------------------------
# Worked solutions


def skill_levels(zipf: float, top: float, gamma: float, floor: float) -> np.ndarray:
    """The corpus's reliability on each op: ``top · (f_r / f_1) ** gamma``, at least ``floor``,
    where ``f_r`` is the op's pretraining frequency (:func:`zipf_weights` of ``zipf``). The rarer a
    skill, the less reliably the corpus's students execute it."""
    f = zipf_weights(zipf)
    return np.maximum(floor, top * (f / f[0]) ** gamma)


def simulate(problems: Problems, rng: np.random.Generator, skill: np.ndarray, reorder: float) -> list[str]:
    """A student's worked solution for every problem.

    Each step is executed correctly with probability ``skill[op]``; otherwise the student applies
    the op's :data:`PARTNER` (and still writes the op's letter). With probability ``reorder`` a
    student first swaps each adjacent commuting pair of steps (a second valid route).
    """
    n = len(problems)
    program = problems.program.copy()
    if reorder > 0:
        for s in range(MAX_STEPS - 1):
            x, y = program[:, s], program[:, s + 1]
            ok = np.array([a >= 0 and b >= 0 and commute(int(a), int(b)) for a, b in zip(x, y, strict=True)])
            swap = ok & (rng.random(n) < reorder)
            program[swap, s], program[swap, s + 1] = y[swap], x[swap]
    state = problems.start.copy()
    parts: list[list[str]] = [[] for _ in range(n)]
    for s in range(MAX_STEPS):
        ops = program[:, s]
        live = np.flatnonzero(ops >= 0)
        if len(live) == 0:
            continue
        op = ops[live]
        slip = rng.random(len(live)) >= skill[op]
        done = apply_op(np.where(slip, np.array(PARTNER)[op], op), state[live])
        state[live] = done
        for i, o, st in zip(live.tolist(), op.tolist(), done.tolist(), strict=True):
            parts[i].append(LETTERS[o] + "".join(map(str, st)) + ";")
    return ["".join(p) + "A:" + "".join(map(str, st)) for p, st in zip(parts, state.tolist(), strict=True)]


def solve(start: str, program: str) -> str:
    """The exact solver's worked solution for ``start`` (e.g. ``"382"``) and ``program`` (``"cb"``)."""
    st = np.array([[int(ch) for ch in start]])
    out = ""
    for letter in program:
        if letter == PAD_OP:
            continue
        st = apply_op(np.array([LETTERS.index(letter)]), st)
        out += letter + "".join(map(str, st[0])) + ";"
    return out + "A:" + "".join(map(str, st[0]))


def check(response: str, gold: str) -> bool:
    """Whether ``response``'s final answer (after the last ``A:``) equals ``gold``."""
    from analysis.grading import grade_exact

    return bool(grade_exact(response, gold).correct)
