"""GPU smoke test: hf-backend sampling, perplexity scoring and the toy world's stages on CUDA.

    PYTHONPATH=src python3 benchmarks/gpu_smoke.py                 # CUDA, Qwen2.5-1.5B's shape, < 8 min
    PYTHONPATH=src python3 benchmarks/gpu_smoke.py --device cpu    # CPU, a tiny model: checks that it runs

Needs torch, transformers, tokenizers, numpy, polars and pydantic (no network, no vLLM). The
model has Qwen2.5-1.5B's dimensions (hidden 1536, 28 layers, 12 query / 2 key-value heads,
MLP 8960, vocabulary 151,936, tied embeddings) in the Llama architecture with q/k/v/o biases
(Qwen2 has q/k/v biases only: 1.5k parameters of difference), random weights, bfloat16; the
character tokenizer of ``analysis.tinymodel`` encodes the prompts. With random weights the
end-of-sequence token is almost never drawn, so every sample runs to ``max_tokens``.

What it prints (figures and ratios measured in the same run):

1. memory bandwidth: a device-to-device copy of a large buffer (bytes read + written / s);
2. decoding with the hf backend (``analysis.sampling.backends.hf``) at each batch size, in
   tokens/s, against (a) the naive loop (``model.generate`` on one sequence at a time) and (b)
   the memory-bandwidth roofline: each decoding step reads every weight once (shared by the
   batch) plus the batch's KV cache, so a step takes at least (weight bytes + KV bytes at the
   mean context) / bandwidth, and tokens/s <= batch / that time;
3. perplexity scoring (``analysis.perplexity.score_responses``, teacher forcing) in scored
   tokens/s and model TFLOP/s (2 x parameters x tokens), against one response per forward;
4. the toy world's stages (pretraining, GRPO, distillation, evaluation) on the minimal
   toy-world config, on the CPU and on the device (``torch.set_default_device``), each timed;
   a stage that fails on the device prints its error.

Exit status 0 when every measurement ran and every check held (finite figures, the batched
backend faster than the naive loop on CUDA, no stage above the roofline), 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from analysis.sampling.backends.hf import HFBackend  # noqa: E402
from analysis.sampling.types import GenParams, Request  # noqa: E402
from analysis.tinymodel import char_tokenizer  # noqa: E402

QWEN25_15B = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1_000_000.0,
}
TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 1024,
}


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the CUDA plan fits 8 minutes on one H100/H200-class GPU."""

    batch_sizes: tuple[int, ...]
    max_tokens: int
    naive_samples: int
    score_responses: int
    score_chars: int
    score_batch: int
    naive_scores: int
    copy_mib: int


CUDA_PLAN = Plan((16, 64, 256), 256, 2, 256, 1024, 32, 16, 1024)
CPU_PLAN = Plan((1, 8), 16, 2, 16, 64, 8, 4, 16)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, fn: Callable[[], object]) -> tuple[float, object]:
    sync(device)
    started = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - started, out


