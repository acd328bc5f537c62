"""Golden tests on the paper's six benchmarks: every gold answer, boxed, grades correct.

For each benchmark, each gold answer written as ``\\boxed{<gold>}`` in a short response must be
graded correct (at least 99.5% per benchmark), and the same response with a different number
(the first run of digits in the answer plus one; ``+1`` appended when the answer has no digit)
must be graded incorrect. ``strict`` must reject at least 99.5% of those. ``paper`` (the official
evaluator's rules) accepts a changed number within its relative tolerance of 1e-4 (10001 for
10000) and the changed answers listed in ``PAPER_LENIENCIES`` with the official rule that accepts
each; every other changed answer must be rejected. Failures are listed in the assertion messages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.benchmarks import load_benchmark
from analysis.grading import GradeResult, GradingPool

BENCHMARKS = ["aime24", "amc23", "gsm8k", "math500", "minerva_math", "olympiadbench"]
THRESHOLD = 0.995

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def different_number(gold: str) -> tuple[str, int | None]:
    """The answer with its first run of digits increased by one, and that run's old value."""
    m = re.search(r"\d+", gold)
    if m is None:
        return gold + "+1", None
    return gold[: m.start()] + str(int(m.group()) + 1) + gold[m.end() :], int(m.group())


def response(answer: str) -> str:
    return f"Let us work it out step by step.\nThe final answer is $\\boxed{{{answer}}}$."


@pytest.fixture(scope="module")
def cases(benchmarks_dir: Path) -> list[dict]:
    out = []
    for name in BENCHMARKS:
        problems = load_benchmark(name, benchmarks_dir)
        for pid, gold in zip(problems["problem_id"], problems["gold"], strict=True):
            changed, run = different_number(gold[0])
            out.append({"benchmark": name, "problem_id": pid, "gold": tuple(gold), "changed": changed, "run": run})
    return out


@pytest.fixture(scope="module")
def verdicts(cases: list[dict]) -> dict[str, tuple[list[GradeResult], list[GradeResult]]]:
    items_right = [(response(c["gold"][0]), c["gold"], c["benchmark"]) for c in cases]
    items_wrong = [(response(c["changed"]), c["gold"], c["benchmark"]) for c in cases]
    out = {}
    with GradingPool(workers=2, deadline_s=5.0) as pool:
        for mode in ("strict", "paper"):
            results = pool.grade(items_right + items_wrong, mode)
            out[mode] = (results[: len(cases)], results[len(cases) :])
    return out


def _rates(cases: list[dict], results: list[GradeResult], want: bool) -> dict[str, tuple[float, list[str]]]:
    out = {}
    for name in BENCHMARKS:
        rows = [(c, r) for c, r in zip(cases, results, strict=True) if c["benchmark"] == name]
        failures = [
            f"{c['problem_id']}: gold {c['gold'][0]!r}, answer {c['changed'] if not want else c['gold'][0]!r}, "
            f"verdict {r.correct} ({r.status})"
            for c, r in rows
            if r.correct is not want
        ]
        out[name] = (1 - len(failures) / len(rows), failures)
    return out


@pytest.mark.parametrize("mode", ["strict", "paper"])
def test_every_boxed_gold_answer_is_graded_correct(cases: list[dict], verdicts: dict, mode: str) -> None:
    rates = _rates(cases, verdicts[mode][0], want=True)
    for name, (rate, failures) in rates.items():
        print(f"{mode} {name}: boxed gold correct {rate:.4f}; failures: {failures}")
    low = {name: (rate, failures) for name, (rate, failures) in rates.items() if rate < THRESHOLD}
    assert not low, f"{mode}: below {THRESHOLD}: {low}"


def test_strict_rejects_a_different_number(cases: list[dict], verdicts: dict) -> None:
    rates = _rates(cases, verdicts["strict"][1], want=False)
    for name, (rate, failures) in rates.items():
        print(f"strict {name}: different number rejected {rate:.4f}; failures: {failures}")
    low = {name: (rate, failures) for name, (rate, failures) in rates.items() if rate < THRESHOLD}
    assert not low, f"strict: below {THRESHOLD}: {low}"


# Changed answers that the official evaluator's rules accept (paper rules 2 reproduce them), by
# problem: none is a number within the relative tolerance.
_FIRST_ITEM = "the official LaTeX parser reads a list only up to its first comma, and the first items agree"
_STRAY_PAREN = (
    "the tuple rule cuts the first and last character off both sides, and the LaTeX parser reads what is "
    "left only up to the stray ')'"
)
PAPER_LENIENCIES = {
    "math500/97": (
        "the gold \\text{east} normalises to the empty string (east is a unit word), and the official "
        "multiple-choice step reduces every prediction to its letters A-E: both empty"
    ),
    "math500/227": _STRAY_PAREN + ": (C)+1 and (C) both read as C",
    "math500/255": _STRAY_PAREN + ": (E)+1 and (E) both read as E",
    "math500/296": _STRAY_PAREN + ": (B)+1 and (B) both read as B",
    "minerva_math/5": "the LaTeX parser reads only the leading 'np' of np.arcsin(...) on both sides",
    "olympiadbench/1644": "m is a unit word and is deleted; the LaTeX parser reads n-\\lfloor/3\\rfloor only as n",
    "olympiadbench/1687": _FIRST_ITEM,
    "olympiadbench/1940": _FIRST_ITEM,
    "olympiadbench/1965": _FIRST_ITEM,
    "olympiadbench/2171": _FIRST_ITEM,
    "olympiadbench/2371": "g is a unit word and is deleted from g(x)=...; " + _STRAY_PAREN + ": both read as x",
}


def test_paper_rejects_a_different_number_outside_its_tolerance(cases: list[dict], verdicts: dict) -> None:
    # Official rules: a changed number is accepted within rel_tol 1e-4 (numbers >= 10^4), and where
    # the official evaluator's leniencies apply (PAPER_LENIENCIES); every other one is rejected.
    accepted = [(c, r) for c, r in zip(cases, verdicts["paper"][1], strict=True) if r.correct]
    within_tolerance = [c for c, _ in accepted if c["run"] is not None and c["run"] >= 10_000]
    others = {
        c["problem_id"]: f"{c['gold'][0]!r} vs {c['changed']!r}" for c, _ in accepted if c not in within_tolerance
    }
    print(f"paper: {len(within_tolerance)} changed answers accepted within rel_tol 1e-4 (numbers >= 10^4)")
    unexplained = {k: v for k, v in others.items() if k not in PAPER_LENIENCIES}
    assert not unexplained, f"paper accepted changed answers outside its tolerance: {unexplained}"
    rejected_now = sorted(set(PAPER_LENIENCIES) - set(others))
    assert not rejected_now, f"listed leniencies no longer accepted (update PAPER_LENIENCIES): {rejected_now}"
