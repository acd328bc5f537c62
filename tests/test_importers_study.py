"""Import studies: config checks, a counts-only study of the public MATH500 counts, an import of
every text format with re-grading, and the workflow plan (no sampling, grading or scoring jobs)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from analysis import metrics as M
from analysis import stages
from analysis.config import ConfigError, parse_config
from analysis.importers import ImportFormatError
from analysis.store import file_sha256
from analysis.study import Study

REPO = Path(__file__).resolve().parents[1]
PUBLIC = REPO / "data" / "public" / "math500-qwen2.5-7b-vs-simplerl"


def study_copy(tmp: Path, config: str, **changes: object) -> Study:
    """The repository's config with its outputs under ``tmp`` (import paths stay repository-relative)."""
    data = yaml.safe_load((REPO / config).read_text(encoding="utf-8"))
    data["output_root"] = str(tmp / "runs")
    data.update(changes)
    path = tmp / Path(config).name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return Study.load(path)


@pytest.fixture
def at_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def test_config_refuses_imports_that_do_not_fit_the_study():
    base = yaml.safe_load((REPO / "configs" / "import-example.yaml").read_text(encoding="utf-8"))
    entry = {"model": "qwen2.5-7b", "benchmark": "math500", "format": "counts", "path": "x.csv"}
    for bad, message in [
        ({**entry, "model": "nobody"}, "is not one of the study's"),
        ({**entry, "temperature": 1.0}, "not in sampling.temperatures"),
        ({**entry, "format": "csv"}, "imports.0.format"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config({**base, "imports": [bad]})
    with pytest.raises(ConfigError, match="imported twice"):
        parse_config({**base, "imports": [entry, entry]})
    split = [
        {**entry, "format": "jsonl"},
        {**entry, "model": "my-model", "format": "paper-evaluator", "regrade": False},
    ]
    with pytest.raises(ConfigError, match="must agree on regrade"):
        parse_config({**base, "imports": split})


def test_public_counts_study_reproduces_the_published_numbers(tmp_path, at_repo):
    study = study_copy(tmp_path, "configs/math500-public.yaml")
    assert study.is_import
    assert study.jobs == {}
    assert not study.has_texts
    assert set(study.skipped_pages) == {"perplexity", "grading"}
    stages.import_generations(study, progress=False)
    assert not study.has_grades
    counts = study.counts()
    assert counts.height == 1000
    assert set(counts["n"]) == {128}
    curve = M.pass_at_k_curve(counts, ks=[128], by=("model", "benchmark", "temperature"))
    at128 = dict(zip(curve["model"], curve["pass_at_k"], strict=True))
    assert round(at128["qwen2.5-7b"], 3) == 0.962
    assert round(at128["simplerl-zoo-7b"], 3) == 0.930
    split = M.coverage_split(counts, "qwen2.5-7b", "simplerl-zoo-7b", by=("benchmark", "temperature"))
    assert (len(split.both), len(split.only_a), len(split.only_b), len(split.neither)) == (462, 19, 3, 16)
    # one grader (the counts' own) serves every mode the findings ask for
    assert study.grading_modes("math500") == ["imported-counts"]
    assert study.counts("imported-counts").equals(counts)
    with pytest.raises(FileNotFoundError, match="no imported grades"):
        study.grades("strict")
    with pytest.raises(FileNotFoundError, match="counts only"):
        study.samples()
    # problems without a benchmark source: the imported ids with their MATH level
    problems = study.problems("math500")
    assert problems.height == 500
    assert problems["stratum"].n_unique() == 5
    manifest = json.loads(study.import_marker.read_text(encoding="utf-8"))
    assert manifest["sources"][0]["provenance"]["files"][0]["sha256"] == file_sha256(PUBLIC / "counts.csv")


def test_public_table_equals_its_source_and_provenance(reference_dir):
    source = reference_dir / "math500-qwen2.5-7b-vs-simplerl"
    prov = json.loads((PUBLIC / "provenance.json").read_text(encoding="utf-8"))
    for name, digest in prov["derived_from"].items():
        assert file_sha256(source / name) == digest, name
    assert prov["counts_csv_sha256"] == file_sha256(PUBLIC / "counts.csv")
    assert "official evaluator" in prov["grader"]
    table = pl.read_csv(PUBLIC / "counts.csv")
    with (source / "per_problem_correct_counts.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for column, model in (
        ("base_correct", "Qwen/Qwen2.5-7B"),
        ("simplerl_correct", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo"),
    ):
        want = {f"math500/{r['idx']}": (int(r["n_samples"]), int(r[column])) for r in rows}
        got = {p: (n, c) for p, n, c in table.filter(pl.col("model") == model).select("problem_id", "n", "c").rows()}
        assert got == want


def test_example_study_imports_every_text_format_and_regrades(tmp_path, at_repo):
    study = study_copy(tmp_path, "configs/import-example.yaml")
    manifest = stages.import_generations(study, progress=False)
    graders = {s["model"]: s["graders"] for s in manifest["sources"]}
    assert graders == {
        "qwen2.5-7b": ["official-recorded", "strict", "paper"],
        "simplerl-zoo-7b": ["strict", "paper"],
        "oat-zero-7b": ["strict", "paper"],
        "my-model": ["strict", "paper"],
    }
    assert study.has_texts
    assert study.has_grades
    assert set(study.skipped_pages) == {"perplexity"}
    counts = study.counts()
    assert counts.height == 16
    assert set(counts["n"]) == {4}
    # the project's paper-mode grader agrees with the verdicts the evaluator recorded on the fixture
    recorded = study.counts("official-recorded").select("problem_id", "c").sort("problem_id")
    paper = study.counts("paper").filter(pl.col("model") == "qwen2.5-7b").select("problem_id", "c").sort("problem_id")
    assert recorded.equals(paper)
    assert recorded["c"].to_list() == [3, 3, 1, 2]
    grades = study.grades("strict").collect()
    assert grades.height == 64
    assert {"temperature", "seed"} <= set(grades.columns)
    # the evaluator's files state seeds 1 and 2; the other tools state none: one run each, seed -1
    seeds = dict(grades.group_by("model").agg(pl.col("seed").unique().sort()).iter_rows())
    assert seeds == {"qwen2.5-7b": [1, 2], "simplerl-zoo-7b": [-1], "oat-zero-7b": [-1], "my-model": [-1]}
    assert study.samples(["seed"]).collect()["seed"].null_count() == 48  # the stored texts keep null
    assert study.samples(["model", "text"]).collect().height == 64


def test_stage_refuses_problem_ids_the_benchmark_lacks(tmp_path, at_repo):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"problem_id": "math500/99", "response": "\\boxed{1}"}) + "\n", encoding="utf-8")
    imports = [{"model": "qwen2.5-7b", "benchmark": "math500", "format": "jsonl", "path": str(bad)}]
    study = study_copy(tmp_path, "configs/import-example.yaml", imports=imports)
    with pytest.raises(ImportFormatError, match=r"not problems of the benchmark \(e\.g\. \['math500/99'\]"):
        stages.import_generations(study, progress=False)


