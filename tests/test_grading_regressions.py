"""Known false positives and negatives reported against math-verify, as regression cases.

Each case: the gold answer, the model's boxed answer, the verdict this project gives in the
``strict`` and ``paper`` modes, whether that verdict is the mathematically right one, and why.
Issues: https://github.com/huggingface/Math-Verify/issues/<n> (ANCHORS.md section 1.3). A case
whose verdict is wrong stays here on purpose: it documents a limitation, and the test fails
the day a library upgrade changes it, so the table gets re-read.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from analysis.grading import grade_math


@dataclass(frozen=True)
class Case:
    issue: str
    gold: str
    answer: str
    strict: bool
    paper: bool
    truth: bool  # the mathematically right verdict
    why: str


CASES = [
    # #14: tiny values and equations whose right-hand sides differ
    Case(
        "14",
        r"\frac{1}{2004!}",
        r"\frac{1}{2006!}",
        False,
        True,
        False,
        "strict: math-verify rounds to 6 decimals and says equal; this project re-checks plain numbers "
        "relatively with 30-digit sympy Floats. paper: the official numeric check converts to float, "
        "both underflow to 0.0 and compare equal (reproduced on purpose).",
    ),
    Case(
        "14",
        r"\frac{1}{2^{99}}",
        r"\frac{1}{2^{98}}",
        False,
        False,
        False,
        "exact rationals differ; the relative re-check and sympy agree",
    ),
    Case("14", "n=2, 3, 4", "n=1, 2, 3", False, False, False, "the sets of values differ"),
    Case("14", "D = (0, 1)", "D = (0, 1.5)", False, False, False, "right-hand sides differ"),
    Case(
        "14",
        r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}",
        r"F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}",
        False,
        False,
        False,
        "right-hand sides differ",
    ),
    Case("14", r"19, 46, \text{ and } 82", "21, 36, and 82", False, False, False, "two of three numbers differ"),
    Case(
        "14",
        r"\frac{2^{2005}+1}{3 \cdot 2^{2006}}",
        r"\frac{1}{3 \cdot 2^{2006}}",
        False,
        False,
        False,
        "differ by 1/3 relative",
    ),
    Case(
        "14",
        r"1 - \frac{1}{\mathrm{e}}",
        r"1 + \frac{1}{\mathrm{e}}",
        False,
        False,
        False,
        "strict parses the box as a whole (first match only), so no fragment such as '1' is compared",
    ),
    Case("14", r"\pm 2021", "2021", False, False, False, "one of the two signs is missing"),
    Case(
        "14",
        "12:00",
        "1:00",
        False,
        False,
        False,
        "a:b is read as a ratio; paper: sympy's LaTeX parser (the official first parser) keeps 12/0 and "
        "1/0 unevaluated, so no comparison calls them equal (paper rules 2: before, a different parser "
        "made both zoo and accepted)",
    ),
    Case(
        "14",
        r"1, 2, \ldots, n",
        r"1, 3, 5, \ldots, 2n-1",
        False,
        True,
        False,
        "different sequences; paper: the official LaTeX parser reads a list up to its first comma, so "
        "both read as 1 (the official grader's known list leniency)",
    ),
    Case("14", r"1:2:3:\ldots", r"1:4:9:\ldots", False, False, False, "different sequences"),
    # #26: equivalent linear equations
    Case(
        "26",
        "2x+4y-3=0",
        r"y = -\frac{1}{2}x + \frac{3}{4}",
        True,
        False,
        True,
        "strict: math-verify compares the equations' solution sets; paper: the answer's short left side 'y' "
        "is dropped and a bare expression is not an equation",
    ),
    # #64: sqrt of a quotient, and a quantified statement
    Case(
        "64",
        r"\sqrt{1/n}",
        r"\frac{1}{\sqrt{n}}",
        False,
        False,
        True,
        "false negative in both: sympy does not assume n > 0, and for negative n the two differ",
    ),
    Case(
        "64",
        "f(x) = 0",
        r"\forall x>0, f(x) = 0",
        False,
        False,
        False,
        "strict parses the whole box; the quantifier makes it a different statement",
    ),
    # #69: plain-text (code) notation inside the box against a LaTeX gold
    Case(
        "69",
        "e^{16} - 1",
        "-1 + exp(16)",
        False,
        False,
        True,
        "false negative: the LaTeX parser reads 'exp' as the product e*x*p; the paper's prompts ask for LaTeX",
    ),
    Case(
        "69",
        r"\dfrac{\pi}{2}",
        "pi/2",
        False,
        False,
        True,
        "false negative: 'pi' in plain text is the product p*i, not the constant",
    ),
    Case(
        "69",
        "14 - i",
        "14.0 + -1.0i",
        False,
        True,
        True,
        "strict: both parse with 'i' as a variable, but the answer's 'i' is assumed real and the gold's "
        "is not (math-verify's complex-number detection), so sympy keeps them apart; paper: equal numerically",
    ),
    Case("69", r"O(\log \log n)", r"Theta(log log n)", False, False, False, "a different statement"),
    Case("69", r"-2\pi", "-2*pi", False, False, True, "false negative: plain-text 'pi' again"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"#{c.issue}:{c.answer}" for c in CASES])
def test_math_verify_issue_cases(case: Case) -> None:
    response = f"So the final answer is $\\boxed{{{case.answer}}}$."
    strict = grade_math(response, case.gold, "strict")
    paper = grade_math(response, case.gold, "paper")
    assert (strict.correct, paper.correct) == (case.strict, case.paper), case.why
    assert strict.status == paper.status == "ok"


def test_issue_76_markdown_bold_answer_without_a_box() -> None:
    # math-verify read "**73**" as "73**" and picked 234 from earlier working.
    response = (
        "Left: (x_D + x_G + x_S) + 2(y_DG + y_DS + y_GS) = 437 + 2*234 = 437 + 468 = 905\n\n"
        "Thus, the number of residents who own all four of the things is **73**.\n\n---\n\n"
        "✅ Final Answer: **73**"
    )
    strict = grade_math(response, "73", "strict")
    assert strict.correct
    assert strict.extracted == "73"
    assert grade_math(response, "73", "paper").correct  # the paper mode's last number is 73
    assert not grade_math(response, "234", "strict").correct


def test_strict_errs_on_the_side_of_truth_more_often_than_paper() -> None:
    right = {mode: sum(getattr(c, mode) == c.truth for c in CASES) for mode in ("strict", "paper")}
    assert right["strict"] >= right["paper"]
