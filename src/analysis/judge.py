"""An LLM judge of reasoning, for reasoning-checked pass@k on math (``metrics.reasoning``).

    from analysis.judge import JudgeConfig, run_judge
    from analysis.metrics.reasoning import apply_verdicts, checked_counts

    config = JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="judge", revision="<commit>")
    verdicts, subset = run_judge(config, grades, samples, problems, "data/verdicts/math500.parquet")
    counts = checked_counts(apply_verdicts(grades, verdicts, subset))

What it does:

1. The subset: by default ``metrics.reasoning.judge_subset`` of the grades' counts, the (model,
   problem) pairs solved in at least one and at most 2% of the samples (where a right answer may be
   luck; the paper checked the same problems by hand). Any counts-shaped frame can be given instead.
2. The queue: the correct samples of the subset (``judge_queue``), with their texts and the
   problems' questions and gold answers.
3. One request per sample to an OpenAI-compatible ``/v1/completions`` endpoint through the
   project's openai backend (retries, concurrency), greedy by default. The prompt is the rubric with
   ``{question}``, ``{reference}`` and ``{response}`` filled in, wrapped in a chat template where
   ``chat_tokenizer`` names one. ``structured`` passes vLLM's ``structured_outputs`` (e.g.
   ``{"regex": ...}``), which keeps a small judge's reply parseable.
4. The reply is parsed (:func:`parse_verdict`): the last ``VERDICT: VALID`` / ``VERDICT: INVALID``;
   a reply without one leaves ``reasoning_valid`` null, which ``apply_verdicts`` counts as not valid.
5. Each verdict is stored per sample (:data:`JUDGE_VERDICTS`: ``metrics.reasoning.VERDICTS`` plus
   identity) with the judge's identity: ``judge`` (the served model name), ``judge_model`` (what the
   server says it serves, vLLM's ``root``: a folder or hub ID), ``judge_revision`` (the given
   revision, else a content fingerprint of a local model folder, else null), ``prompt_hash`` (of the
   rubric and chat template) and ``judge_version`` (a hash of all of these and the decoding
   settings; ``apply_verdicts`` refuses to mix versions). The file is rewritten atomically after each
   batch, so an interrupted judge resumes where it stopped; a file of another judge version is
   refused (write another file).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis.metrics.counts import counts_from_grades
from analysis.metrics.reasoning import DEFAULT_LUCK_SHARE, VERDICTS, judge_queue, judge_subset
from analysis.sampling.backends.openai import OpenAIBackend
from analysis.sampling.identity import folder_fingerprint
from analysis.sampling.types import GenParams, Request
from analysis.store import atomic_write_parquet, stable_hash

DEFAULT_RUBRIC = """You are checking a solution to a math problem. Its final answer matches the reference answer. \
Decide whether the reasoning that reaches it is valid: each step follows from the previous ones, nothing \
essential is guessed or skipped, and the answer is derived rather than stated by luck.

Problem:
{question}

Reference answer:
{reference}

Solution:
{response}