def bandwidth(device: str, mib: int) -> float:
    """Bytes/s of a device-to-device copy (each byte read once and written once)."""
    src = torch.empty(mib << 20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up
    reps = 10
    seconds, _ = timed(device, lambda: [dst.copy_(src) for _ in range(reps)])
    return 2 * src.numel() * reps / seconds


def build(device: str, tokenizer) -> LlamaForCausalLM:
    shape = QWEN25_15B if device.startswith("cuda") else {**TINY, "vocab_size": len(tokenizer)}
    config = LlamaConfig(
        **shape,
        tie_word_embeddings=True,
        attention_bias=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return model.to(dtype).eval()


def prompts_for(count: int) -> list[str]:
    return [f"Question {i}: what is {100 + 37 * i % 900} + {200 + 53 * i % 800}? Answer:" for i in range(count)]


def kv_bytes_per_token(model: LlamaForCausalLM) -> int:
    c = model.config
    head_dim = c.hidden_size // c.num_attention_heads
    return 2 * c.num_hidden_layers * c.num_key_value_heads * head_dim * model.dtype.itemsize


def decode(backend: HFBackend, batch: int, max_tokens: int, device: str) -> tuple[float, int]:
    """One generate call of ``batch`` sequences (chunks of up to 32 with their own seeds)."""
    chunk = min(32, batch)
    prompts = prompts_for(-(-batch // chunk))
    requests = [Request(p, None, min(chunk, batch - i * chunk), seed=i) for i, p in enumerate(prompts)]
    params = GenParams(0.6, 0.95, max_tokens)
    backend.generate(requests[:1], GenParams(0.6, 0.95, 4))  # warm-up
    seconds, out = timed(device, lambda: backend.generate(requests, params))
    return seconds, sum(c.n_tokens or 0 for cs in out for c in cs)


def naive(model: LlamaForCausalLM, tokenizer, samples: int, max_tokens: int, device: str) -> tuple[float, int]:
    settings = {
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 0,
        "max_new_tokens": max_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    eos = tokenizer.eos_token_id
    prompt = prompts_for(1)[0]
    with torch.inference_mode():
        ids = tokenizer(prompt, return_tensors="pt").to(device)
        model.generate(**ids, **{**settings, "max_new_tokens": 4})  # warm-up

        def loop() -> int:
            tokens = 0
            for i in range(samples):
                torch.manual_seed(i)
                new = model.generate(**ids, **settings)[0, ids["input_ids"].shape[1] :].tolist()
                tokens += new.index(eos) + 1 if eos in new else len(new)
            return tokens

        seconds, tokens = timed(device, loop)
    return seconds, int(tokens)


def score(model, tokenizer, plan: Plan, device: str) -> dict[str, float]:
    from analysis.perplexity import ScoringOptions, score_responses

    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 +-=()"
    gen = torch.Generator().manual_seed(0)
    picks = torch.randint(len(alphabet), (plan.score_responses, plan.score_chars), generator=gen).tolist()
    responses = ["".join(alphabet[i] for i in row) for row in picks]
    prompts = prompts_for(plan.score_responses)
    options = ScoringOptions(
        batch_size=plan.score_batch, max_tokens_per_batch=plan.score_batch * (plan.score_chars + 64)
    )
    kwargs = {"options": options}
    score_responses(model, tokenizer, prompts[:2], responses[:2], progress=False, **kwargs)  # warm-up
    seconds, table = timed(
        device, lambda: score_responses(model, tokenizer, prompts, responses, progress=False, **kwargs)
    )
    k = plan.naive_scores
    one_s, one = timed(
        device,
        lambda: score_responses(
            model, tokenizer, prompts[:k], responses[:k], progress=False, options=ScoringOptions(batch_size=1)
        ),
    )
    tokens = int(table["n_tokens"].sum())
    same = float((table["nll_mean"].head(k) - one["nll_mean"]).abs().max())
    return {
        "tokens": tokens,
        "seconds": seconds,
        "naive_tokens": int(one["n_tokens"].sum()),
        "naive_seconds": one_s,
        "max_nll_diff_vs_batch1": same,
        "finite": bool(table["ppl"].is_finite().all()),
    }


def toyworld_stages(device: str) -> dict[str, float | str]:
    """Seconds per toy-world stage on the minimal config, run with ``device`` as torch's default device."""
    from analysis.toyworld.config import load_config
    from analysis.toyworld.distill import distill
    from analysis.toyworld.evaluate import evaluate_model
    from analysis.toyworld.pretrain import pretrain
    from analysis.toyworld.rl import grpo
    from analysis.toyworld.tasks import held_out_problems

    cfg = load_config(REPO / "configs" / "toyworld" / "minimal.yaml")
    rl_cfg = next(iter(cfg.rl.values()))
    out: dict[str, float | str] = {}
    state: dict[str, object] = {}

    def run_pretrain() -> None:
        state["base"] = pretrain(cfg)[0]

    def run_grpo() -> None:
        state["rl"] = grpo(state["base"], cfg, rl_cfg, 0)[0]

    def run_distill() -> None:
        state["distill"] = distill(copy.deepcopy(state["base"]), cfg)[0]

    def run_eval() -> None:
        evaluate_model(state["base"], held_out_problems(cfg.task), n=cfg.eval.n, temperature=1.0)

    previous = torch.get_default_device()
    torch.set_default_device(device)
    try:
        for name, fn in (("pretrain", run_pretrain), ("grpo", run_grpo), ("distill", run_distill), ("eval", run_eval)):
            try:
                out[name] = timed(device, fn)[0]
            except Exception as e:  # reported, not hidden: the toy world may not support the device
                out[name] = f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
                if name == "pretrain":
                    break
    finally:
        torch.set_default_device(previous)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a quick, scaled-down run)")
    args = parser.parse_args(argv)
    device = args.device
    started = time.perf_counter()
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.stderr.write("no CUDA device visible (use --device cpu for a CPU smoke run)\n")
            return 1
        plan, card = CUDA_PLAN, torch.cuda.get_device_name(0)
    else:
        torch.set_num_threads(1)
        plan, card = CPU_PLAN, f"CPU ({platform.processor() or platform.machine()}), 1 thread"
    ok = True
    say = sys.stdout.write
    say(f"device: {card}; torch {torch.__version__}, transformers {transformers.__version__}\n")

    bw = bandwidth(device, plan.copy_mib)
    say(f"[1] copy bandwidth: {bw / 1e9:.0f} GB/s ({plan.copy_mib} MiB buffer)\n")

    tokenizer = char_tokenizer()
    build_s, model = timed(device, lambda: build(device, tokenizer))
    n_params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    shape = "Qwen2.5-1.5B shape, random weights, bf16" if device.startswith("cuda") else "tiny shape, float32"
    say(
        f"model: {shape}: {n_params / 1e6:,.1f} M parameters, {weight_bytes / 2**20:,.1f} MiB, "
        f"built in {build_s:.1f} s\n"
    )

    backend = HFBackend(model, tokenizer, device, engine_key={})
    naive_s, naive_tokens = naive(model, tokenizer, plan.naive_samples, plan.max_tokens, device)
    naive_rate = naive_tokens / naive_s
    kv = kv_bytes_per_token(model)
    prompt_len = len(prompts_for(1)[0])
    say(f"[2] decoding, max_tokens={plan.max_tokens}, T=0.6, top-p 0.95\n")
    say(f"    naive loop (batch 1, {plan.naive_samples} samples): {naive_rate:10.0f} tok/s\n")
    for batch in plan.batch_sizes:
        seconds, tokens = decode(backend, batch, plan.max_tokens, device)
        rate = tokens / seconds
        mean_context = prompt_len + plan.max_tokens / 2
        weights_roofline = batch * bw / weight_bytes  # every weight read once per step, shared by the batch
        kv_step = batch * mean_context * kv
        roofline = batch * bw / (weight_bytes + kv_step)  # plus the batch's KV cache at the mean context
        say(
            f"    hf backend batch {batch:4d}: {rate:10.0f} tok/s = {rate / naive_rate:6.1f}x naive, "
            f"{rate / weights_roofline:6.1%} of the roofline ({weights_roofline:,.0f} tok/s from weights only; "
            f"{rate / roofline:.1%} of {roofline:,.0f} with {kv_step / 2**20:,.0f} MiB KV per step), "
            f"{seconds / (tokens / batch) * 1e3:.1f} ms per step measured\n"
        )
        # copy bandwidth can sit a little below the best read bandwidth: 25 % slack
        ok &= math.isfinite(rate) and rate <= roofline * 1.25
        if device.startswith("cuda") and batch >= 64:
            ok &= rate > naive_rate
    backend.close()
    model = model.to(device)  # close() drops the backend's reference only

    s = score(model, tokenizer, plan, device)
    flops = 2 * n_params * s["tokens"] / s["seconds"]
    naive_score_rate = s["naive_tokens"] / s["naive_seconds"]
    say(
        f"[3] perplexity scoring: {s['tokens']} tokens in {s['seconds']:.2f} s = {s['tokens'] / s['seconds']:,.0f} "
        f"tok/s ({flops / 1e12:.1f} TFLOP/s of 2 x params x tokens), "
        f"{s['tokens'] / s['seconds'] / naive_score_rate:.1f}x one response per forward; "
        f"max |nll| difference batched vs batch 1: {s['max_nll_diff_vs_batch1']:.2e}\n"
    )
    ok &= s["finite"]
    del model
    if device.startswith("cuda"):
        say(f"    peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB\n")
        torch.cuda.empty_cache()

    say("[4] toy world, minimal config (seconds per stage)\n")
    torch.set_num_threads(1)
    cpu = toyworld_stages("cpu")
    dev = toyworld_stages(device) if device != "cpu" else cpu
    for stage in ("pretrain", "grpo", "distill", "eval"):
        c, d = cpu.get(stage, "not run"), dev.get(stage, "not run")
        ratio = f"{c / d:6.2f}x" if isinstance(c, float) and isinstance(d, float) else ""
        say(f"    {stage:8s} cpu: {c if isinstance(c, str) else f'{c:7.2f}'}  {device}: "
            f"{d if isinstance(d, str) else f'{d:7.2f}'} {ratio}\n")  # fmt: skip
        ok &= isinstance(c, float)
    say(f"total wall time: {time.perf_counter() - started:.0f} s; checks {'passed' if ok else 'FAILED'}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
