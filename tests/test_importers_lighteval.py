"""lighteval details parquet (0.10+ layout: doc / metric / model_response structs)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analysis import schemas
from analysis.importers import ImportFormatError, read_lighteval

FIXTURE = Path(__file__).parent / "fixtures" / "imports" / "lighteval" / "details"
DATE = "2025-07-01T10-00-00.000000"


def detail(doc_id: int, texts: list[str]) -> dict:
    """One Detail row as lighteval's EvaluationTracker stores it (asdict, columns sorted)."""
    return {
        "doc": {
            "query": f"q{doc_id}",
            "choices": ["1"],
            "gold_index": [0],
            "id": str(doc_id),
            "num_samples": len(texts),
        },
        "metric": {"pass@k:k=1&n=2": 0.5},
        "model_response": {"input": f"q{doc_id}", "text": texts, "output_tokens": [[1]] * len(texts)},
    }


def write(folder: Path, rows: list[dict], task: str = "lighteval|math_500|0") -> Path:
    out = folder / "details" / "org" / "model" / DATE
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"details_{task}_{DATE}.parquet"
    pl.DataFrame(rows).write_parquet(path)
    return path


def test_committed_fixture_reads_texts_model_name_and_metrics():
    imp = read_lighteval(FIXTURE, model="rl", benchmark="math500", temperature=0.6)
    assert imp.samples is not None
    schemas.check(imp.samples, "samples")
    assert imp.provenance["n"] == 4
    assert imp.provenance["problems"] == 4
    assert imp.provenance["stated"]["model_name"] == "sail/Qwen2.5-Math-7B-Oat-Zero"
    assert imp.provenance["stated"]["num_samples"] == [4]
    assert imp.provenance["recorded_per_document_metrics"]["pass@k:k=1&n=4"] == pytest.approx(
        10 / 16
    )  # 3 + 3 + 1 + 3 of 16 answers right


def test_doc_id_maps_to_problem_and_generations_to_samples(tmp_path):
    write(tmp_path, [detail(1, ["x", "y"]), detail(0, ["z", "w"])])
    imp = read_lighteval(tmp_path, model="m", benchmark="aime24", temperature=0.6)
    got = imp.samples.sort("problem_id", "sample_index").select("problem_id", "sample_index", "text").rows()
    assert got == [("aime24/0", 0, "z"), ("aime24/0", 1, "w"), ("aime24/1", 0, "x"), ("aime24/1", 1, "y")]


def test_old_layout_and_non_parquet_are_refused(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    # lighteval < 0.10 wrote flat columns such as example / predictions / gold
    pl.DataFrame({"example": ["q"], "predictions": [["a"]], "gold": [["1"]]}).write_parquet(
        old / f"details_math_{DATE}.parquet"
    )
    with pytest.raises(ImportFormatError, match=r"missing column\(s\) \['doc', 'model_response'\]"):
        read_lighteval(old, model="m", benchmark="math500", temperature=0.6)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / f"details_math_{DATE}.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not a readable parquet file"):
        read_lighteval(junk, model="m", benchmark="math500", temperature=0.6)


def test_empty_generations_and_duplicate_ids_are_refused(tmp_path):
    write(tmp_path / "e", [detail(0, [])])
    with pytest.raises(ImportFormatError, match="no generations"):
        read_lighteval(tmp_path / "e", model="m", benchmark="math500", temperature=0.6)
    write(tmp_path / "d", [detail(0, ["a"]), detail(0, ["b"])])
    with pytest.raises(ImportFormatError, match="appears twice"):
        read_lighteval(tmp_path / "d", model="m", benchmark="math500", temperature=0.6)
