"""The one-sentence readings of the histogram and perplexity pages follow from the numbers."""

from __future__ import annotations

import polars as pl

from analysis import metrics as M
from analysis.pages.distribution import histogram_reading
from analysis.pages.perplexity import perplexity_reading

KEY = {"benchmark": "b", "temperature": 0.6}


def _hist(per_model: dict[str, list[int]]) -> pl.DataFrame:
    """accuracy_histogram of problems with the given correct counts out of 10."""
    counts = pl.DataFrame(
        [
            {"model": m, "benchmark": "b", "temperature": 0.6, "problem_id": f"p{i}", "n": 10, "c": c}
            for m, cs in per_model.items()
            for i, c in enumerate(cs)
        ]
    )
    return M.accuracy_histogram(counts, by=("model", "benchmark", "temperature"))


def test_the_histogram_reading_counts_both_ends_and_names_the_paper_pattern():
    hist = _hist({"base": [0, 3, 5, 10], "rl": [0, 0, 10, 10]})
    text = histogram_reading(hist, KEY, "base", "rl")
    assert text.startswith("rl (b at T = 0.6): 2 problems always solved (base 1), 2 never solved (base 1), 0 in")
    assert text.endswith("more at both ends than the base, the paper's pattern.")


def test_the_histogram_reading_says_when_it_is_not_the_paper_pattern():
    more_solved = histogram_reading(_hist({"base": [0, 3, 5, 10], "rl": [3, 4, 10, 10]}), KEY, "base", "rl")
    assert "0 never solved (base 1)" in more_solved
    assert more_solved.endswith("no more never solved than the base, so not the paper's pattern.")
    fewer = histogram_reading(_hist({"base": [10, 10, 0, 5], "rl": [0, 0, 10, 5]}), KEY, "base", "rl")
    assert fewer.endswith("no more always solved than the base, so not the paper's pattern.")


def _scores(base_own: list[float], model: list[float]) -> pl.DataFrame:
    rows = [{"benchmark": "b", "scorer": "base", "generator": "base", "ppl": p} for p in base_own]
    rows += [{"benchmark": "b", "scorer": "base", "generator": "rl", "ppl": p} for p in model]
    rows += [{"benchmark": "b", "scorer": "rl", "generator": "rl", "ppl": 9.0}]  # another scorer: ignored
    return pl.DataFrame(rows)


def test_the_perplexity_reading_places_the_median_in_the_base_distribution():
    low = perplexity_reading(_scores([1.0, 1.2, 1.4, 1.6, 1.8], [1.1, 1.2, 1.3]), "b", "base", "rl")
    assert "median perplexity is 1.200, the base's own 1.400 (ratio 0.857)" in low
    assert "40% of the base's own responses have a perplexity at or below that median" in low
    assert low.endswith("lies in the lower half of the base's own.")
    high = perplexity_reading(_scores([1.0, 1.2, 1.4, 1.6, 1.8], [1.7, 1.7, 2.0]), "b", "base", "rl")
    assert "80% of the base's own" in high
    assert high.endswith("upper half of the base's own.")
