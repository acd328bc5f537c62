"""vLLM offline backend (``vllm.LLM``).

Every chunk is one request with ``n`` = the chunk's size and its own seed (vLLM gives the
``j``-th sample of a request the seed ``seed + j``). Prompts are passed as token ids, tokenized
by the run (so the prompts table's token counts are exactly what the engine saw). Prefix
caching is on by default (all chunks of a problem share the prompt), ``max_model_len`` is set
explicitly, and the checkpoint's ``generation_config.json`` sampling defaults are ignored
(``generation_config="vllm"``) so that only the run's parameters apply, as with the vLLM
version the paper used.

vLLM schedules requests dynamically, so a sample is reproducible only up to the numerics of
the batch it ran in; statistics are reproducible, bits are not guaranteed (PAPER.md 6.5).

Scripts that use this backend need an ``if __name__ == "__main__":`` guard: the engine core
runs in a spawned process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from analysis.sampling.types import Completion, GenParams, ProgressFn, Request, ending

if TYPE_CHECKING:
    from analysis.sampling.config import SamplingConfig
    from analysis.sampling.identity import ModelRef


class VLLMBackend:
    """A ``vllm.LLM`` engine."""

    name = "vllm"

    def __init__(self, llm: Any, engine_key: dict[str, Any]):
        self.llm = llm
        self.engine_key = engine_key

    @classmethod
    def from_config(
        cls, config: SamplingConfig, model_ref: ModelRef, tok_ref: ModelRef | None, engine_key: dict[str, Any]
    ) -> VLLMBackend:
        from vllm import LLM

        tokenizer = tok_ref or model_ref
        llm = LLM(
            model=model_ref.ref,
            revision=model_ref.revision,
            tokenizer=tokenizer.ref,
            tokenizer_revision=tokenizer.revision,
            dtype=config.dtype,
            max_model_len=config.max_model_len,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            enable_prefix_caching=config.enable_prefix_caching,
            enforce_eager=config.enforce_eager,
            generation_config="vllm",
            seed=0,
        )
        return cls(llm, engine_key)

    def close(self) -> None:
        """Stop the engine core now (in order), not from finalizers at interpreter exit."""
        from analysis.childproc import shutdown_vllm

        llm, self.llm = self.llm, None
        if llm is not None:
            shutdown_vllm(llm)

    def generate(
        self, requests: Sequence[Request], params: GenParams, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        # vLLM refuses n > 1 with greedy decoding: a greedy request becomes n requests of n = 1.
        greedy = params.temperature == 0
        expanded = [(i, 1 if greedy else r.n) for i, r in enumerate(requests) for _ in range(r.n if greedy else 1)]
        sampling = [
            SamplingParams(
                n=n,
                temperature=params.temperature,
                top_p=1.0 if greedy else params.top_p,
                max_tokens=params.max_tokens,
                stop=list(params.stop) or None,
                stop_token_ids=list(params.stop_token_ids) or None,
                seed=requests[i].seed,
                skip_special_tokens=True,
            )
            for i, n in expanded
        ]
        prompts = [
            {"prompt_token_ids": requests[i].prompt_ids} if requests[i].prompt_ids is not None else requests[i].prompt
            for i, _ in expanded
        ]
        outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        result: list[list[Completion]] = [[] for _ in requests]
        for (i, n), output in zip(expanded, outputs, strict=True):
            samples = sorted(output.outputs, key=lambda o: o.index)
            if len(samples) != n:
                msg = f"vLLM returned {len(samples)} completions for a request of n={n}"
                raise RuntimeError(msg)
            for s in samples:
                if s.finish_reason not in ("stop", "length"):
                    msg = f"vLLM finished a sample with finish_reason={s.finish_reason!r} (seed {requests[i].seed})"
                    raise RuntimeError(msg)
                ended_by, stop_string = ending(s.finish_reason, getattr(s, "stop_reason", None))
                result[i].append(Completion(s.text, len(s.token_ids), s.finish_reason, ended_by, stop_string))
        if progress is not None:
            progress(sum(r.n for r in requests), sum(c.n_tokens or 0 for cs in result for c in cs))
        return result
