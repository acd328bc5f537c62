"""Preflight of a study: what would fail on the GPU, found on a laptop before any job runs.

``preflight(config)`` reads every model's ``config.json`` (a local folder, or the hub at the
pinned revision through ``huggingface_hub``'s cache: a few KB, no weights) and its tokenizer,
renders every prompt the study will send, and checks each benchmark file. It returns a
``Preflight`` holding

* errors, each naming the model or benchmark and the field: an explicit ``max_model_len`` above
  the positions the model was trained for (``max_position_embeddings``, times the rope-scaling
  factor where the config declares one, as vLLM derives it; vLLM refuses a longer
  ``max_model_len`` and forcing it generates past trained positions); the longest prompt plus
  ``max_tokens`` above the context (``max_model_len``), unless the model opts in to
  ``fit_to_context`` (then each sample is capped at ``max_model_len`` minus its prompt, and only a
  prompt that leaves no room for one generated token is an error); a benchmark file whose SHA-256
  differs from its pin;
* warnings: a hub revision that is not a pinned commit, a tokenizer that could not be loaded
  (prompt lengths are then bounded by their UTF-8 byte count), a benchmark read from the hub or
  from a file other than the paper's;
* notes: how a ``fit_to_context`` model's samples are capped;
* a table per model (jobs, samples, estimated generated tokens, disk for the samples, GPU-hours)
  and the benchmark files with their hashes.

Estimates (stated, not measured): a sample's mean length is ``mean_tokens`` (default by role:
``MEAN_TOKENS``, from the public reproduction's 606 / 685 mean output tokens of Qwen2.5-7B /
SimpleRL-Zoo on MATH500, and R1-style models writing several thousand tokens), capped at
``max_tokens``; disk is ``DISK_BYTES_PER_TOKEN`` per generated token plus ``DISK_BYTES_PER_SAMPLE``
(zstd parquet of English/LaTeX text); GPU-hours use ``tokens_per_s`` per GPU (default by model
size: ``DEFAULT_TOKENS_PER_S``, an order-of-magnitude assumption for vLLM decoding at large
batch on one H100/H200-class GPU; replace it with a measured figure).

Command line: ``python -m analysis.preflight CONFIG [--tokens-per-s N] [--mean-tokens N]``; exit
status 1 when there is an error. ``make plan CONFIG=...`` runs it before the workflow's dry run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis import prompts
from analysis.benchmarks import MATH_BENCHMARKS, BenchmarkError, load_benchmark, source_record
from analysis.config import ModelEntry, StudyConfig, load_config, sampling_jobs

# vLLM's order of keys for a model's trained context (``_get_and_verify_max_len``); the smallest wins.
POSITION_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
# Rope types whose factor vLLM does not multiply into the context (they declare it themselves).
_UNSCALED_ROPE = {None, "default", "su", "longrope", "llama3", "mrope"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

MEAN_TOKENS = {"base": 700, "rl": 700, "other": 700, "distill": 4000}
DISK_BYTES_PER_TOKEN = 1.5
DISK_BYTES_PER_SAMPLE = 64
# (largest parameter count in billions, generated tokens/s per GPU)
DEFAULT_TOKENS_PER_S: tuple[tuple[float, float], ...] = (
    (3.0, 12_000.0),
    (10.0, 5_000.0),
    (20.0, 2_500.0),
    (40.0, 1_200.0),
    (float("inf"), 500.0),
)


class PreflightError(RuntimeError):
    """The study would fail; the message lists every reason."""


@dataclass(frozen=True)
class ModelContext:
    """What a model's config allows."""

    positions: int  # trained positions, rope scaling applied
    field: str  # the config key they come from, e.g. "max_position_embeddings"
    declared: int  # that key's value
    rope: str | None  # e.g. "yarn x4.0 of 32768"
    params_b: float | None  # parameter count in billions, estimated from the shape