Explain your judgement in a few sentences, then end with one line: VERDICT: VALID or VERDICT: INVALID.
"""
FIELDS = ("question", "reference", "response")
KEYS = ["model", "benchmark", "problem_id", "sample_index"]

JUDGE_VERDICTS = pl.Schema(
    {
        **VERDICTS,
        "judge_model": pl.String,  # what the server serves under ``judge`` (vLLM: the model folder or hub ID)
        "judge_revision": pl.String,  # hub commit, or a content fingerprint of a local folder; null if unknown
        "prompt_hash": pl.String,  # hash of the rubric (and chat template) the verdict was asked with
    }
)
"""A stored verdict: ``metrics.reasoning.VERDICTS`` (``rationale`` = the judge's reply) plus identity."""

_VERDICT = re.compile(r"VERDICT\s*[:=]\s*[*_`\"']*\s*(VALID|INVALID)\b", re.IGNORECASE)
_BARE = re.compile(r"^\s*[*_`\"']*\s*(VALID|INVALID)\b", re.IGNORECASE)
_FIELD = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")


class JudgeError(ValueError):
    """Bad judge input, or a server that does not serve the named judge."""


@dataclass(frozen=True)
class JudgeConfig:
    """Which judge, how it is asked, and how requests are sent."""

    base_url: str  # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1
    model: str  # the served model name
    revision: str | None = None  # hub commit of the judge model (recorded; pin it for hub models)
    rubric: str = DEFAULT_RUBRIC
    chat_tokenizer: str | None = None  # folder or hub ID whose chat template wraps the prompt
    structured: Mapping[str, Any] | None = None  # vLLM structured_outputs, e.g. {"regex": "..."}
    max_tokens: int = 1024
    temperature: float = 0.0
    seed: int = 0
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    max_retries: int = 6
    timeout_s: float = 600.0
    batch_size: int = 64  # verdicts per write (what an interruption can lose)
    extra: dict[str, Any] = field(default_factory=dict)  # other body fields sent with every request

    def __post_init__(self) -> None:
        if "{response}" not in self.rubric:
            msg = "the rubric must contain {response} (and may contain {question} and {reference})"
            raise JudgeError(msg)
        if self.batch_size < 1 or self.max_tokens < 1 or self.concurrency < 1:
            msg = "batch_size, max_tokens and concurrency must be at least 1"
            raise JudgeError(msg)

    @property
    def primed(self) -> bool:
        """Whether the rubric ends with ``VERDICT:``, so that the reply starts with the verdict."""
        return self.rubric.rstrip().upper().endswith("VERDICT:")


def render(rubric: str, question: str, reference: str, response: str) -> str:
    """The rubric with its fields filled in (one pass: braces inside the texts stay as they are)."""
    values = {"question": question, "reference": reference, "response": response}
    return _FIELD.sub(lambda m: values[m[1]], rubric)


def parse_verdict(reply: str, *, primed: bool = False) -> bool | None:
    """True for VALID, False for INVALID, None when the reply holds no verdict.

    The last ``VERDICT: ...`` in the reply counts; with ``primed`` (the prompt ended with
    ``VERDICT:``) a reply that starts with the bare word counts too.
    """
    found = _VERDICT.findall(reply)
    if found:
        return found[-1].upper() == "VALID"
    if primed and (m := _BARE.match(reply)):
        return m[1].upper() == "VALID"
    return None


class JudgeClient(OpenAIBackend):
    """The openai backend, with vLLM's ``structured_outputs`` and any extra fields in every body."""

    def __init__(self, config: JudgeConfig) -> None:
        api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
        super().__init__(
            config.base_url,
            config.model,
            api_key=api_key,
            concurrency=config.concurrency,
            max_retries=config.max_retries,
            timeout_s=config.timeout_s,
        )
        self.extra_body = dict(config.extra)
        if config.structured:
            self.extra_body["structured_outputs"] = dict(config.structured)

    def body(self, request: Request, params: GenParams) -> dict[str, Any]:
        return {**super().body(request, params), **self.extra_body}

    def served(self) -> dict[str, Any]:
        """The endpoint's ``/models`` entry for this judge; ``JudgeError`` if it serves no such model."""
        response = self.client.get(self.url.rsplit("/", 1)[0] + "/models")
        response.raise_for_status()
        entries = response.json().get("data", [])
        for entry in entries:
            if entry.get("id") == self.model:
                return entry
        msg = f"{self.url} serves {[e.get('id') for e in entries]}, not the judge {self.model!r}"
        raise JudgeError(msg)


def _chat_wrapper(config: JudgeConfig) -> tuple[Any, str | None]:
    if config.chat_tokenizer is None:
        return None, None
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.chat_tokenizer)
    if not tokenizer.chat_template:
        msg = f"chat_tokenizer {config.chat_tokenizer!r} has no chat template"
        raise JudgeError(msg)
    return tokenizer, tokenizer.chat_template


def judge_identity(config: JudgeConfig, client: JudgeClient, chat_template: str | None = None) -> dict[str, Any]:
    """The identity columns every verdict of this judge carries (asks the server what it serves)."""
    root = str(client.served().get("root") or config.model)
    revision = config.revision
    if revision is None and Path(root).is_dir():
        revision = "content:" + folder_fingerprint(root)
    prompt_hash = stable_hash({"rubric": config.rubric, "chat_template": chat_template})
    decoding = {
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "seed": config.seed,
        "structured": dict(config.structured) if config.structured else None,
        "extra": config.extra,
    }
    identity = {"judge": config.model, "judge_model": root, "judge_revision": revision, "prompt_hash": prompt_hash}
    return {**identity, "judge_version": stable_hash({**identity, "decoding": decoding})}


def default_subset(
    grades: pl.DataFrame | pl.LazyFrame, *, max_share: float = DEFAULT_LUCK_SHARE, grader: str | None = None
) -> pl.DataFrame:
    """The problems to judge: per model, those solved in at least one and at most ``max_share`` of the samples."""
    return judge_subset(counts_from_grades(grades, grader=grader), max_share=max_share)


