"""lm-evaluation-harness --log_samples: every repeat becomes a sample; filters do not duplicate docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import schemas
from analysis.importers import ImportFormatError, read_lm_eval

FIXTURE = Path(__file__).parent / "fixtures" / "imports" / "lm-eval"
DATE = "2025-07-01T10-00-00.000000"


def logged(doc_id: int, resps: list[str], flt: str = "none") -> dict:
    """One logged document as lm-eval 0.4 writes it for a generate_until task with repeats."""
    return {
        "doc_id": doc_id,
        "doc": {"problem": f"q{doc_id}", "answer": "1"},
        "target": "1",
        "arguments": {"gen_args_0": {"arg_0": f"q{doc_id}", "arg_1": {"temperature": 0.6}}},
        "resps": [resps],
        "filtered_resps": [resps[0]],
        "filter": flt,
        "metrics": ["exact_match"],
        "doc_hash": "0" * 64,
        "prompt_hash": "1" * 64,
        "target_hash": "2" * 64,
        "exact_match": 1.0,
    }


def write(folder: Path, rows: list[dict], task: str = "math500") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_{task}_{DATE}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_committed_fixture_reads_repeats_and_stated_settings():
    imp = read_lm_eval(FIXTURE, model="rl", benchmark="math500", temperature=0.6)
    assert imp.samples is not None
    schemas.check(imp.samples, "samples")
    assert imp.provenance["n"] == 4
    assert imp.provenance["problems"] == 4
    stated = imp.provenance["stated"]
    assert stated["repeats"] == 4
    assert stated["model_name"] == "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo"
    assert stated["generation_kwargs"]["temperature"] == 0.6
    assert imp.grades is None  # lm-eval's metrics are per document: texts are graded by the project
    assert imp.samples.height == 16  # two filters per doc, counted once


def test_doc_ids_map_to_rows_and_repeats_to_sample_indices(tmp_path):
    write(tmp_path, [logged(2, ["a", "b", "c"]), logged(0, ["d", "e", "f"])])
    imp = read_lm_eval(tmp_path, model="m", benchmark="gsm8k", temperature=0.6)
    got = imp.samples.sort("problem_id", "sample_index").select("problem_id", "sample_index", "text").rows()
    assert got[:3] == [("gsm8k/0", 0, "d"), ("gsm8k/0", 1, "e"), ("gsm8k/0", 2, "f")]
    assert got[3] == ("gsm8k/2", 0, "a")


def test_loglikelihood_logs_and_missing_fields_are_refused(tmp_path):
    ll = logged(0, ["x"])
    ll["resps"] = [[[-1.5, False]], [[-2.0, True]]]
    write(tmp_path / "ll", [ll])
    with pytest.raises(ImportFormatError, match="non-text responses"):
        read_lm_eval(tmp_path / "ll", model="m", benchmark="math500", temperature=0.6)
    write(tmp_path / "nf", [{"doc_id": 0, "doc": {}, "target": "1"}])
    with pytest.raises(ImportFormatError, match=r"missing field\(s\) \['resps'\]"):
        read_lm_eval(tmp_path / "nf", model="m", benchmark="math500", temperature=0.6)


def test_duplicate_docs_unequal_repeats_and_wrong_temperature_are_refused(tmp_path):
    write(tmp_path / "d", [logged(0, ["a"]), logged(0, ["b"])])
    with pytest.raises(ImportFormatError, match="appears twice"):
        read_lm_eval(tmp_path / "d", model="m", benchmark="math500", temperature=0.6)
    write(tmp_path / "u", [logged(0, ["a", "b"]), logged(1, ["c"])])
    with pytest.raises(ImportFormatError, match="different numbers of samples"):
        read_lm_eval(tmp_path / "u", model="m", benchmark="math500", temperature=0.6)
    with pytest.raises(ImportFormatError, match=r"temperature 0\.6, the import expects 1"):
        read_lm_eval(FIXTURE, model="m", benchmark="math500", temperature=1.0)


def test_a_folder_of_several_tasks_needs_a_task(tmp_path):
    write(tmp_path, [logged(0, ["a"])], task="math500")
    write(tmp_path, [logged(0, ["a"])], task="gsm8k")
    with pytest.raises(ImportFormatError, match="name one file or set task"):
        read_lm_eval(tmp_path, model="m", benchmark="math500", temperature=0.6)
    imp = read_lm_eval(tmp_path, model="m", benchmark="gsm8k", temperature=0.6, task="gsm8k")
    assert imp.provenance["stated"]["task"] == "gsm8k"
