"""EvalPlus's grading rules (HumanEval+, MBPP+), re-stated so the parent process can apply them.

Re-implemented from ``evalplus`` 0.3.1 (``evalplus/eval/__init__.py``, ``_special_oracle.py``,
``data/mbpp.py``) rather than imported: EvalPlus compares inside the process that runs the
program (where the program can patch the comparison), and its import pulls in a large set of
dependencies. What is reproduced:

* expected outputs come from running the canonical solution on every input;
* time limit per input: ``max(1.0 s, 4 x the canonical solution's time)``; per run
  (base or plus): ``min(60 s, sum of the limits) + 1 s``;
* equality, then for floats ``np.allclose(out, exp, rtol=1e-7, atol=atol)`` with the same
  types and lengths; a task with ``atol == 0`` uses ``1e-6`` from the first float output on (as in
  EvalPlus, the switch persists over the later inputs of the run);
* special oracles: MBPP set equality, "not None", Mbpp/164, 295, 558 and 581, and HumanEval/32's
  ``|poly(xs, out)| <= atol``. EvalPlus 0.3.0/0.3.1 skip recording HumanEval/32's passes (a
  ``continue`` before the bookkeeping; fixed upstream in 6eb1e19, PR #241, in no release), so
  that task fails whatever the answer; here it is graded as the fix intends.
* MBPP+ input conversion (``mbpp_deserialize_inputs``): lists to tuples, sets, complex numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.code.values import short_repr

MIN_TIME_LIMIT = 1.0  # evalplus 0.3.1 DEFAULT_MIN_TIME_LIMIT (4.0 on its main branch)
GT_TIME_LIMIT_FACTOR = 4.0
TASK_TIMEOUT_S = 60.0  # EVALPLUS_TIMEOUT_PER_TASK

MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
)

_TUPLES = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809}
_NESTED_TUPLES = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_FIRST_NESTED = {75, 413, 444, 753}
_FIRST_TUPLE = {250, 405, 446, 617, 720, 763, 808}


def _all_tuples(x: Any) -> Any:
    return tuple(_all_tuples(i) for i in x) if isinstance(x, list) else x


def mbpp_deserialize_inputs(task_id: str, inputs: list[Any]) -> list[Any]:
    """MBPP+ inputs as the functions take them (the JSON file cannot hold tuples, sets, complex)."""
    n = int(task_id.split("/")[-1])
    if n in _TUPLES:
        return [[tuple(x) for x in inp] for inp in inputs]
    if n in _NESTED_TUPLES:
        return [[[tuple(x) for x in xs] for xs in inp] for inp in inputs]
    if n in _FIRST_NESTED:
        return [[[tuple(x) for x in inp[0]], inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0], tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in _FIRST_TUPLE:
        return [[tuple(inp[0]), inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        nested = [[[tuple(x) for x in xs] for xs in inp] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in nested]
    if n == 278:
        first = [[[tuple(i) if isinstance(i, list) else i for i in inp[0]]] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in first]
    if n == 307:
        return [[tuple(inp[0]), inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_all_tuples(inp) for inp in inputs]
    return inputs


def time_limits(ref_times: list[float]) -> list[float]:
    return [max(MIN_TIME_LIMIT, GT_TIME_LIMIT_FACTOR * t) for t in ref_times]


def run_budget(limits: list[float]) -> float:
    """EvalPlus's wall-clock budget for one run of these inputs."""
    return min(TASK_TIMEOUT_S, sum(limits)) + 1.0 if limits else 1.0


def is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _poly(xs: list[float], x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> float:
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance_nums(num1: int, num2: int) -> int:
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


class Comparator:
    """Compares one run's outputs with the expected ones, input by input, as EvalPlus does.

    Stateful like EvalPlus: ``atol`` becomes 1e-6 for the rest of the run once a float output is
    expected on a task whose ``atol`` is 0.
    """

    def __init__(self, dataset: str, entry_point: str, atol: float) -> None:
        self.dataset, self.entry_point, self.atol = dataset, entry_point, atol

    def matches(self, inp: list[Any], out: Any, exp: Any) -> bool:
        ep = self.entry_point
        try:
            exact = bool(out == exp)
        except Exception:
            exact = False
        try:
            if self.dataset == "mbpp":
                if ep == "are_equivalent":  # Mbpp/164
                    exact = True
                elif ep == "sum_div":  # Mbpp/295
                    exact = exact or out == 0
                elif ep == "surface_Area":  # Mbpp/581
                    exact = exact or abs(out - _surface_area(*inp)) <= self.atol
                elif ep == "digit_distance_nums":  # Mbpp/558
                    exact = exact or out == _digit_distance_nums(*inp)
                elif ep in MBPP_OUTPUT_SET_EQ_TASKS:
                    exact = set(out) == set(exp)
                elif ep in MBPP_OUTPUT_NOT_NONE_TASKS:
                    exact = out == exp if isinstance(out, bool) else exp == (out is not None)
            if self.dataset == "humaneval" and ep == "find_zero":
                return bool(abs(_poly(*inp, out)) <= self.atol)
            if self.atol == 0 and is_floats(exp):
                self.atol = 1e-6
            if not exact and self.atol != 0:
                if type(out) is not type(exp):
                    return False
                if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                    return False
                return bool(np.allclose(out, exp, rtol=1e-07, atol=self.atol))
            return bool(exact)
        except Exception:
            return False


def first_mismatch(
    dataset: str, entry_point: str, atol: float, inputs: list[Any], outputs: list[Any], expected: list[Any]
) -> tuple[int, str] | None:
    """(index, message) of the first input whose output is wrong, or ``None``."""
    cmp = Comparator(dataset, entry_point, atol)
    for i, (inp, out, exp) in enumerate(zip(inputs, outputs, expected, strict=True)):
        if not cmp.matches(inp, out, exp):
            return i, f"input {short_repr(inp)}: expected {short_repr(exp)}, got {short_repr(out)}"
    return None
