"""Guess-level problems among those only one model of a pair solves (analysis.guess_level), and
how the findings stage and the answer report them."""

from __future__ import annotations

import polars as pl
import pytest
from scipy.stats import binom

from analysis.answer import recipe_sentence
from analysis.coverage_lists import GUESS_COLUMN, only_one_lists
from analysis.guess_level import BASE_ONLY, OTHER_ONLY, guess_rates, only_one_guess_level

N = 256
G = 1 / 199  # the toy world's 3-digit guessing rate (metrics.floor, "magnitude" prior)


def _counts(rows: list[tuple[str, str, int]], benchmark: str = "toyworld") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"model": m, "benchmark": benchmark, "temperature": 0.6, "problem_id": pid, "n": N, "c": c}
            for m, pid, c in rows
        ]
    )


def test_guess_rates_are_known_for_the_toy_world_only():
    rates = guess_rates("toyworld", ["toyworld/457+385", "toyworld/12+34"])
    assert rates == pytest.approx([G, 1 / 19])  # 3 digits, then 2 digits: 1 / (2·10^(d−1) − 1)
    assert guess_rates("math500", ["math500/1"]) is None
    assert guess_rates("toyworld", ["toyworld/457+385", "p15"]) is None  # not the toy world's ids


def test_only_one_guess_level_counts_the_solves_guessing_explains():
    # the largest count a guesser reaches with probability at least 5%: guess level up to there
    edge = max(c for c in range(1, 20) if binom.sf(c - 1, N, G) >= 0.05)
    counts = _counts(
        [
            ("base", "toyworld/101+101", 1),  # only the base, at guess level
            ("rl", "toyworld/101+101", 0),
            ("base", "toyworld/102+101", edge),  # only the base, still at guess level
            ("rl", "toyworld/102+101", 0),
            ("base", "toyworld/103+101", edge + 1),  # only the base, above guessing
            ("rl", "toyworld/103+101", 0),
            ("base", "toyworld/104+101", 0),  # only rl, above guessing
            ("rl", "toyworld/104+101", 200),
            ("base", "toyworld/105+101", 1),  # both: not counted
            ("rl", "toyworld/105+101", 1),
        ]
    )
    row = only_one_guess_level(counts, [("base", "rl")]).row(0, named=True)
    assert (row["benchmark"], row["base"], row["other"]) == ("toyworld", "base", "rl")
    assert row[BASE_ONLY] == 2
    assert row[OTHER_ONLY] == 0


def test_only_one_guess_level_is_null_without_a_guessing_rate_and_skips_absent_models():
    counts = _counts([("base", "math500/1", 1), ("rl", "math500/1", 0)], benchmark="math500")
    table = only_one_guess_level(counts, [("base", "rl"), ("base", "absent")])
    assert table.height == 1
    assert table.row(0, named=True)[BASE_ONLY] is None
    assert only_one_guess_level(counts.head(0), [("base", "rl")]).columns == [
        "benchmark", "temperature", "base", "other", BASE_ONLY, OTHER_ONLY,
    ]  # fmt: skip


def _row(other: str, lost: int, guessed: int | None) -> dict:
    return {
        "other": other, "outcome": "sharpening", "n": N, "problems": 200, "Δ pass@1": 0.13, "Δ pass@n": -0.2,
        "other only": 0, "base only": lost, BASE_ONLY: guessed, OTHER_ONLY: None if guessed is None else 0,
    }  # fmt: skip


def test_the_answer_says_how_many_base_only_problems_are_at_guess_level():
    text = recipe_sentence("easy RL", ["a0", "a1"], [_row("a0", 43, 16), _row("a1", 39, 15)], "rl")
    assert "only by the base: 39 to 43 (15 to 16 of them at guess level" in text
    assert "the base's correct count is within what a guesser who knows the sum's size would plausibly get" in text
    assert "24 to 27 solved more often than that" in text
    assert "only by the model: 0 of 200," in text  # no guess-level note where the model adds nothing


def test_the_answer_says_nothing_of_guessing_where_it_has_no_count_or_none_are_guess_level():
    for guessed in (None, 0):
        text = recipe_sentence("easy RL", ["a0"], [_row("a0", 43, guessed)], "rl")
        assert text.endswith("only by the base: 43.")
    missing = {k: v for k, v in _row("a0", 43, 16).items() if k not in (BASE_ONLY, OTHER_ONLY)}
    assert recipe_sentence("easy RL", ["a0"], [missing], "rl").endswith("only by the base: 43.")


def test_the_coverage_lists_mark_the_problems_at_guess_level():
    counts = _counts(
        [
            ("base", "toyworld/101+101", 1),
            ("rl", "toyworld/101+101", 0),
            ("base", "toyworld/103+101", 40),
            ("rl", "toyworld/103+101", 0),
            ("base", "toyworld/104+101", 0),
            ("rl", "toyworld/104+101", 2),
        ]
    )
    lists = only_one_lists(counts, [("base", "rl")])
    flags = dict(zip(lists["problem_id"], lists[GUESS_COLUMN], strict=True))
    # the solver's count decides: the base's 1 and rl's 2 of 256 are guess level, the base's 40 is not
    assert flags == {"toyworld/101+101": True, "toyworld/103+101": False, "toyworld/104+101": True}
    math = only_one_lists(_counts([("base", "m/1", 1), ("rl", "m/1", 0)], benchmark="math500"), [("base", "rl")])
    assert math[GUESS_COLUMN].to_list() == [None]