@dataclass
class Preflight:
    """The preflight's findings; ``ok`` when there is no error."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: pl.DataFrame | None = None
    benchmarks: pl.DataFrame | None = None
    prompts: list[dict[str, Any]] = field(default_factory=list)  # longest prompt per model x benchmark

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> str:
        with pl.Config(
            tbl_rows=100,
            tbl_cols=20,
            tbl_width_chars=250,
            fmt_str_lengths=100,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
            tbl_formatting="MARKDOWN",
        ):
            lines = [f"ERROR: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
            lines += [f"note: {n}" for n in self.notes]
            if self.models is not None:
                lines += ["", "Per model:", str(self.models)]
            if self.prompts:
                lines += ["", "Longest prompt per model and benchmark (tokens):", str(pl.DataFrame(self.prompts))]
            if self.benchmarks is not None:
                lines += ["", "Benchmark files:", str(self.benchmarks)]
        lines.append("" if self.ok else f"\npreflight FAILED: {len(self.errors)} error(s)")
        return "\n".join(lines)


def read_model_config(path: str, revision: str | None) -> dict[str, Any]:
    """A model's ``config.json``: from a local folder, or from the hub at ``revision`` (cached)."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        file = folder / "config.json"
        if not file.is_file():
            msg = f"{folder} has no config.json"
            raise FileNotFoundError(msg)
    else:
        from huggingface_hub import hf_hub_download

        file = Path(hf_hub_download(path, "config.json", revision=revision))
    return json.loads(file.read_text(encoding="utf-8"))


def _text_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The language model's part of a (possibly multimodal) config."""
    return cfg.get("text_config") or cfg.get("llm_config") or cfg


def model_context(cfg: dict[str, Any]) -> ModelContext:
    """Trained positions of a model config, the way vLLM derives its largest ``max_model_len``."""
    text = _text_config(cfg)
    found = [(text[k], k) for k in POSITION_KEYS if isinstance(text.get(k), int) and text[k] > 0]
    if not found:
        msg = f"the model config declares none of {', '.join(POSITION_KEYS)}"
        raise ValueError(msg)
    declared, key = min(found)
    rope = text.get("rope_scaling") or text.get("rope_parameters") or None
    positions, described = declared, None
    if isinstance(rope, dict):
        kind = rope.get("rope_type", rope.get("type"))
        factor = rope.get("factor")
        if kind not in _UNSCALED_ROPE and isinstance(factor, (int, float)):
            base = rope.get("original_max_position_embeddings", declared) if kind == "yarn" else declared
            positions = int(base * factor)
            described = f"{kind} x{factor:g} of {base}"
    return ModelContext(positions, key, declared, described, estimate_params_b(text))


