"""One response at a time: the strict and paper graders, the dispatcher and versions."""

from __future__ import annotations

import pytest

from analysis.grading import GradeResult, grade_exact, grade_math, grade_response, grader_version
from analysis.grading.paper import extract_paper_answer, math_equal, normalize_answer
from analysis.grading.strict import final_boxed_answer


def box(answer: str, prefix: str = "Some work first.\nThe final answer is ") -> str:
    return f"{prefix}$\\boxed{{{answer}}}$."


# --- strict -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        (box(r"\frac{1}{2}"), "0.5"),
        (box("0.5"), r"\frac{1}{2}"),
        (box(r"\dfrac{14}{3}"), r"\frac{14}{3}"),
        (box("(x+1)^2"), "x^2+2x+1"),
        (box(r"90^\circ"), "90"),
        (box(r"10 \text{ cm}"), "10"),
        (box(r"\left( 3, \frac{\pi}{2} \right)"), r"\left( 3, \frac{\pi}{2} \right)"),
        (box("25"), "025"),  # AIME's zero-padded answers
        (box(r"4.5 \times 10^{33}"), "4.5e33"),  # Minerva's scientific notation
        (box("4.5e33"), "4.5e33"),
        (r"\boxed{7} was a guess; no, the answer is \boxed{8}", "8"),  # the last box counts
    ],
)
def test_strict_accepts_equivalent_answers(response: str, gold: str) -> None:
    result = grade_math(response, gold, "strict")
    assert result == GradeResult(True, result.extracted, "ok", "strict")


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        (box("3"), "4"),
        (box(r"\frac{1}{3}"), "0.33"),
        (box("2.88e-19"), "3.88e-19"),  # tiny numbers: math-verify's 6-decimal rounding is not enough
        (box(r"\frac{2}{3} E_{1}+\frac{2}{3} E_{2}"), r"\frac{1}{3} E_{1}+\frac{2}{3} E_{2}"),  # no fragment
        (r"\boxed{8} was a guess; no, the answer is \boxed{7}", "8"),
    ],
)
def test_strict_rejects_different_answers(response: str, gold: str) -> None:
    result = grade_math(response, gold, "strict")
    assert result.status == "ok"
    assert not result.correct


def test_strict_extracts_the_box_content() -> None:
    assert grade_math(box(r"\frac{1}{2}"), "1/2").extracted == r"\frac{1}{2}"


def test_strict_without_a_box_needs_an_answer_phrase() -> None:
    result = grade_math("We add them and get 12. Final answer: **12**", "12", "strict")
    assert result.correct
    assert result.extracted == "12"
    assert grade_math("Therefore the answer is $x=3$.", "3", "strict").correct
    assert grade_math("I think it is 42", "42", "strict").status == "no_answer"


@pytest.mark.parametrize("response", [None, "", "   \n", r"\boxed{}", "words only, no maths"])
def test_strict_no_answer(response: str | None) -> None:
    result = grade_math(response, "3", "strict")
    assert result == GradeResult(False, result.extracted, "no_answer", "strict")


def test_gold_may_be_a_list_of_accepted_answers() -> None:
    assert grade_math(box("6"), ["5", "6"], "strict").correct
    assert grade_math(box("6"), ["5", "6"], "paper").correct
    assert not grade_math(box("7"), ["5", "6"], "strict").correct


# --- multi-answer problems (OlympiadBench is_multiple_answer) ------------------------------------


def test_joined_final_boxes_form_one_answer() -> None:
    assert final_boxed_answer(r"so $\boxed{1}$, $\boxed{3}$ and $\boxed{5}$.") == "1, 3, 5"
    assert final_boxed_answer(r"$x=\boxed{2}$. Then we find \boxed{5}") == "5"  # words between: not joined
    assert final_boxed_answer(r"\boxed{5} \boxed{5}") == "5"  # no separator: only the last
    assert final_boxed_answer(r"\boxed{5}, \boxed{5}") == "5"  # a repeat is one answer


@pytest.mark.parametrize(
    ("response", "strict", "paper"),
    [
        (box("1,3,5"), True, True),
        (box("5, 3, 1"), True, False),  # strict: a set; paper: in order
        (r"We get $\boxed{1}$, $\boxed{3}$ and $\boxed{5}$.", True, False),  # paper reads the last box
        (box("1,3"), False, False),  # a missing answer
        (box("1,3,5,7"), False, False),  # an extra answer
    ],
)
def test_multi_answer_lists(response: str, strict: bool, paper: bool) -> None:
    assert grade_math(response, "1,3,5", "strict").correct is strict
    assert grade_math(response, "1,3,5", "paper").correct is paper


