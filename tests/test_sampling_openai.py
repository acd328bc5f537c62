"""OpenAI-compatible backend against a small local HTTP server: retries, errors, request bodies, runs.

The server here is scripted (429 / 5xx / 4xx, then answers whose text encodes the request's
seed), which tests the client's logic; the test against a real vLLM server is in
test_sampling_vllm.py.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import schemas
from analysis.sampling import SamplingConfig, load_prompts, load_samples, request_seed, run_sampling
from analysis.sampling.backends import Completion, GenParams, Request
from analysis.sampling.backends.openai import EndpointError, OpenAIBackend
from analysis.store import MARKER_NAME
from analysis.tinymodel import build_tiny_model


class FakeServer:
    """A /v1/completions endpoint that follows a script of failures, then answers."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.bodies: list[dict[str, Any]] = []
        self.fail_after: int | None = None  # answer this many requests, then refuse with HTTP 400
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append(body)
                    answered = sum(1 for b in server.bodies if b.get("_answered"))
                    if server.script:
                        status, payload, headers = server.script.pop(0)
                    elif server.fail_after is not None and answered >= server.fail_after:
                        status, payload, headers = 400, {"error": {"message": "quota exhausted"}}, {}
                    else:
                        body["_answered"] = True
                        status, payload, headers = 200, answer(body), {}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """Completions whose text says which seed and choice produced them."""
    choices = []
    for i in range(body["n"]):
        text = f"s{body['seed']}-{i}"
        choices.append(
            {
                "index": i,
                "text": text,
                "finish_reason": "stop" if i % 3 else "length",
                "logprobs": {"tokens": list(text)},
            }
        )
    random.shuffle(choices)  # the client must order choices by index
    return {"choices": choices, "usage": {"completion_tokens": 0}}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def client(url: str, **over: Any) -> OpenAIBackend:
    kwargs = {"max_retries": 4, "retry_backoff_s": 0.001, "timeout_s": 10.0, "concurrency": 4}
    kwargs.update(over)
    return OpenAIBackend(url, "served-model", **kwargs)


REQ = Request("Q:1+2=", None, 3, seed=42)
PARAMS = GenParams(temperature=0.6, top_p=0.95, max_tokens=16, stop=("</s>", "Answer:"))


def test_transient_errors_are_retried_until_success(server):
    server.script = [
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
        (500, {"error": {"message": "boom"}}, {}),
        (503, {}, {}),
    ]
    out = client(server.url).complete(REQ, PARAMS)
    assert [c.text for c in out] == ["s42-0", "s42-1", "s42-2"]
    assert len(server.bodies) == 4


def test_a_permanent_error_is_not_retried_and_names_the_reason(server):
    server.script = [(400, {"error": {"message": "prompt too long for this model"}}, {})]
    with pytest.raises(EndpointError, match=r"HTTP 400: prompt too long for this model\); not retried"):
        client(server.url).complete(REQ, PARAMS)
    assert len(server.bodies) == 1


def test_retries_run_out(server):
    server.script = [(502, {"error": {"message": "bad gateway"}}, {})] * 3
    with pytest.raises(EndpointError, match=r"gave up after 3 attempts; last error: HTTP 502: bad gateway"):
        client(server.url, max_retries=2).complete(REQ, PARAMS)
    assert len(server.bodies) == 3


def test_connection_errors_are_transient():
    closed = FakeServer()
    url = closed.url
    closed.close()
    with pytest.raises(EndpointError, match=r"gave up after 2 attempts; last error: ConnectError"):
        client(url, max_retries=1).complete(REQ, PARAMS)


def test_request_body():
    backend = client("http://127.0.0.1:9/v1")
    body = backend.body(Request("text", [5, 6, 7], 4, seed=9), PARAMS)
    assert body == {
        "model": "served-model",
        "prompt": [5, 6, 7],
        "n": 4,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 16,
        "seed": 9,
        "logprobs": 0,
        "stop": ["</s>", "Answer:"],
    }
    greedy = backend.body(Request("text", None, 1, seed=1), GenParams(0.0, 0.5, 4, stop_token_ids=(7,)))
    assert greedy["prompt"] == "text"
    assert greedy["top_p"] == 1.0
    assert greedy["stop_token_ids"] == [7]
    assert "stop" not in greedy


