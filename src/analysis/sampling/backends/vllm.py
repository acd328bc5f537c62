"""vLLM offline backend (``vllm.LLM``).

Every chunk is one request with ``n`` = the chunk's size and its own seed (vLLM gives the
``j``-th sample of a request the seed ``seed + j``). Prompts are passed as token ids, tokenized
by the run (so the prompts table's token counts are exactly what the engine saw). Prefix
caching is on by default (all chunks of a problem share the prompt), ``max_model_len`` is set
explicitly, and the checkpoint's ``generation_config.json`` sampling defaults are ignored
(``generation_config="vllm"``) so that only the run's parameters apply, as with the vLLM
version the paper used.

Context limit, per request: where a prompt plus ``max_tokens`` exceeds ``max_model_len`` (the
engine's, or a smaller one the call's ``GenParams.max_model_len`` names), the request generates
``max_model_len - prompt tokens`` instead, as the paper's code did with its 4,096-position models
(vLLM stopped each sequence at the context's end; the paper's vLLM <= 0.6.3 stopped once prompt
plus output exceeded ``max_model_len``, one token later than this cap and today's engine). A run
gets here only with ``fit_to_context``; without it the runner refuses such prompts before any
model is loaded. Such samples end with finish reason ``length`` at that count; the backend
counts the requests and samples it capped (``capped_requests``, ``capped_samples``) and logs
each capped call. A prompt that leaves no room for one generated token is an error
(``ContextError``) naming the prompt's length and the limit.

Images (``analysis.images``): a prompt with image markers goes to the engine as text with the
model family's image placeholder and the images as ``multi_modal_data``. Its length for the
context limit counts each image as the tokens the model's image processor makes of it; the
engine's own count is compared afterwards and a difference is logged.

vLLM schedules requests dynamically, so a sample is reproducible only up to the numerics of
the batch it ran in; statistics are reproducible, bits are not guaranteed (PAPER.md 6.5).

Scripts that use this backend need an ``if __name__ == "__main__":`` guard: the engine core
runs in a spawned process.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from analysis.images import (
    IMAGE_TOKEN,
    expand_image_tokens,
    has_images,
    image_token_counts,
    load_image,
    placeholder_for,
    replace_markers,
)
from analysis.sampling.types import (
    Completion,
    ContextError,
    GenParams,
    ProgressFn,
    Request,
    capped_max_tokens,
    ending,
)

if TYPE_CHECKING:
    from analysis.sampling.config import SamplingConfig
    from analysis.sampling.identity import ModelRef

logger = logging.getLogger(__name__)

__all__ = ["ContextError", "VLLMBackend", "capped_max_tokens"]


class VLLMBackend:
    """A ``vllm.LLM`` engine."""

    name = "vllm"

    def __init__(
        self,
        llm: Any,
        engine_key: dict[str, Any],
        *,
        max_model_len: int | None = None,
        model_ref: ModelRef | None = None,
    ):
        self.llm = llm
        self.engine_key = engine_key
        self.max_model_len = max_model_len or int(llm.llm_engine.model_config.max_model_len)
        self.model_ref = model_ref
        self.capped_requests = 0
        self.capped_samples = 0
        self._image_processor: Any = None

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
        return cls(llm, engine_key, model_ref=model_ref)

    def close(self) -> None:
        """Stop the engine core now (in order), not from finalizers at interpreter exit."""
        from analysis.childproc import shutdown_vllm

        llm, self.llm = self.llm, None
        if llm is not None:
            shutdown_vllm(llm)

    def _model_type(self) -> str | None:
        return getattr(self.llm.llm_engine.model_config.hf_config, "model_type", None)

    def _images(self, prompt: str) -> tuple[dict[str, Any], int]:
        """A prompt with images as the engine takes it, and its length in tokens (images expanded)."""
        model_type = self._model_type()
        text, refs = replace_markers(prompt, placeholder_for(model_type))
        images = [load_image(r) for r in refs]
        if self._image_processor is None:
            from transformers import AutoImageProcessor

            ref = self.model_ref
            if ref is None:
                msg = "prompts with images need the backend's model reference (open it with open_backend)"
                raise ValueError(msg)
            self._image_processor = AutoImageProcessor.from_pretrained(ref.ref, revision=ref.revision)
        grids = self._image_processor(images=images, return_tensors="pt")["image_grid_thw"]
        counts = image_token_counts(grids, self._image_processor.merge_size)
        expanded = expand_image_tokens(text, counts, IMAGE_TOKEN[model_type])
        n_tokens = len(self.llm.get_tokenizer()(expanded)["input_ids"])
        return {"prompt": text, "multi_modal_data": {"image": images if len(images) > 1 else images[0]}}, n_tokens

    def _prompt(self, request: Request) -> tuple[Any, int]:
        """What the engine is given for ``request`` and the prompt's length in tokens."""
        if has_images(request.prompt):
            return self._images(request.prompt)
        if request.prompt_ids is not None:
            return {"prompt_token_ids": request.prompt_ids}, len(request.prompt_ids)
        return request.prompt, len(self.llm.get_tokenizer()(request.prompt)["input_ids"])

    def generate(
        self, requests: Sequence[Request], params: GenParams, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        prepared = [self._prompt(r) for r in requests]
        context = min(self.max_model_len, params.max_model_len or self.max_model_len)
        limits = [
            capped_max_tokens(n, params.max_tokens, context, f"the prompt of request seed {r.seed}")
            for r, (_, n) in zip(requests, prepared, strict=True)
        ]
        capped = [i for i, limit in enumerate(limits) if limit < params.max_tokens]
        if capped:
            self.capped_requests += len(capped)
            self.capped_samples += sum(requests[i].n for i in capped)
            logger.info(
                "max_tokens=%d capped to fit max_model_len=%d for %d of %d requests (as low as %d new tokens)",
                params.max_tokens,
                context,
                len(capped),
                len(requests),
                min(limits),
            )
        # vLLM refuses n > 1 with greedy decoding: a greedy request becomes n requests of n = 1.
        greedy = params.temperature == 0
        expanded = [(i, 1 if greedy else r.n) for i, r in enumerate(requests) for _ in range(r.n if greedy else 1)]
        sampling = [
            SamplingParams(
                n=n,
                temperature=params.temperature,
                top_p=1.0 if greedy else params.top_p,
                max_tokens=limits[i],
                stop=list(params.stop) or None,
                stop_token_ids=list(params.stop_token_ids) or None,
                seed=requests[i].seed,
                skip_special_tokens=True,
            )
            for i, n in expanded
        ]
        outputs = self.llm.generate([prepared[i][0] for i, _ in expanded], sampling, use_tqdm=False)
        result: list[list[Completion]] = [[] for _ in requests]
        for (i, n), output in zip(expanded, outputs, strict=True):
            seen = getattr(output, "prompt_token_ids", None)
            if seen is not None and len(seen) != prepared[i][1]:
                logger.warning(
                    "the engine saw %d prompt tokens where %d were counted (request seed %d): the context limit "
                    "was computed from the counted length",
                    len(seen),
                    prepared[i][1],
                    requests[i].seed,
                )
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
