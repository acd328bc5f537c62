"""hf sampling backend vs a naive one-sequence-at-a-time loop, same tiny model, same settings.

    .venv/bin/python benchmarks/bench_sampling.py [--problems 16] [--n 64] [--max-tokens 32]

Builds a tiny Llama model (``analysis.tinymodel``) in a temporary folder, samples
``problems x n`` completions of toy-world-like prompts with ``run_sampling`` (backend ``hf``),
then times a naive loop (``model.generate`` on one sequence at a time, ``do_sample=True``, same
temperature / top-p / max_tokens) on ``--naive-samples`` of them. Prints samples/s and
tokens/s of both and their ratio (target: the backend at least 5x the loop). Model loading is
excluded from both timings. ``--threads`` sets torch's CPU threads for both.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from analysis import schemas
from analysis.sampling import SamplingConfig, run_sampling
from analysis.tinymodel import build_tiny_model


def toy_problems(count: int, seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        a, b = rng.randrange(100, 1000), rng.randrange(100, 1000)
        rows.append(("bench", f"bench/{i}", i, f"Q:{a}+{b}=", [str(a + b)], None, "{}"))
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


def naive_loop(model_dir: Path, prompts: list[str], samples: int, args: argparse.Namespace) -> tuple[float, int]:
    """Seconds and tokens for ``samples`` completions generated one sequence at a time."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    eos = tokenizer.eos_token_id
    tokens = 0
    started = time.perf_counter()
    with torch.inference_mode():
        for i in range(samples):
            ids = tokenizer(prompts[i % len(prompts)], return_tensors="pt")
            torch.manual_seed(i)
            out = model.generate(
                **ids,
                do_sample=True,
                temperature=args.temperature,
                top_p=args.top_p,
                top_k=0,
                max_new_tokens=args.max_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
            )
            new = out[0, ids["input_ids"].shape[1] :].tolist()
            tokens += new.index(eos) + 1 if eos in new else len(new)
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=64, help="samples per problem")
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None, help="sequences per generate call (default: hf's)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--naive-samples", type=int, default=96)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny")
        problems = toy_problems(args.problems)
        config = SamplingConfig(
            backend="hf",
            model=str(model_dir),
            benchmark="bench",
            template="plain",
            n=args.n,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            num_threads=args.threads,
            device="cpu",
        )
        run_dir = run_sampling(config, Path(tmp) / "runs", problems=problems, progress=False)
        summary = json.loads((run_dir / "_SUCCESS.json").read_text())
        fast_s, fast_samples, fast_tokens = summary["sampling_s"], summary["samples"], summary["tokens"]
        naive_s, naive_tokens = naive_loop(model_dir, problems["question"].to_list(), args.naive_samples, args)

    fast_sps, naive_sps = fast_samples / fast_s, args.naive_samples / naive_s
    fast_tps, naive_tps = fast_tokens / fast_s, naive_tokens / naive_s
    print(f"torch {torch.__version__}, {args.threads} thread(s); tiny Llama (analysis.tinymodel defaults)")
    print(
        f"settings: T={args.temperature} top_p={args.top_p} max_tokens={args.max_tokens}, "
        f"batch_size={config.effective_batch_size}, chunk_size={args.chunk_size}"
    )
    print(
        f"hf backend : {fast_samples:6d} samples in {fast_s:7.2f} s = {fast_sps:9.1f} samples/s, {fast_tps:10.0f} tok/s"
    )
    print(
        f"naive loop : {args.naive_samples:6d} samples in {naive_s:7.2f} s = {naive_sps:9.1f} samples/s, "
        f"{naive_tps:10.0f} tok/s"
    )
    print(f"ratio      : {fast_sps / naive_sps:.1f}x samples/s, {fast_tps / naive_tps:.1f}x tokens/s (target >= 5x)")


if __name__ == "__main__":
    main()
