"""How generations end: the backends' ``ended_by``, the runs' columns, and ``finish_shares``."""

from __future__ import annotations

import polars as pl
import pytest

from analysis import schemas
from analysis.finish import ENDINGS, finish_shares
from analysis.sampling import SamplingConfig, load_samples, run_sampling
from analysis.sampling.backends.hf import HFBackend
from analysis.sampling.backends.openai import OpenAIBackend
from analysis.sampling.storage import PART_SCHEMA
from analysis.sampling.types import Completion, GenParams, ending
from analysis.tinymodel import build_tiny_model


def samples_frame(rows: list[tuple]) -> pl.DataFrame:
    """A samples table from (model, benchmark, finish_reason, ended_by, stop_string) rows."""
    full = [
        ("h", model, bench, f"{bench}/0", i, 0, "t", 3, reason, ended, stop)
        for i, (model, bench, reason, ended, stop) in enumerate(rows)
    ]
    return pl.DataFrame(full, schema=PART_SCHEMA, orient="row")


def test_shares_per_model_and_benchmark():
    table = samples_frame(
        [
            ("rl", "math500", "stop", "eos", None),
            ("rl", "math500", "stop", "stop_string", "user"),
            ("rl", "math500", "stop", "stop_string", "user"),
            ("rl", "math500", "stop", "stop_string", "assistant"),
            ("rl", "math500", "length", "length", None),
            ("rl", "aime24", "stop", None, None),  # the backend did not say which stop
            ("base", "math500", "stop", "eos", None),
            ("base", "math500", "length", "length", None),
        ]
    )
    out = finish_shares(table)
    assert out.columns == ["model", "benchmark", "samples", *ENDINGS, "top_stop_string"]
    rows = {(r["model"], r["benchmark"]): r for r in out.iter_rows(named=True)}
    assert list(rows) == [("base", "math500"), ("rl", "aime24"), ("rl", "math500")]
    rl = rows[("rl", "math500")]
    assert (rl["samples"], rl["eos"], rl["stop_string"], rl["length"]) == (5, 0.2, 0.6, 0.2)
    assert rl["top_stop_string"] == "'user' x 2"
    assert rows[("rl", "aime24")]["stop_unattributed"] == 1.0
    assert rows[("base", "math500")]["top_stop_string"] is None
    assert rows[("base", "math500")]["eos"] == rows[("base", "math500")]["length"] == 0.5
    total = out.select(pl.sum_horizontal(*ENDINGS)).to_series()
    assert total.to_list() == pytest.approx([1.0] * 3)


def test_a_table_without_ending_columns_reports_stops_as_unattributed():
    table = samples_frame([("m", "b", "stop", "eos", None), ("m", "b", "length", "length", None)])
    out = finish_shares(table.select(schemas.SAMPLES.names()).lazy())
    assert out.select("eos", "stop_string", "length", "stop_unattributed").row(0) == (0.0, 0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="finish_reason"):
        finish_shares(table.drop("finish_reason"))


def test_vllm_stop_reason_convention():
    assert ending("length", None) == ("length", None)
    assert ending("stop", None) == ("eos", None)
    assert ending("stop", 151645) == ("eos", None)  # a stop token id
    assert ending("stop", "user") == ("stop_string", "user")


def test_openai_parse_reads_vllm_servers_stop_reason():
    data = {
        "choices": [
            {"index": 0, "text": "a", "finish_reason": "stop", "stop_reason": "user"},
            {"index": 1, "text": "b", "finish_reason": "stop", "stop_reason": None},
            {"index": 2, "text": "c", "finish_reason": "length", "stop_reason": None},
            {"index": 3, "text": "d", "finish_reason": "stop"},  # a server that does not say
        ]
    }
    out = OpenAIBackend.parse(data, 4)
    assert [(c.ended_by, c.stop_string) for c in out] == [
        ("stop_string", "user"),
        ("eos", None),
        ("length", None),
        (None, None),
    ]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def backend(tiny):
    from analysis.sampling.backends import open_backend

    hf = open_backend(SamplingConfig(backend="hf", model=str(tiny), benchmark="x", template="plain", n=1, device="cpu"))
    yield hf
    hf.close()


