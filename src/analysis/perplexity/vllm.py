"""The vLLM backend: teacher-forced scores from ``prompt_logprobs`` (for large models).

Each (prompt, response) pair is encoded exactly as the transformers backend does
(``tokens.encode_pairs``) and sent as one token-id prompt with ``max_tokens=1`` and
``prompt_logprobs=0``: vLLM then returns, for every prompt position after the first, the
log-probability of the token actually there (from the raw logits, vLLM's default
``logprobs_mode``). The response positions are summed. vLLM turns prefix caching off for such
requests by itself, so every position is computed.

vLLM is imported lazily: this module imports without it. On a CPU-only machine vLLM lives in a
separate environment; ``score_in_subprocess`` runs this module's command line there::

    .venv-vllm/bin/python -m analysis.perplexity.vllm --model DIR --input pairs.parquet --output scores.parquet

(``pairs.parquet``: columns ``prompt``, ``response`` and optionally a Boolean ``include_eos``.)

That child follows ``analysis.childproc``: it writes the scores and their completion marker
before it shuts the engine down, and the parent judges it by them, not by its exit status (vLLM
on CPU can abort while the process shuts down, after the work is done).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis import childproc
from analysis.perplexity.frame import scores_frame
from analysis.perplexity.options import ScoringOptions, resolve
from analysis.perplexity.tokens import encode_pairs, eos_flags

#: Environment for small vLLM runs on a CPU with few cores (see TOOLING-NOTES.md section 4).
CPU_ENV: dict[str, str] = {
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "OMP_NUM_THREADS": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
}


def load_llm(
    model: str | os.PathLike[str],
    *,
    dtype: str = "auto",
    max_model_len: int | None = None,
    seed: int = 0,
    enforce_eager: bool = False,
    **engine_kwargs: Any,
) -> Any:
    """A ``vllm.LLM`` for scoring (call it under ``if __name__ == "__main__":`` in scripts)."""
    from vllm import LLM

    return LLM(
        model=str(model),
        dtype=dtype,
        max_model_len=max_model_len,
        seed=seed,
        enforce_eager=enforce_eager,
        **engine_kwargs,
    )


def score_responses_vllm(
    llm: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """``score_responses`` with ``options.backend == "vllm"``: see ``analysis.perplexity.score_responses``.

    ``options`` defaults to ``ScoringOptions(backend="vllm")``; options for the ``"hf"`` backend
    are refused. Only ``eos_token_id`` and ``add_special_tokens`` are read: vLLM schedules its
    own batches.
    """
    options = resolve(options, backend="vllm")
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    if isinstance(llm, (str, os.PathLike)):
        llm = load_llm(llm)
    if tokenizer is None:
        tokenizer = llm.get_tokenizer()
    pairs = encode_pairs(
        tokenizer,
        prompts,
        responses,
        include_eos=include_eos,
        eos_token_id=options.eos_token_id,
        add_special_tokens=options.add_special_tokens,
    )
    max_model_len = int(llm.llm_engine.model_config.max_model_len)
    for i, pair in enumerate(pairs):
        if len(pair) >= max_model_len:
            msg = (
                f"pair {i} has {len(pair)} tokens; vLLM needs fewer than max_model_len={max_model_len} "
                "(the prompt plus one generated token); load the engine with a larger max_model_len"
            )
            raise ValueError(msg)
    if not pairs:
        return scores_frame(np.zeros(0), np.zeros(0, dtype=np.int64))
    params = SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False)
    outputs = llm.generate([TokensPrompt(prompt_token_ids=list(p.ids)) for p in pairs], params, use_tqdm=progress)
    sums = np.zeros(len(pairs), dtype=np.float64)
    for i, (pair, out) in enumerate(zip(pairs, outputs, strict=True)):
        ids = pair.ids
        if list(out.prompt_token_ids) != list(ids):
            msg = f"vLLM returned output for other token ids than pair {i} (request order mixed up?)"
            raise RuntimeError(msg)
        start = len(pair.prompt_ids)
        sums[i] = math.fsum(out.prompt_logprobs[j][ids[j]].logprob for j in range(start, len(ids)))
    counts = np.array([len(p.response_ids) for p in pairs], dtype=np.int64)
    return scores_frame(sums, counts)


def score_in_subprocess(
    python: str | os.PathLike[str],
    model: str | os.PathLike[str],
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    include_eos: bool | Sequence[bool] = False,
    options: ScoringOptions | None = None,
    dtype: str = "auto",
    max_model_len: int | None = None,
    enforce_eager: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> pl.DataFrame:
    """Score with vLLM in another Python environment (e.g. ``.venv-vllm/bin/python``): one engine start.

    ``options`` are those of ``score_responses_vllm`` (default ``ScoringOptions(backend="vllm")``);
    ``eos_token_id`` and ``add_special_tokens`` are passed to the child's command line.

    ``env`` is added to the current environment (default ``CPU_ENV``). The child is judged by its
    output (``analysis.childproc.run_child``): complete scores count even when it dies by a
    signal during teardown (logged as a warning); otherwise ``childproc.ChildFailed`` (a
    ``RuntimeError``) is raised with the child's last log lines.
    """
    options = resolve(options, backend="vllm")
    prompts, responses = list(prompts), list(responses)
    flags = eos_flags(include_eos, len(responses))
    with tempfile.TemporaryDirectory(prefix="vllm-score-") as tmp:
        src, dst = Path(tmp) / "pairs.parquet", Path(tmp) / "scores.parquet"
        pl.DataFrame(
            {"prompt": prompts, "response": responses, "include_eos": flags},
            schema={"prompt": pl.String, "response": pl.String, "include_eos": pl.Boolean},
        ).write_parquet(src)
        cmd = [str(python), "-m", "analysis.perplexity.vllm", "--model", str(model), "--input", str(src)]
        cmd += ["--output", str(dst), "--dtype", dtype]
        if max_model_len is not None:
            cmd += ["--max-model-len", str(max_model_len)]
        if enforce_eager:
            cmd.append("--enforce-eager")
        if not options.add_special_tokens:
            cmd.append("--no-special-tokens")
        if options.eos_token_id is not None:
            cmd += ["--eos-token-id", str(options.eos_token_id)]
        childproc.run_child(
            cmd,
            output=dst,
            expected_rows=len(responses),
            env={**os.environ, **(CPU_ENV if env is None else env)},
            timeout=timeout,
            what="vLLM scoring",
        )
        return pl.read_parquet(dst)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: score a parquet of (prompt, response[, include_eos]) pairs with vLLM.

    Writes the scores and their completion marker (``analysis.childproc``), then shuts the
    engine down; run as a script it then leaves with ``os._exit`` (see ``childproc.exit_now``).
    """
    parser = argparse.ArgumentParser(prog="python -m analysis.perplexity.vllm", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model folder (or hub id)")
    parser.add_argument("--input", required=True, type=Path, help="parquet with prompt, response[, include_eos]")
    parser.add_argument("--output", required=True, type=Path, help="parquet to write: nll_mean, ppl, n_tokens")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--no-special-tokens", action="store_true", help="encode prompts without special tokens")
    parser.add_argument("--eos-token-id", type=int, default=None)
    args = parser.parse_args(argv)

    pairs = pl.read_parquet(args.input)
    missing = {"prompt", "response"} - set(pairs.columns)
    if missing:
        parser.error(f"{args.input} lacks columns {sorted(missing)}")
    include_eos = pairs["include_eos"].to_list() if "include_eos" in pairs.columns else False
    try:
        options = ScoringOptions(
            backend="vllm", eos_token_id=args.eos_token_id, add_special_tokens=not args.no_special_tokens
        )
    except ValueError as err:
        parser.error(str(err))
    llm = load_llm(
        args.model, dtype=args.dtype, max_model_len=args.max_model_len, seed=args.seed, enforce_eager=args.enforce_eager
    )
    try:
        scores = score_responses_vllm(
            llm,
            None,
            pairs["prompt"].to_list(),
            pairs["response"].to_list(),
            include_eos=include_eos,
            options=options,
            progress=False,
        )
        childproc.write_parquet_output(scores, args.output)  # output and marker first, then teardown
    finally:
        childproc.shutdown_vllm(llm)
    return 0


if __name__ == "__main__":
    childproc.exit_now(main())