def test_greedy_requests_go_one_sample_at_a_time(server):
    out = client(server.url).complete(Request("Q", None, 3, seed=4), GenParams(0.0, 0.95, 8))
    assert [b["n"] for b in server.bodies] == [1, 1, 1]
    assert {b["top_p"] for b in server.bodies} == {1.0}
    assert [c.text for c in out] == ["s4-0"] * 3


def test_parse_checks_the_answer():
    one = {"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}], "usage": {"completion_tokens": 5}}
    assert OpenAIBackend.parse(one, 1) == [Completion("x", 5, "stop")]
    two = {
        "choices": [
            {"index": 1, "text": "b", "finish_reason": "length"},
            {"index": 0, "text": "a", "finish_reason": "stop"},
        ]
    }
    assert OpenAIBackend.parse(two, 2) == [Completion("a", None, "stop"), Completion("b", None, "length")]
    with pytest.raises(EndpointError, match="returned 2 choices for n=3"):
        OpenAIBackend.parse(two, 3)
    aborted = {"choices": [{"index": 0, "text": "", "finish_reason": "abort"}]}
    with pytest.raises(EndpointError, match="finish_reason='abort'"):
        OpenAIBackend.parse(aborted, 1)


def toy_problems(count: int) -> pl.DataFrame:
    rows = [("toy", f"toy/{i}", i, f"Q:{100 + i}+{200 + i}=", [str(300 + 2 * i)], None, "{}") for i in range(count)]
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


def run_config(url: str, model: str, **over: Any) -> SamplingConfig:
    base = {
        "backend": "openai",
        "base_url": url,
        "model": model,
        "benchmark": "toy",
        "template": "plain",
        "n": 7,
        "seeds": (0, 1),
        "chunk_size": 3,
        "max_tokens": 16,
        "concurrency": 4,
        "batch_size": 9,
        "retry_backoff_s": 0.001,
    }
    base.update(over)
    return SamplingConfig(**base)


def test_run_through_an_endpoint_with_a_served_model_name(server, tmp_path):
    problems = toy_problems(5)
    run_dir = run_sampling(run_config(server.url, "served-model"), tmp_path, problems=problems, progress=False)
    samples = load_samples(run_dir).collect().sort("problem_id", "sample_index")
    assert samples.height == 5 * 14
    for row in samples.iter_rows(named=True):
        position, within = divmod(row["sample_index"], 7)
        chunk, j = divmod(within, 3)
        assert row["seed"] == request_seed((0, 1)[position], row["problem_id"], chunk)
        assert row["text"] == f"s{row['seed']}-{j}"
        assert row["n_tokens"] == len(row["text"])
    assert samples["model"].unique().to_list() == ["served-model"]
    prompts = load_prompts(run_dir)
    assert prompts["n_prompt_tokens"].null_count() == 5  # no local tokenizer for a served name
    assert {b["prompt"] for b in server.bodies} == set(problems["question"])
    assert {b["n"] for b in server.bodies} == {3, 1}


def test_a_refused_run_keeps_its_parts_and_resumes(server, tmp_path):
    model = build_tiny_model(tmp_path / "tiny")  # a local folder: prompts go as token ids
    problems = toy_problems(6)
    config = run_config(server.url, str(model), concurrency=1)
    server.fail_after = 10
    with pytest.raises(EndpointError, match="quota exhausted"):
        run_sampling(config, tmp_path / "runs", problems=problems, progress=False)
    run_dir = next((tmp_path / "runs").iterdir())
    assert not (run_dir / MARKER_NAME).exists()
    written = sorted(p.name for p in run_dir.glob("part-*.parquet"))
    assert written
    server.fail_after = None
    run_sampling(config, tmp_path / "runs", problems=problems, progress=False)
    resumed = load_samples(run_dir).collect().sort("problem_id", "sample_index")
    fresh = load_samples(run_sampling(config, tmp_path / "again", problems=problems, progress=False)).collect()
    assert resumed.equals(fresh.sort("problem_id", "sample_index"))
    assert all(isinstance(b["prompt"], list) for b in server.bodies)
    assert load_prompts(run_dir)["n_prompt_tokens"].to_list() == [len(q) for q in problems["question"]]
    assert Path(run_dir / written[0]).exists()
