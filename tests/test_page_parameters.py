"""What a reader may change in a page notebook (papermill parameters) reaches the page: the models
shown, the CI level and k of ΔSE; an unknown model name is a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis import pages
from analysis.study import Study

REPO = Path(__file__).resolve().parents[1]


class CountsStudy(Study):
    """The toy-mini study with a given counts table instead of graded samples."""

    def counts(self, mode: str = "primary") -> pl.DataFrame:
        return self.__dict__["_counts"]


def _study(counts: pl.DataFrame) -> CountsStudy:
    s = Study.load(REPO / "configs" / "toy-mini.yaml")
    study = CountsStudy(s.config, s.config_path)
    study.__dict__["_counts"] = counts
    return study


@pytest.fixture(scope="module")
def study() -> CountsStudy:
    rng = np.random.default_rng(0)
    rows = []
    for model, p in {"base": 0.3, "rl-easy-seed0": 0.5, "rl-indist": 0.6, "distill": 0.7}.items():
        for i in range(40):
            c = int(rng.binomial(16, p if i % 4 else 0.0))
            rows.append(
                {"model": model, "benchmark": "toyworld", "temperature": 1.0, "problem_id": f"p{i}", "n": 16, "c": c}
            )
    return _study(pl.DataFrame(rows))


def test_models_parameter_limits_histogram_and_coverage(study):
    hist = pages.histogram_page(study, models=["base", "rl-indist"])
    assert set(hist.table["model"]) == {"base", "rl-indist"}
    full = pages.histogram_page(study)
    assert set(full.table["model"]) == {"base", "rl-easy-seed0", "rl-indist", "distill"}
    cov = pages.coverage_page(study, models=["base", "rl-indist"])
    assert cov.splits.select("base", "other").rows() == [("base", "rl-indist")]
    assert set(cov.problem_lists["pair"].unique()) <= {"base vs rl-indist"} or cov.problem_lists.is_empty()


def test_delta_se_takes_ci_k_and_models(study):
    narrow = pages.delta_se_page(study, ci=0.5, k=4, models=["base", "distill"])
    wide = pages.delta_se_page(study, ci=0.99, k=4, models=["base", "distill"])
    assert narrow.table.select("base", "other").rows() == [("base", "distill")]
    n_row, w_row = narrow.table.row(0, named=True), wide.table.row(0, named=True)
    assert n_row["k"] == w_row["k"] == 4
    assert n_row["delta"] == pytest.approx(w_row["delta"])  # same point estimate, wider interval
    assert (w_row["hi"] - w_row["lo"]) > (n_row["hi"] - n_row["lo"])
    capped = pages.delta_se_page(study, k=10_000)
    assert set(capped.table["k"]) == {16}  # k is capped at n


def test_an_unknown_model_is_a_clear_error(study):
    with pytest.raises(ValueError, match=r"no model \['rl-typo'\]"):
        pages.histogram_page(study, models=["base", "rl-typo"])