def estimate_params_b(cfg: dict[str, Any]) -> float | None:
    """Parameters (billions) of a decoder-only transformer from its shape; ``None`` if the shape is not given."""
    try:
        h, layers, vocab = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"]), int(cfg["vocab_size"])
        inter = int(cfg.get("intermediate_size") or 4 * h)
        heads = int(cfg.get("num_attention_heads") or 1)
        kv = int(cfg.get("num_key_value_heads") or heads)
    except (KeyError, TypeError, ValueError):
        return None
    head_dim = int(cfg.get("head_dim") or h // heads)
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2
    mlp = 3 * h * inter
    embed = vocab * h * (1 if cfg.get("tie_word_embeddings") else 2)
    return (layers * (attn + mlp) + embed) / 1e9


def tokens_per_s_for(params_b: float | None) -> float:
    """The documented default decode throughput per GPU for a model of ``params_b`` billion parameters."""
    size = 7.0 if params_b is None else params_b
    return next(rate for limit, rate in DEFAULT_TOKENS_PER_S if size <= limit)


def _revision_warning(m: ModelEntry) -> str | None:
    if m.is_toyworld or Path(m.path).expanduser().is_dir():
        return None
    if m.revision is None:
        return f"model {m.name!r} ({m.path}): revision is not set; the hub copy can change under the same name"
    if not _COMMIT.match(m.revision):
        return (
            f"model {m.name!r} ({m.path}): revision {m.revision!r} is not pinned (not a 40-hex commit); "
            "replace it with the commit you download"
        )
    return None


def _load_tokenizer(m: ModelEntry) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(m.path, revision=m.revision)


def _source(bench_source: str | None, root: Path) -> str | None:
    if bench_source is None or bench_source == "hub" or Path(bench_source).is_absolute():
        return bench_source
    local = root / bench_source
    return str(local) if local.exists() else bench_source


def _benchmark_files(cfg: StudyConfig, root: Path, result: Preflight) -> dict[str, pl.DataFrame]:
    """Check and hash each benchmark's file; return the problems of those that load."""
    problems: dict[str, pl.DataFrame] = {}
    rows = []
    for b in cfg.benchmarks:
        source = _source(b.source, root)
        try:
            record = source_record(b.name, source, b.sha256)
            problems[b.name] = load_benchmark(b.name, source, b.limit, b.sha256)
        except (BenchmarkError, OSError) as e:
            result.errors.append(f"benchmark {b.name!r} (source {b.source!r}): {e}")
            continue
        except Exception as e:  # a hub that cannot be reached, a bad task config, ...
            result.errors.append(f"benchmark {b.name!r} (source {b.source!r}) could not be read: {e}")
            continue
        if b.name in MATH_BENCHMARKS:
            if source == "hub":
                result.warnings.append(
                    f"benchmark {b.name!r} is read from the hub copy, not the paper's file "
                    "(give a folder laid out like shared/benchmarks/math)"
                )
            elif not record.get("paper_file"):
                result.warnings.append(f"benchmark {b.name!r}: {record['file']} is not the paper's file")
        rows.append(
            {
                "benchmark": b.name,
                "problems": problems[b.name].height,
                "file": record.get("file", "(task family)"),
                "sha256": record.get("sha256", ""),
                "pinned": "config" if b.sha256 else ("paper" if record.get("paper_file") else ""),
            }
        )
    result.benchmarks = pl.DataFrame(rows, schema=["benchmark", "problems", "file", "sha256", "pinned"], orient="row")
    return problems


def _longest_prompt(m: ModelEntry, tokenizer: Any, problems: pl.DataFrame) -> tuple[int, str]:
    """(tokens, problem id) of the longest prompt ``m`` gets on ``problems``.

    Tokenized in one batch, as ``prompts.encode`` does one by one (special tokens added to raw
    prompts, not to chat-rendered ones).
    """
    ids = problems["problem_id"].to_list()
    texts = [prompts.render(m.template, q, chat=m.chat_template, tokenizer=tokenizer) for q in problems["question"]]
    if tokenizer is None:
        lengths = [len(t.encode("utf-8")) for t in texts]  # an upper bound for byte-level tokenizers
    else:
        lengths = [len(x) for x in tokenizer(texts, add_special_tokens=not m.chat_template)["input_ids"]]
    return max(zip(lengths, ids, strict=True))


def _check_model(
    cfg: StudyConfig, m: ModelEntry, problems: dict[str, pl.DataFrame], result: Preflight
) -> tuple[int | None, ModelContext | None]:
    """Check one model's context limits; return its effective max_model_len and context."""
    where = f"model {m.name!r} ({m.path}{'@' + m.revision if m.revision else ''})"
    if m.is_toyworld:
        return cfg.max_model_len_for(m), None  # trained by the study itself: no config yet
    try:
        ctx = model_context(read_model_config(m.path, m.revision))
    except Exception as e:
        result.errors.append(f"{where}: cannot read its config.json: {e}")
        return None, None
    explicit = cfg.max_model_len_for(m)
    max_len = explicit or ctx.positions
    max_tokens = cfg.max_tokens_for(m)
    scale = f", {ctx.rope}" if ctx.rope else ""
    if explicit is not None and explicit > ctx.positions:
        result.errors.append(
            f"{where}: max_model_len={explicit} exceeds the {ctx.positions} positions the model was trained for "
            f"(config.json {ctx.field}={ctx.declared}{scale}); set models[{m.name}].max_model_len <= {ctx.positions}"
        )
        max_len = ctx.positions
    try:
        tokenizer = _load_tokenizer(m)
    except Exception as e:
        tokenizer = None
        result.warnings.append(f"{where}: tokenizer not loaded ({e}); prompt lengths bounded by UTF-8 bytes")
    fit = cfg.fit_to_context_for(m)
    fewest: list[tuple[int, int, str, str]] = []  # (new tokens left, prompt tokens, benchmark, problem id)
    for bench, probs in problems.items():
        if probs.height == 0:
            continue
        n_prompt, pid = _longest_prompt(m, tokenizer, probs)
        result.prompts.append(
            {
                "model": m.name,
                "benchmark": bench,
                "longest_prompt": n_prompt,
                "problem_id": pid,
                "counted_by": "tokenizer" if tokenizer is not None else "UTF-8 bytes",
                "max_tokens": max_tokens,
                "max_model_len": max_len,
                "headroom": max_len - n_prompt - max_tokens,
                "fit_to_context": fit,
            }
        )
        fewest.append((min(max_tokens, max_len - n_prompt), n_prompt, bench, pid))
        if fit and n_prompt >= max_len:
            result.errors.append(
                f"{where}: the longest {bench} prompt ({n_prompt} tokens, {pid}) leaves no room for a generated "
                f"token in max_model_len={max_len} (fit_to_context); raise models[{m.name}].max_model_len (up to the "
                f"model's {ctx.positions} positions)"
            )
        elif not fit and n_prompt + max_tokens > max_len:
            result.errors.append(
                f"{where}: max_tokens={max_tokens} plus the longest {bench} prompt ({n_prompt} tokens, {pid}) is "
                f"{n_prompt + max_tokens}, more than max_model_len={max_len} (model positions {ctx.positions}: "
                f"config.json {ctx.field}={ctx.declared}{scale}); lower models[{m.name}].max_tokens to at most "
                f"{max_len - n_prompt}, or opt in to models[{m.name}].fit_to_context"
            )
    if fit and fewest:
        left, n_prompt, bench, pid = min(fewest)
        result.notes.append(
            f"{where}: fit_to_context: each sample generates at most min(max_tokens={max_tokens}, "
            f"max_model_len={max_len} - its prompt tokens), as vLLM stops at the context's end; the longest prompt "
            f"({bench} {pid}, {n_prompt} tokens) leaves {left}"
        )
    return max_len, ctx


def preflight(
    config: StudyConfig | str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    tokens_per_s: float | None = None,
    mean_tokens: int | None = None,
) -> Preflight:
    """Check ``config`` without running anything; see the module docstring.

    ``root``: the folder relative benchmark sources are read from (default: the working
    directory, as the workflow runs). ``tokens_per_s``/``mean_tokens`` replace the defaults.
    """
    cfg = config if isinstance(config, StudyConfig) else load_config(config)
    base = Path(root) if root is not None else Path.cwd()
    result = Preflight()
    if not getattr(cfg, "imports", None):
        result.warnings.extend(w for m in cfg.models if (w := _revision_warning(m)))
    problems = _benchmark_files(cfg, base, result)
    importing = bool(getattr(cfg, "imports", None))  # an import study samples nothing: no model is loaded
    if importing:
        result.warnings.append("import study: nothing is sampled, so no model config or context limit is checked")
    jobs = [] if importing else sampling_jobs(cfg)
    rows = []
    for m in cfg.models:
        max_len, ctx = (cfg.max_model_len_for(m), None) if importing else _check_model(cfg, m, problems, result)
        max_tokens = cfg.max_tokens_for(m)
        mine = [j for j in jobs if j.model == m.name]
        samples = sum(j.n * problems[j.benchmark].height for j in mine if j.benchmark in problems)
        mean = min(mean_tokens or MEAN_TOKENS[m.role], max_tokens)
        tokens = samples * mean
        params_b = ctx.params_b if ctx else None
        rate = tokens_per_s or tokens_per_s_for(params_b)
        gpus = cfg.sampling.tensor_parallel_size
        rows.append(
            {
                "model": m.name,
                "positions": ctx.positions if ctx else None,
                "max_model_len": max_len,
                "max_tokens": max_tokens,
                "fit_to_context": cfg.fit_to_context_for(m),
                "params_B": round(params_b, 2) if params_b is not None else None,
                "jobs": len(mine),
                "samples": samples,
                "est_tokens_M": round(tokens / 1e6, 3),
                "max_tokens_M": round(samples * max_tokens / 1e6, 3),
                "disk_GB": round((tokens * DISK_BYTES_PER_TOKEN + samples * DISK_BYTES_PER_SAMPLE) / 1e9, 3),
                "tok_s_per_GPU": rate,
                "GPU_h": round(tokens / rate / 3600 * gpus, 2),
            }
        )
    result.models = pl.DataFrame(rows)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.preflight", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="study config (YAML)")
    parser.add_argument("--root", default=None, help="folder relative benchmark sources are read from (default: .)")
    parser.add_argument("--tokens-per-s", type=float, default=None, help="generated tokens/s per GPU")
    parser.add_argument("--mean-tokens", type=int, default=None, help="mean generated tokens per sample")
    args = parser.parse_args(argv)
    result = preflight(args.config, root=args.root, tokens_per_s=args.tokens_per_s, mean_tokens=args.mean_tokens)
    sys.stdout.write(result.report() + "\n")
    if result.models is not None and result.ok:
        total = result.models.select(pl.col("est_tokens_M", "disk_GB", "GPU_h").sum()).row(0, named=True)
        sys.stdout.write(
            f"total: {total['est_tokens_M']:.1f} M generated tokens (estimate), {total['disk_GB']:.2f} GB of "
            f"samples, {total['GPU_h']:.1f} GPU-hours; assumptions: mean tokens per sample by role {MEAN_TOKENS} "
            f"(capped at max_tokens), tokens/s per GPU by size {DEFAULT_TOKENS_PER_S} unless given\n"
        )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
