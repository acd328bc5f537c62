"""hf sampling backend vs a naive one-sequence-at-a-time loop on a CUDA GPU.

    PYTHONPATH=src python3 benchmarks/gpu_sampling.py          # CUDA: random weights, Qwen2.5-0.5B's shape
    PYTHONPATH=src python3 benchmarks/gpu_sampling.py --tiny   # CPU, tiny model: checks that the script runs

Self-contained: it needs torch, transformers and tokenizers only (not polars or pydantic), so
it runs on a bare GPU image with the repository's ``src`` on ``PYTHONPATH``. The model has
Qwen2.5-0.5B's dimensions (hidden 896, 24 layers, 14 query / 2 key-value heads, MLP 4864,
vocabulary 151,936, tied embeddings) in the Llama architecture (Qwen2 adds q/k/v biases, which
cost nothing measurable) with random weights, in bfloat16; the character tokenizer of
``analysis.tinymodel`` encodes the prompts. With random weights the end-of-sequence token is
almost never drawn, so every sample runs to ``--max-tokens``.

Both sides sample with the same temperature / top-p / max_tokens; the backend runs
``--batch-size`` sequences per ``generate`` call (chunks of ``--chunk-size`` with their own
seeds), the naive loop calls ``generate`` on one sequence at a time. Prints the card's name,
tokens/s and samples/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import transformers
from transformers import LlamaForCausalLM

from analysis.sampling.backends.hf import HFBackend
from analysis.sampling.types import GenParams, Request
from analysis.tinymodel import char_tokenizer, tiny_llama_config

QWEN25_05B_SHAPE = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_layers": 24,
    "num_heads": 14,
    "num_kv_heads": 2,
    "max_positions": 32768,
}
QWEN25_VOCAB = 151936


def build(args: argparse.Namespace, device: str) -> tuple[LlamaForCausalLM, object]:
    tokenizer = char_tokenizer()
    ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id}
    ids["eos_token_id"] = tokenizer.eos_token_id
    if args.tiny:
        config = tiny_llama_config(len(tokenizer), **ids)
    else:
        config = tiny_llama_config(QWEN25_VOCAB, **QWEN25_05B_SHAPE, **ids)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    dtype = torch.float32 if args.tiny else torch.bfloat16
    return model.to(dtype).eval(), tokenizer


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def backend_run(backend: HFBackend, prompts: list[str], args: argparse.Namespace, device: str) -> tuple[float, int]:
    params = GenParams(args.temperature, args.top_p, args.max_tokens)
    requests = [
        Request(p, None, min(args.chunk_size, args.n - c), seed=1000 * i + c)
        for i, p in enumerate(prompts)
        for c in range(0, args.n, args.chunk_size)
    ]
    batches, current, size = [], [], 0
    for r in requests:  # consecutive requests, at most batch_size sequences per generate call
        if current and size + r.n > args.batch_size:
            batches.append(current)
            current, size = [], 0
        current.append(r)
        size += r.n
    batches.append(current)
    backend.generate([Request(prompts[0], None, 2, seed=0)], GenParams(args.temperature, args.top_p, 4))  # warm-up
    sync(device)
    tokens = 0
    started = time.perf_counter()
    for batch in batches:
        tokens += sum(c.n_tokens or 0 for cs in backend.generate(batch, params) for c in cs)
    sync(device)
    return time.perf_counter() - started, tokens


def naive_run(model: LlamaForCausalLM, tokenizer, prompts: list[str], args, device: str) -> tuple[float, int]:
    eos = tokenizer.eos_token_id
    settings = {
        "do_sample": True,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": 0,
        "max_new_tokens": args.max_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos,
    }
    with torch.inference_mode():
        ids = tokenizer(prompts[0], return_tensors="pt").to(device)
        model.generate(**ids, **{**settings, "max_new_tokens": 4})  # warm-up
        sync(device)
        tokens = 0
        started = time.perf_counter()
        for i in range(args.naive_samples):
            ids = tokenizer(prompts[i % len(prompts)], return_tensors="pt").to(device)
            torch.manual_seed(i)
            new = model.generate(**ids, **settings)[0, ids["input_ids"].shape[1] :].tolist()
            tokens += new.index(eos) + 1 if eos in new else len(new)
        sync(device)
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU and the tiny test model (a smoke run)")
    parser.add_argument("--problems", type=int, default=None)
    parser.add_argument("--n", type=int, default=None, help="samples per problem")
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--naive-samples", type=int, default=None)
    args = parser.parse_args()
    defaults = (4, 16, 64, 32, 8) if args.tiny else (8, 64, 512, 256, 4)
    for name, value in zip(("problems", "n", "batch_size", "max_tokens", "naive_samples"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.chunk_size = min(args.chunk_size, args.n)

    if args.tiny:
        device = "cpu"
        torch.set_num_threads(1)
        card = f"CPU ({platform.processor() or platform.machine()}), 1 thread"
    else:
        if not torch.cuda.is_available():
            msg = "no CUDA device visible (use --tiny for a CPU smoke run)"
            raise SystemExit(msg)
        device = "cuda"
        card = torch.cuda.get_device_name(0)
    model, tokenizer = build(args, device)
    n_params = sum(p.numel() for p in model.parameters())
    prompts = [f"Q:{100 + 37 * i % 900}+{200 + 53 * i % 800}=" for i in range(args.problems)]
    backend = HFBackend(model, tokenizer, device, engine_key={})

    fast_s, fast_tokens = backend_run(backend, prompts, args, device)
    naive_s, naive_tokens = naive_run(model, tokenizer, prompts, args, device)
    fast_samples = args.problems * args.n

    print(f"device: {card}; torch {torch.__version__}, transformers {transformers.__version__}")
    shape = "tiny test model" if args.tiny else "Qwen2.5-0.5B shape (random weights, bf16)"
    print(f"model: {shape}, {n_params / 1e6:.1f} M parameters")
    print(
        f"settings: T={args.temperature} top_p={args.top_p} max_tokens={args.max_tokens}, "
        f"{args.problems} prompts x {args.n} samples, chunk {args.chunk_size}, batch {args.batch_size}"
    )
    print(
        f"hf backend : {fast_samples:5d} samples, {fast_tokens:8d} tokens in {fast_s:7.2f} s = "
        f"{fast_tokens / fast_s:10.0f} tok/s, {fast_samples / fast_s:8.2f} samples/s"
    )
    print(
        f"naive loop : {args.naive_samples:5d} samples, {naive_tokens:8d} tokens in {naive_s:7.2f} s = "
        f"{naive_tokens / naive_s:10.0f} tok/s, {args.naive_samples / naive_s:8.2f} samples/s"
    )
    ratio = (fast_tokens / fast_s) / (naive_tokens / naive_s)
    print(f"ratio      : {ratio:.1f}x tokens/s")
    if device == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
