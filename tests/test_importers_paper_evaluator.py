"""The paper's evaluator output: seeds pooled as pass@k.py pools them, recorded scores kept, bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis import schemas
from analysis.importers import ImportFormatError, read_paper_evaluator

FIXTURE = Path(__file__).parent / "fixtures" / "imports" / "paper-evaluator"
FIXTURE_GLOB = str(FIXTURE / "*" / "eval_results" / "global_step_0" / "math500" / "test_*_seed*_t0.6_s0_e-1.jsonl")


def write_seed(folder: Path, seed: int, rows: list[dict], t: str = "0.6", prompt: str = "qwen-boxed") -> Path:
    """One seed file as math_eval.py --save_outputs names and writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"test_{prompt}_-1_seed{seed}_t{t}_s0_e-1.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def row(idx: int, codes: list[str], scores: list[bool]) -> dict:
    return {
        "idx": idx,
        "question": f"q{idx}",
        "gt_cot": "",
        "gt": "1",
        "code": codes,
        "pred": ["1" if s else "0" for s in scores],
        "report": [None] * len(codes),
        "finish_reason": ["stop"] * len(codes),
        "score": scores,
    }


def test_committed_fixture_pools_two_seeds_into_n_4():
    imp = read_paper_evaluator(FIXTURE_GLOB, model="base", benchmark="math500", temperature=0.6, seeds=[1, 2])
    assert imp.samples is not None
    assert imp.grades is not None
    schemas.check(imp.samples, "samples")
    schemas.check(imp.grades, "grades")
    assert imp.provenance["n"] == 4
    assert imp.provenance["stated"]["seeds"] == [1, 2]
    assert imp.provenance["stated"]["prompt"] == "qwen-boxed"
    # both seed files and the metrics file are recorded with their SHA-256
    assert len([f for f in imp.provenance["files"] if f["path"].endswith(".jsonl")]) == 2
    assert all(len(f["sha256"]) == 64 for f in imp.provenance["files"])
    assert set(imp.grades["grader"]) == {"official-recorded"}


def test_seeds_pool_in_ascending_order_with_offsets(tmp_path):
    # seed 7 is written first on disk but seed 3 comes first in the pool
    write_seed(tmp_path / "b", 7, [row(0, ["s7a", "s7b"], [False, True]), row(1, ["x", "y"], [True, True])])
    write_seed(tmp_path / "a", 3, [row(1, ["u", "v"], [False, False]), row(0, ["s3a", "s3b"], [True, False])])
    imp = read_paper_evaluator(str(tmp_path / "*" / "*.jsonl"), model="m", benchmark="math500", temperature=0.6)
    s = imp.samples.filter(pl.col("problem_id") == "math500/0").sort("sample_index")
    assert s["text"].to_list() == ["s3a", "s3b", "s7a", "s7b"]
    assert s["seed"].to_list() == [3, 3, 7, 7]
    g = imp.grades.filter(pl.col("problem_id") == "math500/0").sort("sample_index")
    assert g["correct"].to_list() == [True, False, False, True]
    assert imp.samples.height == 8


def test_missing_seed_is_an_error_not_a_smaller_n(tmp_path):
    write_seed(tmp_path, 1, [row(0, ["a"], [True])])
    write_seed(tmp_path, 2, [row(0, ["b"], [True])])
    with pytest.raises(ImportFormatError, match=r"missing: \[3\]"):
        read_paper_evaluator(tmp_path, model="m", benchmark="math500", temperature=0.6, seeds=[1, 2, 3])


def test_unequal_lists_are_refused(tmp_path):
    bad = row(0, ["a", "b"], [True, False])
    bad["score"] = [True]
    write_seed(tmp_path, 1, [bad])
    with pytest.raises(ImportFormatError, match="unequal length"):
        read_paper_evaluator(tmp_path, model="m", benchmark="math500", temperature=0.6)


def test_file_name_without_seed_is_refused(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps(row(0, ["a"], [True])) + "\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="seed and temperature come from it"):
        read_paper_evaluator(path, model="m", benchmark="math500", temperature=0.6)


def test_wrong_fields_and_wrong_temperature_and_uneven_seeds_are_refused(tmp_path):
    write_seed(tmp_path / "f", 1, [{"idx": 0, "responses": ["a"]}])
    with pytest.raises(ImportFormatError, match=r"missing field\(s\) \['code', 'pred', 'score'\]"):
        read_paper_evaluator(tmp_path / "f", model="m", benchmark="math500", temperature=0.6)
    write_seed(tmp_path / "t", 1, [row(0, ["a"], [True])], t="1.0")
    with pytest.raises(ImportFormatError, match="states temperature 1"):
        read_paper_evaluator(tmp_path / "t", model="m", benchmark="math500", temperature=0.6)
    write_seed(tmp_path / "p", 1, [row(0, ["a"], [True]), row(1, ["b"], [True])])
    write_seed(tmp_path / "p", 2, [row(0, ["a"], [True])])
    with pytest.raises(ImportFormatError, match="covers other problems"):
        read_paper_evaluator(tmp_path / "p", model="m", benchmark="math500", temperature=0.6)
