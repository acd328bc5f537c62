"""Locating boxed answers (analysis.answers)."""

from __future__ import annotations

import pytest

from analysis.answers import boxed_spans, last_boxed, top_level_boxed_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so $\boxed{5}$.", "5"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\fbox{7}", "7"),
        (r"\boxed {42}", "42"),  # whitespace before the brace
        (r"answer: \boxed 5.", "5"),  # no braces: the next token
        (r"\boxed{\boxed{3}}", r"\boxed{3}"),  # the outer box is the top-level one
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces are balanced pairs
        (r"\boxed{}", ""),
    ],
)
def test_last_boxed(text: str, expected: str) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize("text", [None, "", "no box here", r"\boxed{unclosed", r"\boxed"])
def test_no_complete_box(text: str | None) -> None:
    assert last_boxed(text) is None


def test_an_unclosed_last_box_falls_back_to_the_previous_complete_one() -> None:
    assert last_boxed(r"\boxed{1} and then \boxed{2") == "1"


def test_nested_spans_come_after_their_container() -> None:
    text = r"\boxed{a \boxed{b}} \boxed{c}"
    spans = boxed_spans(text)
    assert [text[s:e] for s, e in spans] == [r"a \boxed{b}", "b", "c"]
    assert [text[s:e] for s, e in top_level_boxed_spans(text)] == [r"a \boxed{b}", "c"]


def test_boxedx_is_not_a_box_command() -> None:
    assert last_boxed(r"\boxedx{1}") is None


@pytest.mark.timeout(30)
def test_a_megabyte_of_unclosed_boxes_is_handled_in_linear_time() -> None:
    # A brace counter restarted at every box would do ~10^10 steps here and never finish.
    text = r"\boxed{" * 150_000
    assert last_boxed(text) is None
    assert last_boxed(text + r"\boxed{9}") == "9"
