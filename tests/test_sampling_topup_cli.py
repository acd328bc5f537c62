"""The top-up command line (``python -m analysis.sampling topup`` / ``plan-topup``) on a tiny local model:
plan from grades, top up, plan again; bad input is an error message before anything is written; an
interrupted top-up finishes when the command is run again."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from test_sampling_topup import PowerCut, cfg, forbid_loading, indices, table, toy_problems

from analysis.sampling import fill as fill_module
from analysis.sampling import load_samples, run_sampling, topup
from analysis.sampling.__main__ import main as cli
from analysis.store import MARKER_NAME
from analysis.tinymodel import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def problems() -> pl.DataFrame:
    return toy_problems(4)


@pytest.fixture(scope="module")
def problems_file(problems, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("problems") / "problems.parquet"
    problems.write_parquet(path)
    return path


@pytest.fixture(scope="module")
def parent(tiny, problems, tmp_path_factory) -> Path:
    """A finished pilot: 4 problems x 8 samples."""
    return run_sampling(cfg(tiny), tmp_path_factory.mktemp("runs"), problems=problems, progress=False)


def fake_grades(run_dir: Path, correct: set[str] = frozenset(), grader: str = "strict") -> pl.DataFrame:
    """A grades table of ``run_dir``: the samples named ``"problem_id#sample_index"`` in ``correct`` are right."""
    key = pl.concat_str(pl.col("problem_id"), pl.lit("#"), pl.col("sample_index").cast(pl.String))
    return (
        load_samples(run_dir)
        .collect()
        .select(
            "run_hash",
            "model",
            "benchmark",
            "problem_id",
            "sample_index",
            pl.lit(grader).alias("grader"),
            pl.lit("test").alias("grader_version"),
            key.is_in(list(correct)).alias("correct"),
            pl.lit(None, pl.String).alias("extracted"),
            pl.lit("ok").alias("status"),
        )
    )


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    rc = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out.strip(), err


def test_plan_topup_then_plan_again_until_decided(tiny, parent, problems, problems_file, tmp_path, capsys, monkeypatch):
    grades = tmp_path / "pilot.strict.parquet"
    fake_grades(parent, {"toy/1#3"}).write_parquet(grades)
    # k = 4, epsilon = 0.5, confidence = 0.9: 14 samples without a success rule pass@4 > 0.5 out
    rule = ("--k", 4, "--epsilon", 0.5, "--confidence", 0.9)
    rc, out, err = run_cli(capsys, "plan-topup", parent, "--grades", grades, *rule, "--out", tmp_path / "plan.csv")
    assert (rc, out) == (0, str(tmp_path / "plan.csv"))
    assert "4 problems: 1 solved, 0 unsolved at k=4 (decided), 3 open needing 18 extra samples" in err
    plan = pl.read_csv(tmp_path / "plan.csv")
    assert plan.columns == ["run_hash", "model", "benchmark", "problem_id", "n", "c", "status", "extra"]
    assert plan["run_hash"].unique().to_list() == [parent.name]
    assert plan.select("problem_id", "n", "c", "status", "extra").rows() == [
        ("toy/0", 8, 0, "open", 6),
        ("toy/1", 8, 1, "solved", 0),
        ("toy/2", 8, 0, "open", 6),
        ("toy/3", 8, 0, "open", 6),
    ]

    argv = ("topup", parent, "--extra", tmp_path / "plan.csv", "--at-least", 4, "--problems", problems_file)
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 0
    child = Path(out)
    assert child.parent == parent.parent
    assert f"sampling {child.name}" in err  # the progress bar
    assert f"top-up {child.name} of {parent.name}: 22 samples of 4 problems (22 new)" in err
    assert indices(table(child)) == {
        "toy/0": list(range(8, 14)),
        "toy/1": list(range(8, 12)),
        "toy/2": list(range(8, 14)),
        "toy/3": list(range(8, 14)),
    }
    # the same top-up as from Python; running the command again returns the finished folder, loading nothing
    forbid_loading(monkeypatch)
    assert topup(parent, {"toy/0": 6, "toy/1": 4, "toy/2": 6, "toy/3": 6}, problems=problems, progress=False) == child
    assert run_cli(capsys, *argv)[:2] == (0, str(child))

    # grade the top-up (no success), plan again from the lineage's grades: all decided, nothing left to sample
    child_grades = tmp_path / "topup.strict.parquet"
    fake_grades(child).write_parquet(child_grades)
    plan2 = tmp_path / "plan2.parquet"
    rc, out, err = run_cli(capsys, "plan-topup", child, "--grades", grades, child_grades, *rule, "--out", plan2)
    assert rc == 0
    assert "4 problems: 1 solved, 3 unsolved at k=4 (decided), 0 open needing 0 extra samples" in err
    assert pl.read_parquet(plan2).select("problem_id", "n", "c", "extra").rows() == [
        ("toy/0", 14, 0, 0),
        ("toy/1", 12, 1, 0),
        ("toy/2", 14, 0, 0),
        ("toy/3", 14, 0, 0),
    ]
    rc, _, err = run_cli(capsys, "topup", child, "--extra", plan2, "--problems", problems_file)
    assert rc == 2
    assert "nothing to top up" in err
    # the pilot's plan names the pilot: it does not top up the top-up
    rc, _, err = run_cli(capsys, "topup", child, "--extra", tmp_path / "plan.csv", "--problems", problems_file)
    assert rc == 2
    assert f"plans run(s) ['{parent.name}'], not run {child.name}" in err
    # planning the top-up from the pilot's grades alone misses samples
    rc, _, err = run_cli(capsys, "plan-topup", child, "--grades", grades, *rule, "--out", tmp_path / "p3.csv")
    assert rc == 2
    assert "has 14 samples in runs" in err
    assert "but 8 graded" in err
    assert not (tmp_path / "p3.csv").exists()


def test_bad_input_is_an_error_message_and_writes_nothing(parent, problems_file, tmp_path, capsys, monkeypatch):
    forbid_loading(monkeypatch)
    out = tmp_path / "out"

    def plan_file(name: str, frame: pl.DataFrame) -> Path:
        path = tmp_path / name
        frame.write_csv(path)
        return path

    unknown = plan_file("unknown.csv", pl.DataFrame({"problem_id": ["toy/0", "toy/9"], "extra": [1, 3]}))
    negative = plan_file("negative.csv", pl.DataFrame({"problem_id": ["toy/0"], "extra": [-1]}))
    fractional = plan_file("fractional.csv", pl.DataFrame({"problem_id": ["toy/0"], "extra": [1.5]}))
    no_extra = plan_file("no_extra.csv", pl.DataFrame({"problem_id": ["toy/0"], "m": [1]}))
    other_run = plan_file("other.csv", pl.DataFrame({"run_hash": ["abc"], "problem_id": ["toy/0"], "extra": [1]}))
    (tmp_path / "plan.txt").write_text("problem_id,extra\ntoy/0,1\n")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(parent, unfinished)
    (unfinished / MARKER_NAME).unlink()
    good = ("--problems", problems_file, "--out-root", out)
    cases = [
        ((parent, "--extra", unknown, *good), r"has no problem(s) ['toy/9']"),
        ((parent, "--extra", negative, *good), "extra samples of problem 'toy/0' must be a non-negative int, got -1"),
        ((parent, "--extra", fractional, *good), "must be a non-negative int, got 1.5"),
        ((parent, "--extra", no_extra, *good), r"lacks column(s) ['extra']"),
        ((parent, "--extra", other_run, *good), f"plans run(s) ['abc'], not run {parent.name}"),
        ((parent, "--extra", tmp_path / "missing.csv", *good), "plan file not found"),
        ((parent, "--extra", tmp_path / "plan.txt", *good), "a plan file is .csv or .parquet"),
        ((parent, *good), "nothing to top up: give --extra PLAN, --at-least K, or both"),
        ((parent, "--at-least", -2, *good), "at_least must be a non-negative int"),
        ((parent, "--at-least", 2, "--out-root", out), "pass it with --problems"),
        ((parent, "--at-least", 2, "--problems", tmp_path / "none.parquet"), "none.parquet"),
        ((unfinished, "--at-least", 2, *good), "is not finished; finish it before topping it up"),
        ((tmp_path, "--at-least", 2, *good), "is not a sampling run folder"),
    ]
    for argv, message in cases:
        rc, stdout, err = run_cli(capsys, "topup", *argv)
        assert (rc, stdout) == (2, ""), (argv, err)
        assert err.startswith("error: ")
        assert message in err, (argv, err)
        assert "Traceback" not in err

    grades = tmp_path / "grades.parquet"
    strict, paper = fake_grades(parent), fake_grades(parent, {"toy/0#0"}, grader="paper")
    pl.concat([strict, paper]).write_parquet(grades)
    other = tmp_path / "other.parquet"
    strict.with_columns(pl.lit("0123456789abcdef").alias("run_hash")).write_parquet(other)
    plan = tmp_path / "plan.csv"
    cases = [
        ((parent, "--grades", grades, "--k", 4, "--out", plan), "grades mix several graders"),
        ((parent, "--grades", other, "--k", 4, "--out", plan), "hold no rows of run(s)"),
        ((parent, "--grades", tmp_path / "missing.parquet", "--k", 4, "--out", plan), "grades file(s) not found"),
        ((parent, "--grades", grades, "--grader", "strict", "--k", 0, "--out", plan), "need k ≥ 1"),
        ((parent, "--grades", grades, "--grader", "strict", "--k", 4, "--out", tmp_path / "p.txt"), ".csv or .parquet"),
        ((unfinished, "--grades", grades, "--grader", "strict", "--k", 4, "--out", plan), "is not a finished run"),
    ]
    for argv, message in cases:
        rc, stdout, err = run_cli(capsys, "plan-topup", *argv)
        assert (rc, stdout) == (2, ""), (argv, err)
        assert message in err, (argv, err)
    assert not out.exists()
    assert not plan.exists()
    assert not (tmp_path / "p.txt").exists()
    # one grader chosen: the paper grader saw a success on toy/0
    rc, _, _ = run_cli(capsys, "plan-topup", parent, "--grades", grades, "--grader", "paper", "--k", 4, "--out", plan)
    assert rc == 0
    assert pl.read_csv(plan).filter(pl.col("status") == "solved")["problem_id"].to_list() == ["toy/0"]


def test_an_interrupted_topup_finishes_when_the_command_runs_again(
    tiny, parent, problems, problems_file, tmp_path, capsys, monkeypatch
):
    extras = {"toy/0": 7, "toy/1": 4, "toy/3": 9}  # 8 chunks of <= 3 in 4 parts of <= 6 samples
    reference = topup(parent, extras, tmp_path / "ref", problems=problems, progress=False)
    plan = tmp_path / "plan.parquet"
    pl.DataFrame({"problem_id": list(extras), "extra": list(extras.values())}).write_parquet(plan)
    argv = ("topup", parent, "--extra", plan, "--out-root", tmp_path / "cut", "--problems", problems_file)
    real = fill_module.open_backend
    monkeypatch.setattr(fill_module, "open_backend", lambda config: PowerCut(real(config), calls=1))
    with pytest.raises(RuntimeError, match="power cut"):
        cli([str(a) for a in argv])
    cut = tmp_path / "cut" / reference.name
    assert len(list(cut.glob("part-*.parquet"))) == 1
    assert not (cut / MARKER_NAME).exists()
    monkeypatch.setattr(fill_module, "open_backend", real)
    capsys.readouterr()
    rc, out, err = run_cli(capsys, *argv)
    assert (rc, out) == (0, str(cut))
    written = 20 - pl.read_parquet(next(cut.glob("part-*.parquet"))).height
    assert f"resuming, {20 - written} of 20 samples already written" in err
    assert f"20 samples of 3 problems ({written} new)" in err
    assert table(cut).equals(table(reference))
