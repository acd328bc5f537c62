"""Toy world: the KV-cache sampler against Hugging Face ``generate`` on the same tiny model.

Samples ``--batch`` continuations of one toy prompt at T = 1.0 with both, on one torch thread,
and prints samples per second and the ratio. Uses a trained checkpoint if ``--checkpoint`` is
given (realistic stopping), else a randomly initialised default-shape model (no early stops).

    .venv/bin/python benchmarks/bench_toyworld_sampler.py [--checkpoint FOLDER] [--batch 1024]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from analysis.toyworld.config import ModelShape
    from analysis.toyworld.model import load_model, new_model, vocab
    from analysis.toyworld.sampler import sample

    model = load_model(args.checkpoint) if args.checkpoint else new_model(ModelShape(), seed=0).eval()
    v = vocab()
    prompts = torch.tensor([v.encode("Q:457+385=")] * args.batch)

    def ours() -> None:
        sample(
            model,
            prompts,
            max_new_tokens=args.max_new_tokens,
            temperature=1.0,
            generator=torch.Generator().manual_seed(0),
            eos_id=v.eos,
            pad_id=v.pad,
        )

    def hf() -> None:
        torch.manual_seed(0)
        with torch.no_grad():
            model.generate(
                prompts,
                attention_mask=torch.ones_like(prompts),
                do_sample=True,
                temperature=1.0,
                top_p=1.0,
                top_k=0,
                max_new_tokens=args.max_new_tokens,
                eos_token_id=v.eos,
                pad_token_id=v.pad,
            )

    times = {}
    for name, fn in (("toyworld sampler", ours), ("transformers generate", hf)):
        fn()  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
        print(f"{name:24s} {best:7.3f} s  {args.batch / best:9.0f} samples/s")
    ratio = times["transformers generate"] / times["toyworld sampler"]
    print(
        f"speed-up of the toyworld sampler over generate: {ratio:.2f}x "
        f"(batch {args.batch}, {args.max_new_tokens} new tokens, 1 thread)"
    )


if __name__ == "__main__":
    main()