@pytest.mark.parametrize(
    ("config", "grading_page"), [("configs/import-example.yaml", True), ("configs/math500-public.yaml", False)]
)
def test_workflow_plans_an_import_and_no_sampling(config, grading_page, tmp_path):
    data = yaml.safe_load((REPO / config).read_text(encoding="utf-8"))
    data["output_root"] = str(tmp_path / "runs")  # a fresh plan, whatever ran in the checkout
    copy = tmp_path / Path(config).name
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("snakemake")),
            "-s",
            "workflow/Snakefile",
            "--nolock",
            "--config",
            f"study={copy}",
            "-n",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    stats = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", text.split("Job stats:", 1)[1], re.M)}
    assert stats["imports"] == 1
    assert not {"sample", "grade", "perplexity_scores"} & set(stats)
    # a counts-only study skips the grading page (nothing to grade) and no import study scores perplexity
    assert ("notebooks/pages/grading.ipynb" in text) is grading_page
    assert "notebooks/pages/perplexity.ipynb" not in text


def test_workflow_input_files_are_every_imported_file(at_repo, tmp_path):
    from analysis.importers.stage import input_files

    study = study_copy(tmp_path, "configs/import-example.yaml")
    files = input_files(study.config)
    assert len(files) == 5  # two seed files, one lm-eval samples file, one details parquet, one JSONL
    assert sum("seed" in Path(f).name for f in files) == 2
    gone = study_copy(
        tmp_path,
        "configs/import-example.yaml",
        imports=[{**study.config.imports[3].model_dump(), "path": "nowhere.jsonl"}],
    )
    with pytest.raises(ImportFormatError, match=r"no input files found at nowhere\.jsonl"):
        input_files(gone.config)