def test_multi_answer_tuples_keep_their_inner_order() -> None:
    gold = "(1,8,19), (2,7,13)"
    assert grade_math(box("(2,7,13), (1,8,19)"), gold, "strict").correct
    assert not grade_math(box("(8,1,19), (2,7,13)"), gold, "strict").correct
    assert grade_math(box("(1,8,19), (2,7,13)"), gold, "paper").correct
    assert not grade_math(box("(2,7,13), (1,8,19)"), gold, "paper").correct


# --- paper ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the final answer is $12$. I hope it is correct.", "12"),  # Minerva's pattern first
        (r"the answer is 3, or rather \boxed{4}", "4"),  # then the last box
        ("Therefore, the answer is 17.", "17"),  # then "he answer is"
        ("My final answer is 9", "9"),
        ("所以答案是 6", "6"),
        ("We get 3 apples, then 1,250 more, so 1250 total.", "1250"),  # then the last number
        ("no numbers at all", ""),  # the official prediction is the empty string
        (None, None),
    ],
)
def test_paper_extraction_order(text: str | None, expected: str | None) -> None:
    assert extract_paper_answer(text) == expected


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\frac12", r"\frac{1}{2}"),
        (r"\sqrt3", r"\sqrt{3}"),
        (r"10 \text{ cm}", "10"),
        (r"90^\circ", "90"),
        (r"50\%", "50"),
        (r"\$5.00", "5"),  # trailing zeros of a number are dropped
        ("x = 3", "3"),
        (r"\left( 1, 2 \right)", "(1,2)"),
        ("1,000", "1,000"),  # commas are deleted only by the numeric comparison
        ("3/4", r"\frac{3}{4}"),
        (".5", "0.5"),
    ],
)
def test_paper_normalization(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


@pytest.mark.parametrize(
    ("pred", "ref", "equal"),
    [
        ("0.5", "50", True),  # percentage leniency: ref / 100
        ("5000", "50", True),  # and ref * 100
        ("10001", "10000", True),  # relative tolerance 1e-4
        ("1001", "1000", False),
        ("C", "C", True),
        ("The answer is (C)", "C", True),  # multiple choice
        ("[1,2]", "(1,2)", True),  # intervals: open and closed ends not told apart (official behaviour)
        ("(2,1)", "(1,2)", False),
        (r"\frac{1}{2}", "0.5", True),  # symbolic / numeric
        ("x^2+2x+1", "(x+1)^2", True),  # simplify
        ("y=2x+1", "2x-y+1=0", True),  # equations up to sign
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}1\\2.0\end{pmatrix}", True),
        ("east", "west", False),
    ],
)
def test_paper_math_equal(pred: str, ref: str, equal: bool) -> None:
    assert math_equal(pred, ref) is equal


def test_paper_last_number_fallback_scores_unformatted_output() -> None:
    # The paper's caveat: a base model's unformatted output can score by its last number.
    assert grade_math("Let me count: 1, 2, 3, ... I think it is 42", "42", "paper").correct
    assert not grade_math("Let me count: 1, 2, 3, ... I think it is 42", "42", "strict").correct


# --- dispatch and versions --------------------------------------------------------------------


def test_exact_mode_goes_through_the_same_entry_point() -> None:
    assert grade_response("Q:123+456= A:579", ["579"], "exact") == grade_exact("Q:123+456= A:579", "579")
    assert grade_response("A:12 A:13", "13", "exact").correct


def test_bad_mode_and_bad_response_type_are_named() -> None:
    with pytest.raises(ValueError, match="unknown grading mode 'lenient'"):
        grade_math("x", "1", "lenient")
    with pytest.raises(ValueError, match="unknown grading mode 'exact'"):
        grade_math("x", "1", "exact")  # grade_math is for math; exact goes through grade_response
    with pytest.raises(TypeError, match="got int"):
        grade_response(5, "5", "strict")  # type: ignore[arg-type]


def test_grader_versions_name_rules_and_libraries() -> None:
    assert grader_version("strict").startswith("strict-1+math-verify-")
    assert "sympy-" in grader_version("paper")
    assert grader_version("exact") == "exact-1"
