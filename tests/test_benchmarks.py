"""The benchmark loader: local folders, the hub mapping (offline), registered task families."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analysis import benchmarks, schemas
from analysis.benchmarks import (
    MATH_BENCHMARKS,
    BenchmarkError,
    known_benchmarks,
    load_benchmark,
    register_loader,
)

COUNTS = {"aime24": 30, "amc23": 40, "gsm8k": 1319, "math500": 500, "minerva_math": 272, "olympiadbench": 675}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(COUNTS))
def test_local_benchmarks_load_as_problem_tables(benchmarks_dir: Path, name: str) -> None:
    problems = load_benchmark(name, benchmarks_dir)
    schemas.check(problems, "problems")
    assert problems.height == COUNTS[name]
    assert problems["index"].to_list() == list(range(COUNTS[name]))
    assert (problems["benchmark"] == name).all()
    assert problems["gold"].list.len().min() >= 1
    assert all(g.strip() for gold in problems["gold"].to_list() for g in gold)
    assert load_benchmark(name, benchmarks_dir, limit=3).height == 3


@pytest.mark.shared
def test_gold_answers_follow_each_benchmarks_convention(benchmarks_dir: Path) -> None:
    gold = {name: load_benchmark(name, benchmarks_dir)["gold"].to_list() for name in COUNTS}
    assert gold["gsm8k"][0] == ["18"]  # text after ####
    assert gold["gsm8k"][2] == ["70000"]  # thousands separators removed
    assert gold["amc23"][0] == ["27"]  # stored as the float 27.0
    assert gold["aime24"][7] == ["025"]  # kept as written
    assert gold["minerva_math"][0] == ["1.6"]  # the last box of the solution
    assert gold["minerva_math"][1] == ["4.5e33"]
    assert gold["math500"][0] == [r"\left( 3, \frac{\pi}{2} \right)"]
    olympiad = gold["olympiadbench"]
    assert olympiad[5] == ["(1,8,19), (2,7,13), (4,5,7)"]  # several answers in one string
    assert not any("$" in g for answers in olympiad for g in answers)  # inline $ removed
    assert ["69,84"] in olympiad  # was "69$,$84"
    assert [r"(-\infty, 0) \cup\{1\}"] in olympiad  # was "$(-\infty, 0) \cup\{1\}$."


@pytest.mark.shared
def test_olympiad_multiple_answer_problems_are_marked(benchmarks_dir: Path) -> None:
    problems = load_benchmark("olympiadbench", benchmarks_dir)
    multi = problems.filter(pl.col("metadata").str.json_path_match("$.is_multiple_answer") == "true")
    assert multi.height == 94


def test_unknown_benchmark_names_the_known_ones() -> None:
    with pytest.raises(BenchmarkError, match=r"unknown benchmark 'mat500'.*math500"):
        load_benchmark("mat500", "anywhere")


def test_missing_source_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="needs a source"):
        load_benchmark("gsm8k")
    with pytest.raises(BenchmarkError, match=r"not found: .*gsm8k/test\.jsonl"):
        load_benchmark("gsm8k", tmp_path)


def test_bad_json_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n{oops\n')
    with pytest.raises(BenchmarkError, match=r"test\.jsonl:2: not valid JSON"):
        load_benchmark("gsm8k", tmp_path)


def test_any_folder_laid_out_the_same_way_loads(tmp_path: Path) -> None:
    (tmp_path / "amc23").mkdir()
    rows = [{"question": "1+1?", "answer": 2.0}, {"question": "half?", "answer": 0.5}]
    (tmp_path / "amc23" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_benchmark("amc23", tmp_path)
    assert problems["gold"].to_list() == [["2"], ["0.5"]]
    assert problems["problem_id"].to_list() == ["amc23/0", "amc23/1"]


def test_registered_loader_is_resolved_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmarks, "EXTRA_LOADERS", {})
    register_loader("toy_sums", f"{__name__}:_toy_loader")
    assert "toy_sums" in known_benchmarks()
    problems = load_benchmark("toy_sums", 3, limit=2)
    assert problems["gold"].to_list() == [["0"], ["2"]]
    with pytest.raises(BenchmarkError, match="cannot be replaced"):
        register_loader("gsm8k", "x:y")


def _toy_loader(source: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "benchmark": ["toy_sums"] * source,
            "problem_id": [f"toy/{i}" for i in range(source)],
            "index": list(range(source)),
            "question": [f"{i}+{i}=" for i in range(source)],
            "gold": [[str(2 * i)] for i in range(source)],
            "stratum": [None] * source,
            "metadata": ["{}"] * source,
        },
        schema=schemas.PROBLEMS,
    )


# --- hub sources (no hub here: hf_hub_download is replaced by a local stand-in) ----------------


def test_every_paper_benchmark_has_a_pinned_hub_source() -> None:
    for spec in MATH_BENCHMARKS.values():
        assert spec.hub is not None
        assert len(spec.hub.revision) == 40
        assert all(c in "0123456789abcdef" for c in spec.hub.revision)


def _fake_download(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path], calls: list[tuple]) -> None:
    def fake(repo_id: str, filename: str, *, repo_type: str, revision: str) -> str:
        calls.append((repo_id, filename, repo_type, revision))
        return str(files[filename])

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)


def _local_rows(benchmarks_dir: Path, name: str) -> list[dict]:
    path = benchmarks_dir / name / "test.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.shared
def test_math500_hub_copy_is_the_local_file(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pinned hub file has the same SHA-256 as the local one, so the local file can stand in.
    calls: list[tuple] = []
    _fake_download(monkeypatch, {"test.jsonl": benchmarks_dir / "math500" / "test.jsonl"}, calls)
    hub = load_benchmark("math500", "hub")
    local = load_benchmark("math500", benchmarks_dir)
    assert hub.equals(local)
    spec = MATH_BENCHMARKS["math500"].hub
    assert calls == [(spec.repo_id, spec.filename, "dataset", spec.revision)]


@pytest.mark.shared
def test_hub_parquet_with_hub_field_names_maps_to_the_local_layout(
    benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # minerva on the hub: fields question/answer (no solution); 272 rows.
    rows = _local_rows(benchmarks_dir, "minerva_math")
    local = load_benchmark("minerva_math", benchmarks_dir)
    hub_rows = [{"question": r["problem"], "answer": g[0]} for r, g in zip(rows, local["gold"].to_list(), strict=True)]
    stand_in = tmp_path / "test.jsonl"
    stand_in.write_text("".join(json.dumps(r) + "\n" for r in hub_rows), encoding="utf-8")
    _fake_download(monkeypatch, {"test.jsonl": stand_in}, [])
    hub = load_benchmark("minerva_math", "hub")
    assert hub["question"].to_list() == local["question"].to_list()
    assert hub["gold"].to_list() == local["gold"].to_list()


@pytest.mark.shared
def test_hub_olympiadbench_parquet_loads(benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rows = _local_rows(benchmarks_dir, "olympiadbench")[:674]  # the pinned hub file has 674 rows
    spec = MATH_BENCHMARKS["olympiadbench"].hub
    stand_in = tmp_path / "olympiad.parquet"
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(stand_in)
    _fake_download(monkeypatch, {spec.filename: stand_in}, [])
    hub = load_benchmark("olympiadbench", "hub")
    local = load_benchmark("olympiadbench", benchmarks_dir).head(674)
    assert hub["gold"].to_list() == local["gold"].to_list()
    assert hub["question"].to_list() == local["question"].to_list()


@pytest.mark.shared
def test_hub_file_with_the_wrong_row_count_is_refused(
    benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = MATH_BENCHMARKS["gsm8k"].hub
    stand_in = tmp_path / "gsm8k.parquet"
    pl.DataFrame(_local_rows(benchmarks_dir, "gsm8k")[:100], infer_schema_length=None).write_parquet(stand_in)
    _fake_download(monkeypatch, {spec.filename: stand_in}, [])
    with pytest.raises(BenchmarkError, match="has 100 rows, expected 1319"):
        load_benchmark("gsm8k", "hub")


@pytest.mark.shared
def test_hub_file_that_is_not_the_pinned_one_is_refused(
    benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = MATH_BENCHMARKS["aime24"].hub
    stand_in = tmp_path / "aime.parquet"
    pl.DataFrame(_local_rows(benchmarks_dir, "aime24"), infer_schema_length=None).write_parquet(stand_in)
    _fake_download(monkeypatch, {spec.filename: stand_in}, [])
    with pytest.raises(BenchmarkError, match=f"expected {spec.sha256}"):
        load_benchmark("aime24", "hub")


def test_olympiadbench_ids_come_from_the_source_id_field(benchmarks_dir):
    """The hub copy lacks one of the paper file's problems: ids must not depend on row order."""
    from analysis.benchmarks import load_benchmark

    problems = load_benchmark("olympiadbench", benchmarks_dir)
    assert problems["problem_id"][0] == "olympiadbench/1606"
    assert problems["problem_id"].n_unique() == problems.height == 675
