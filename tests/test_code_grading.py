"""Code grading rules: EvalPlus comparisons and oracles, MBPP+ inputs, LiveCodeBench rules,
answer extraction, the value encoding, and reference solutions of the real benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.code import evalplus_rules as ep
from analysis.code import livecodebench_rules as lcb
from analysis.code.extract import extract_code
from analysis.code.grade import CodeGrader
from analysis.code.loaders import CodeTask, load_tasks
from analysis.code.values import Digest, Opaque, decode, digest_value, encode

CODE_DIR = Path(os.environ.get("RLVR_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks" / "code"


@pytest.fixture(scope="module")
def code_dir() -> Path:
    if not (CODE_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the code benchmark files are not at {CODE_DIR} (set RLVR_SHARED to their parent)")
    return CODE_DIR


@pytest.fixture(scope="module")
def grader():
    with CodeGrader(workers=1) as g:
        yield g


# ---- values ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [None, True, 3, 2**80, -(2**200), 1.5, float("inf"), "é", [1, [2, (3, 4)]], {1, 2}, frozenset({"a"}),
     {"k": (1, 2), 3: [None]}, 1 + 2j, b"\x00\xff", [1, 2.5, "x", None, True]],
)  # fmt: skip
def test_values_round_trip(value: object) -> None:
    assert decode(encode(value)) == value
    assert type(decode(encode(value))) is type(value)


def test_foreign_objects_never_compare_equal() -> None:
    class Sneaky:
        def __eq__(self, other: object) -> bool:
            return True

    out = decode(encode(Sneaky()))
    assert isinstance(out, Opaque)
    assert out != out
    assert out != 1


def test_equal_sets_and_dicts_hash_alike() -> None:
    a, b = set(range(100)), set(range(100))
    assert digest_value(a) == digest_value(b)
    assert Digest(digest_value({"x": 1, "y": 2})) == {"y": 2, "x": 1}
    assert Digest(digest_value([1, 2])) != [2, 1]
    assert Digest(digest_value([1, 2])) != (1, 2)
    assert Digest(digest_value([(1, "a")] * 3)) == [(1, "a")] * 3


class _Text(str):
    pass


_BIG = 3000  # over one digest slice (values.DIGEST_SLICE), so the bulk encodings are used


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (list(range(_BIG)), [float(i) for i in range(_BIG)]),  # ints are not floats
        ([1, *range(_BIG)], [1.0, *range(_BIG)]),  # ... also among ints and floats
        ([True] * _BIG, [1] * _BIG),  # bools are not ints
        ([2**53] + [0] * _BIG, [2**53 + 1] + [0] * _BIG),  # big ints beyond a double
        (["ab", "c"] * _BIG, ["a", "bc"] * _BIG),  # where one string ends
        (["a\x00b", "c"] * _BIG, ["a", "b\x00c"] * _BIG),  # the join's separator inside a string
        ([("ab", "c")] * _BIG, [("a", "bc")] * _BIG),
        ([("a",), ("b", "c")] * _BIG, [("a", "b"), ("c",)] * _BIG),  # where one row ends
        ([(1, 2)] * _BIG, [[1, 2]] * _BIG),  # tuple rows are not list rows
        ([(1, "x")] * _BIG, [(1.0, "x")] * _BIG),  # rows of mixed scalars keep their types
        ([(1, (2,))] * _BIG, [(1, [2])] * _BIG),
        (["\ud83d\ude00"], ["\U0001f600"]),  # a surrogate pair is not the character it stands for
        ([[], []], [[]]),
        ([], ()),
    ],
)
def test_digests_tell_different_values_apart(a: object, b: object) -> None:
    assert digest_value(a) != digest_value(b)
    assert Digest(digest_value(a)) == a
    assert Digest(digest_value(b)) != a


def test_digests_of_equal_values_agree_whatever_the_objects() -> None:
    from collections import namedtuple

    pair = namedtuple("pair", "x y")
    floats = [i / 7 for i in range(_BIG)]
    assert digest_value(floats) == digest_value([float(repr(x)) for x in floats])  # other objects, same values
    assert digest_value([pair(1, "a")] * _BIG) == digest_value([(1, "a")] * _BIG)  # as encode: a tuple
    assert digest_value(pair(1, "a")) == digest_value((1, "a"))
    assert digest_value([_Text("ab"), "c"] * _BIG) == digest_value(["ab", "c"] * _BIG)  # a str subclass is its text
    assert digest_value(_Text("x" * 10)) == digest_value("x" * 10)
    assert digest_value([float("nan")] * _BIG) == digest_value([float("nan")] * _BIG)  # as the encoding: "nan"
    mixed = [1, "a", None, 2.5, [1, {2: 3}]] * _BIG
    assert digest_value(mixed) == digest_value([1, "a", None, 2.5, [1, {2: 3}]] * _BIG)


# ---- EvalPlus rules -------------------------------------------------------------------------
def test_float_tolerance_and_its_persistence() -> None:
    cmp = ep.Comparator("humaneval", "f", 0.0)
    assert cmp.matches([], 1.0 + 1e-7, 1.0)  # atol 0 -> 1e-6 for floats
    assert not cmp.matches([], 1.1, 1.0)
    assert cmp.matches([], 5, 5)
    assert not ep.Comparator("humaneval", "f", 0.0).matches([], 1, 1.0 + 1e-3)
    assert not ep.Comparator("humaneval", "f", 1e-6).matches([], [1.0], [1.0, 2.0])  # lengths must agree
    assert not ep.Comparator("humaneval", "f", 1e-6).matches([], (1.0,), [1.0])  # types must agree


def test_find_zero_oracle_passes_any_root() -> None:
    cmp = ep.Comparator("humaneval", "find_zero", 1e-4)
    assert cmp.matches([[-6, 11, -6, 1]], 1.0, 3.0)  # a different root of (x-1)(x-2)(x-3)
    assert not cmp.matches([[-6, 11, -6, 1]], 1.5, 3.0)


def test_mbpp_special_oracles() -> None:
    assert ep.Comparator("mbpp", "similar_elements", 0).matches([], (4, 5), (5, 4))
    assert ep.Comparator("mbpp", "check_str", 0).matches([], "match", True)
    assert not ep.Comparator("mbpp", "check_str", 0).matches([], None, True)
    assert ep.Comparator("mbpp", "are_equivalent", 0).matches([], False, True)
    assert ep.Comparator("mbpp", "sum_div", 0).matches([], 0, 7)
    assert ep.Comparator("mbpp", "digit_distance_nums", 0).matches([123, 256], 7, 99)
    assert not ep.Comparator("mbpp", "digit_distance_nums", 0).matches([123, 256], 8, 99)


def test_mbpp_input_conversion() -> None:
    assert ep.mbpp_deserialize_inputs("Mbpp/2", [[[3, 4], [5, 6]]]) == [[(3, 4), (5, 6)]]
    assert ep.mbpp_deserialize_inputs("Mbpp/252", [["1j"]]) == [[1j]]
    assert ep.mbpp_deserialize_inputs("Mbpp/115", [[[[1], []]]]) == [[[{1}, {}]]]
    assert ep.mbpp_deserialize_inputs("Mbpp/580", [[[1, [2, 3]], 4]]) == [((1, (2, 3)), 4)]
    assert ep.mbpp_deserialize_inputs("Mbpp/3", [[1]]) == [[1]]


def test_time_limits_follow_evalplus() -> None:
    assert ep.time_limits([0.01, 0.5]) == [1.0, 2.0]
    assert ep.run_budget([1.0] * 100) == 61.0


# ---- LiveCodeBench rules --------------------------------------------------------------------
def test_stdio_comparison() -> None:
    assert lcb.stdio_mismatch("1 2\n3\n", "1 2\n3") is None
    assert lcb.stdio_mismatch("  1 2  \n 3 ", "1 2\n3\n\n") is None
    assert lcb.stdio_mismatch("0.50", "0.5") is None  # equal as decimals
    assert lcb.stdio_mismatch("1\n2", "1 2") is not None
    assert lcb.stdio_mismatch("Yes", "No") is not None
    assert lcb.stdio_mismatch("50000000000000001", "50000000000000000") is not None


def test_call_comparison() -> None:
    assert lcb.call_mismatch((1, 2), [1, 2]) is None
    assert lcb.call_mismatch([1, 2], [2, 1]) is not None


def test_livecodebench_programs(grader: CodeGrader) -> None:
    stdin_task = CodeTask(
        "livecodebench_v5", "abc_x", "stdin", "", ["3\n1 2 3\n", "1\n5\n"], 2, ["6", "5"], dataset="livecodebench"
    )
    good = "n = int(input())\nprint(sum(map(int, input().split())))\n"
    assert grader.grade(stdin_task, good).passed
    buffered = (
        "import sys\ndata = sys.stdin.buffer.read().split()\nsys.stdout.write(str(sum(map(int, data[1:]))) + '\\n')\n"
    )
    assert grader.grade(stdin_task, buffered).passed
    exits = "n = int(input())\nprint(sum(map(int, input().split())))\nexit(0)\n"
    assert grader.grade(stdin_task, exits).passed  # SystemExit ends a test normally (LiveCodeBench)
    wrong = grader.grade(stdin_task, "input()\nprint(0)\n")
    assert wrong.outcome == "failed"
    assert wrong.test == 0
    method_task = CodeTask(
        "livecodebench_v5", "3000", "method", "twoSum", [[[2, 7, 11], 9], [[3, 3], 6]], 1, [[0, 1], [0, 1]],
        dataset="livecodebench",
    )  # fmt: skip
    solution = (
        "class Solution:\n"
        "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"  # List from the prelude
        "        seen = {}\n"
        "        for i, x in enumerate(nums):\n"
        "            if target - x in seen:\n"
        "                return (seen[target - x], i)\n"
        "            seen[x] = i\n"
    )
    assert grader.grade(method_task, solution).passed
    slow = grader.grade(
        method_task, "class Solution:\n    def twoSum(self, a, t):\n        while True:\n            pass\n"
    )
    assert slow.outcome == "timeout"


# ---- extraction -----------------------------------------------------------------------------
def test_extraction() -> None:
    assert extract_code("def f():\n    return 1\n```\nDone.", prefilled=True) == "def f():\n    return 1"
    two = "Idea:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\n```\n"
    assert extract_code(two) == "x = 2"
    assert extract_code("<think>use ```python\nx = 0\n```</think>\n```python\nprint(1)\n```") == "print(1)"
    assert extract_code("```python\ndef f():\n    return 3") == "def f():\n    return 3"  # cut by the token limit
    assert extract_code("def f():\n    return 4\n") == "def f():\n    return 4"  # bare code
    assert extract_code("```python\n```") is None
    assert extract_code("   ") is None
    assert extract_code(None) is None


# ---- the real benchmarks: reference solutions -----------------------------------------------
@pytest.mark.shared
@pytest.mark.slow
def test_humaneval_reference_solutions_pass_including_find_zero(code_dir: Path, grader: CodeGrader) -> None:
    tasks = load_tasks("humanevalplus", code_dir)
    assert len(tasks) == 164
    chosen = ["HumanEval/32", "HumanEval/2", "HumanEval/4", "HumanEval/0", "HumanEval/100", "HumanEval/163"]
    for tid in chosen:
        v = grader.grade(tasks[tid], tasks[tid].canonical)
        assert v.passed, (tid, v)
    # the oracle is |poly(xs, x)| <= 1e-4, not equality with the canonical root: a root found by
    # another method is judged by the same rule (EvalPlus's; with its large plus coefficients even
    # a float-exact bisection root can miss 1e-4, so only the wrong answer is asserted here)
    assert not grader.grade(tasks["HumanEval/32"], "def find_zero(xs):\n    return 0.123\n").passed


@pytest.mark.shared
@pytest.mark.slow
def test_mbpp_reference_solutions_with_converted_inputs(code_dir: Path, grader: CodeGrader) -> None:
    tasks = load_tasks("mbppplus", code_dir)
    assert len(tasks) == 378
    assert tasks["Mbpp/793"].n_base == len(tasks["Mbpp/793"].inputs)  # plus_input {} -> none
    for tid in [
        "Mbpp/2",
        "Mbpp/124",
        "Mbpp/252",
        "Mbpp/580",
        "Mbpp/581",
        "Mbpp/558",
        "Mbpp/793",
        "Mbpp/120",
        "Mbpp/88",
        "Mbpp/737",
        "Mbpp/787",
    ]:
        v = grader.grade(tasks[tid], tasks[tid].canonical)
        assert v.passed, (tid, v)
    wrong = grader.grade(tasks["Mbpp/2"], "def similar_elements(a, b):\n    return (1,)\n")
    assert wrong.outcome == "failed"
    assert wrong.base_passed is False
