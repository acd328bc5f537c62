"""Teacher-forced scoring throughput: batched against one response at a time, same model, same run.

Scores the same (prompt, response) pairs with ``analysis.perplexity.score_responses`` twice on a
tiny Llama (``analysis.tinymodel``): once in batches bounded by rows and padded tokens, once with
``ScoringOptions(batch_size=1)`` (one forward pass per response, no padding). Two workloads:

* ``toy``: the toy world's shape (TOYWORLD-NOTES.md: prompt ``Q:abc+def=``, responses of at most
  29 characters, 3,200 sequences): the CPU scoring this project does. The >= 5x target is checked
  here.
* ``long``: responses of 10-600 characters. With sequences this long a tiny model is
  compute-bound even one at a time, so batching gains much less; reported as measured.
* ``memory``: one 8,000-token response under a tiny model with Qwen2.5's vocabulary size
  (152,064): the added peak resident memory of scoring it (chunked float32 log-softmax), next to
  the size its full float32 logits would have (computed, not allocated).

Prints response tokens scored per second for each variant and the ratio, and checks that both
variants give the same numbers (exit 1 if not, 2 if the target is missed).

    .venv/bin/python benchmarks/bench_perplexity.py [--workload toy|long|memory|all] [--repeats 5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time

import numpy as np
import torch

from analysis.perplexity import ScoringOptions, score_responses
from analysis.tinymodel import build_tiny_model, char_tokenizer, tiny_llama_config

TARGET_RATIO = 5.0


def make_pairs(workload: str, n: int, seed: int) -> tuple[list[str], list[str]]:
    """Random (prompt, response) strings shaped like the workload."""
    rng = np.random.default_rng(seed)

    def text(alphabet: str, lo: int, hi: int) -> str:
        return "".join(rng.choice(list(alphabet), int(rng.integers(lo, hi + 1))))

    if workload == "toy":
        prompts = [f"Q:{rng.integers(100, 999)}+{rng.integers(100, 999)}=" for _ in range(n)]
        return prompts, [text("0123456789>;:RLA", 8, 29) for _ in range(n)]
    alphabet = "abcdefghijklmnopqrstuvwxyz 0123456789+-=()\n"
    return [text(alphabet, 20, 120) for _ in range(n)], [text(alphabet, 10, 600) for _ in range(n)]


def timed_pair(fn_a, fn_b, repeats: int) -> tuple[float, object, float, object]:
    """Best-of-``repeats`` wall time of two variants, run alternately so both see the same machine load."""
    best_a = best_b = float("inf")
    out_a = out_b = None
    for _ in range(repeats):
        start = time.perf_counter()
        out_a = fn_a()
        best_a = min(best_a, time.perf_counter() - start)
        start = time.perf_counter()
        out_b = fn_b()
        best_b = min(best_b, time.perf_counter() - start)
    return best_a, out_a, best_b, out_b


#: workload -> (pairs, batch_size, max_tokens_per_batch)
WORKLOADS = {"toy": (3200, 256, 16384), "long": (256, 16, 8192)}


def bench(model, tokenizer, workload: str, repeats: int, batch_size: int | None, max_tokens: int | None) -> tuple:
    n, default_rows, default_tokens = WORKLOADS[workload]
    batch_size = batch_size or default_rows
    max_tokens = max_tokens or default_tokens
    prompts, responses = make_pairs(workload, n, seed=0)

    def run(rows: int, tokens: int):
        options = ScoringOptions(batch_size=rows, max_tokens_per_batch=tokens)
        return score_responses(model, tokenizer, prompts, responses, options=options, progress=False)

    run(batch_size, max_tokens)  # warm-up (and the one-off head check)
    t_one, one, t_batched, batched = timed_pair(lambda: run(1, 10**9), lambda: run(batch_size, max_tokens), repeats)
    tokens = int(batched["n_tokens"].sum())
    diff = float(np.abs(one["nll_mean"].to_numpy() - batched["nll_mean"].to_numpy()).max())
    rate_one, rate_batched = tokens / t_one, tokens / t_batched
    ratio = rate_batched / rate_one
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses, strict=True)]
    print(
        f"\n[{workload}] {n} responses, {tokens:,} response tokens scored (sequence length "
        f"{min(lengths)}-{max(lengths)}, mean {np.mean(lengths):.0f}); best of {repeats}"
    )
    print(f"  one at a time (batch_size=1):  {t_one:7.3f} s  {rate_one:10,.0f} tokens/s")
    print(f"  batched ({batch_size} rows, <= {max_tokens} tokens): {t_batched:7.3f} s  {rate_batched:10,.0f} tokens/s")
    print(f"  speed-up: {ratio:.1f}x;  max |nll_mean difference|: {diff:.2e}")
    return ratio, diff


def bench_memory(response_tokens: int = 8000, vocab: int = 152_064) -> None:
    """Added peak RSS of scoring one long response with a large vocabulary (run first: RSS peaks only grow)."""
    from transformers import LlamaForCausalLM

    tokenizer = char_tokenizer(model_max_length=response_tokens + 256)
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(vocab, max_positions=response_tokens + 256)).eval()
    rng = np.random.default_rng(0)
    prompt = "".join(rng.choice(list("abc+=0123456789"), 100))
    response = "".join(rng.choice(list("abc+=0123456789 \n"), response_tokens))
    score_responses(model, tokenizer, ["Q:"], ["1"], progress=False)  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB -> MiB
    start = time.perf_counter()
    out = score_responses(model, tokenizer, [prompt], [response], progress=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    full = response_tokens * vocab * 4 / 2**20
    print(
        f"\n[memory] one response of {int(out['n_tokens'][0]):,} tokens, 100-token prompt, vocabulary {vocab:,}: "
        f"{seconds:.1f} s, added peak RSS {after - before:,.0f} MiB (process peak {after:,.0f} MiB); "
        f"its full float32 logits alone would take {full:,.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=["toy", "long", "memory", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=5, help="timings per variant (alternating); the best is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for tiny models here)")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per batch (default per workload)")
    parser.add_argument("--max-tokens-per-batch", type=int, default=None, help="padded tokens (default per workload)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_model(tmp, seed=0)
        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
    print(
        f"model: tiny Llama (hidden {model.config.hidden_size}, {model.config.num_hidden_layers} layers, "
        f"vocab {model.config.vocab_size}, {sum(p.numel() for p in model.parameters()):,} parameters), float32, CPU, "
        f"{torch.get_num_threads()} torch thread(s)"
    )
    if args.workload in ("memory", "all"):
        bench_memory()
    workloads = [w for w in ("toy", "long") if args.workload in (w, "all")]
    results = {
        w: bench(model, tokenizer, w, args.repeats, args.batch_size, args.max_tokens_per_batch) for w in workloads
    }
    if any(diff > 1e-5 for _, diff in results.values()):
        print("ERROR: batched and one-at-a-time scores differ", file=sys.stderr)
        return 1
    if "toy" in results:
        ratio = results["toy"][0]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"\ntarget: batched >= {TARGET_RATIO:.0f}x one at a time on the toy workload: {ratio:.1f}x, {verdict}")
        return 0 if ratio >= TARGET_RATIO else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