def _queue(
    grades: pl.DataFrame | pl.LazyFrame,
    samples: pl.DataFrame | pl.LazyFrame,
    problems: pl.DataFrame,
    subset: pl.DataFrame,
    grader: str | None,
) -> pl.DataFrame:
    lf = grades.lazy()
    if grader is not None:
        lf = lf.filter(pl.col("grader") == grader)
    queue = judge_queue(lf, subset).with_columns(pl.col("sample_index").cast(pl.Int32))
    texts = (
        samples.lazy()
        .select(*KEYS, "text")
        .with_columns(pl.col("sample_index").cast(pl.Int32))
        .join(queue.lazy(), on=KEYS, how="semi")
        .collect()
    )
    questions = problems.select(
        "benchmark", "problem_id", "question", pl.col("gold").list.join(" or ").alias("reference")
    )
    out = queue.join(texts, on=KEYS, how="left").join(questions, on=["benchmark", "problem_id"], how="left")
    for col, what in (("text", "samples table"), ("question", "problems table")):
        missing = out.filter(pl.col(col).is_null())
        if missing.height:
            row = missing.row(0, named=True)
            msg = f"the {what} has no {col} for {row['model']!r} {row['problem_id']!r} sample {row['sample_index']}"
            raise JudgeError(msg)
    return out


def _read_existing(out: Path, version: str) -> pl.DataFrame:
    if not out.is_file():
        return pl.DataFrame(schema=JUDGE_VERDICTS)
    existing = pl.read_parquet(out)
    if existing.schema != JUDGE_VERDICTS:
        msg = f"{out} does not hold judge verdicts (columns {existing.columns})"
        raise JudgeError(msg)
    other = sorted(set(existing["judge_version"].to_list()) - {version})
    if other:
        msg = f"{out} holds verdicts of judge version(s) {other}, not {version}; write this judge's to another file"
        raise JudgeError(msg)
    return existing


def run_judge(
    config: JudgeConfig,
    grades: pl.DataFrame | pl.LazyFrame,
    samples: pl.DataFrame | pl.LazyFrame,
    problems: pl.DataFrame,
    out: str | os.PathLike[str],
    *,
    subset: pl.DataFrame | None = None,
    max_share: float = DEFAULT_LUCK_SHARE,
    grader: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Judge the correct samples of ``subset`` (default :func:`default_subset`); returns (verdicts, subset).

    ``grades`` and ``samples`` are the project's tables (``grader`` picks one grader's rows);
    ``problems`` gives questions and gold answers. Verdicts go to ``out`` (parquet,
    :data:`JUDGE_VERDICTS`), resumably; samples judged there already are not asked again.
    """
    out = Path(out)
    if subset is None:
        subset = default_subset(grades, max_share=max_share, grader=grader)
    queue = _queue(grades, samples, problems, subset, grader)
    client = JudgeClient(config)
    try:
        tokenizer, chat_template = _chat_wrapper(config)
        identity = judge_identity(config, client, chat_template)
        verdicts = _read_existing(out, identity["judge_version"])
        todo = queue.join(verdicts.select(KEYS), on=KEYS, how="anti").sort(KEYS)
        params = GenParams(temperature=config.temperature, top_p=1.0, max_tokens=config.max_tokens)
        for start in range(0, todo.height, config.batch_size):
            batch = todo.slice(start, config.batch_size)
            prompts = [
                render(config.rubric, r["question"], r["reference"] or "", r["text"])
                for r in batch.iter_rows(named=True)
            ]
            if tokenizer is not None:
                prompts = [
                    tokenizer.apply_chat_template(
                        [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                    )
                    for p in prompts
                ]
            replies = client.generate([Request(p, None, 1, config.seed) for p in prompts], params)
            texts = [r[0].text for r in replies]
            new = batch.select(KEYS).with_columns(
                pl.Series("reasoning_valid", [parse_verdict(t, primed=config.primed) for t in texts], dtype=pl.Boolean),
                pl.Series("rationale", texts, dtype=pl.String),
                *(pl.lit(v, dtype=pl.String).alias(k) for k, v in identity.items()),
            )
            verdicts = pl.concat([verdicts, new.select(JUDGE_VERDICTS.names())]).sort(KEYS)
            atomic_write_parquet(verdicts, out)
    finally:
        client.close()
    if not out.is_file():  # nothing to judge: still leave the (empty) file, so a caller can tell it ran
        atomic_write_parquet(verdicts, out)
    return verdicts, subset