def test_hf_backend_says_how_each_sample_ended(backend: HFBackend):
    tok = backend.tokenizer
    ids = lambda s: tok.convert_tokens_to_ids(list(s))  # noqa: E731
    eos = tok.eos_token_id
    params = GenParams(1.0, 1.0, 8, stop=("cd", "xy"))
    cases = {
        "eos": backend._finish([*ids("ab"), eos], {eos}, params, None),
        "string": backend._finish(ids("abxycdgh"), {eos}, params, None),
        "length": backend._finish(ids("abababab"), {eos}, params, None),
    }
    assert (cases["eos"].ended_by, cases["eos"].stop_string) == ("eos", None)
    assert (cases["string"].text, cases["string"].ended_by, cases["string"].stop_string) == ("ab", "stop_string", "xy")
    assert (cases["length"].finish_reason, cases["length"].ended_by) == ("length", "length")
    # the new fields do not take part in equality: backends that do not set them compare equal
    assert cases["eos"] == Completion("ab", 3, "stop")


def test_a_run_records_endings_and_shares_sum_to_one(tiny, tmp_path):
    problems = pl.DataFrame(
        [("toy", f"toy/{i}", i, f"Q:{i}{i}+{i}=", ["0"], None, "{}") for i in range(3)],
        schema=schemas.PROBLEMS,
        orient="row",
    )
    config = SamplingConfig(
        backend="hf",
        model=str(tiny),
        model_name="tiny",
        benchmark="toy",
        template="plain",
        n=16,
        chunk_size=16,
        max_tokens=10,
        temperature=1.0,
        top_p=1.0,
        stop=("a", "e"),
        device="cpu",
    )
    run_dir = run_sampling(config, tmp_path, problems=problems, progress=False)
    samples = load_samples(run_dir).collect()
    assert samples.schema == PART_SCHEMA
    by_stop = samples.filter(pl.col("ended_by") == "stop_string")
    assert by_stop.height > 0  # single-character stops on a random model: many samples hit one
    assert set(by_stop["stop_string"]) <= {"a", "e"}
    assert (samples.filter(pl.col("ended_by") == "length")["n_tokens"] == 10).all()
    assert (
        samples.filter(pl.col("ended_by") != "stop_string")["stop_string"].null_count()
        == samples.filter(pl.col("ended_by") != "stop_string").height
    )
    shares = finish_shares(samples).row(0, named=True)
    assert shares["samples"] == 48
    assert shares["stop_string"] == pytest.approx(by_stop.height / 48)
    assert shares["stop_unattributed"] == 0.0
    assert sum(shares[e] for e in ENDINGS) == pytest.approx(1.0)


def test_old_parts_without_ending_columns_read_as_nulls(tiny, tmp_path):
    """A run resumed across the change holds parts with and without the columns."""
    problems = pl.DataFrame(
        [("toy", f"toy/{i}", i, f"Q:{i}=", ["0"], None, "{}") for i in range(2)],
        schema=schemas.PROBLEMS,
        orient="row",
    )
    config = SamplingConfig(
        backend="hf", model=str(tiny), benchmark="toy", template="plain", n=2, chunk_size=2, batch_size=2,
        max_tokens=4, device="cpu",
    )  # fmt: skip
    run_dir = run_sampling(config, tmp_path, problems=problems, progress=False)
    parts = sorted(run_dir.glob("part-*.parquet"))
    assert len(parts) == 2
    old = pl.read_parquet(parts[0]).select(schemas.SAMPLES.names())
    old.write_parquet(parts[0])
    samples = load_samples(run_dir).collect().sort("problem_id")
    assert samples.schema == PART_SCHEMA
    assert samples["ended_by"].null_count() == 2
    unattributed = (old["finish_reason"] == "stop").sum()  # the new part's stops are all attributed
    assert finish_shares(samples)["stop_unattributed"].item() == unattributed / 4
