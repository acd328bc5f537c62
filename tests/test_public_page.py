"""The real-model chapter: the committed public MATH500 counts through the findings code."""

from __future__ import annotations

import polars as pl
import pytest

from analysis import pages
from analysis.pages.public import public_counts


def test_public_counts_reproduce_the_published_figures():
    counts = public_counts()
    at_128 = counts.group_by("model").agg(((pl.col("c") > 0).mean()).alias("solved"))
    solved = dict(zip(at_128["model"], at_128["solved"], strict=True))
    assert solved["qwen2.5-7b"] == pytest.approx(0.962)
    assert solved["simplerl-zoo-7b"] == pytest.approx(0.930)


def test_public_page_states_the_outcome_with_its_grader():
    page = pages.public_math500_page(n_resamples=200)
    assert page.split.row(0) == (462, 19, 3, 16)
    assert page.findings["outcome"].to_list() == ["sharpening"]
    text = page.answer.data
    assert "official evaluator" in text
    assert "sharpening (the paper's pattern) in 1 of 1" in text
    assert "3 of 500" in text
