"""transformers ``generate`` backend: batched, KV-cached, on CPU or CUDA.

One ``generate`` call runs a whole part (several requests, each prompt repeated ``n`` times,
left-padded). Sampling is done by a logits processor that draws each request's tokens from its
own ``torch.Generator`` seeded with the request seed (``generate`` then runs greedy decoding
over the one token left standing), so a request's samples do not depend on what else ran in
the process before it. Temperature and top-p follow vLLM's definitions (top-p keeps the
smallest set of tokens whose probability reaches ``top_p``); temperature 0 is greedy.

Generation of a sequence ends at an end-of-sequence id (the tokenizer's, the model's
``generation_config.json`` ones, and the stop token ids), at a stop string, or at
``max_tokens``. Texts are decoded without special tokens and cut before the first stop string
(``finish_reason`` "stop"); ``max_tokens`` reached gives "length". ``n_tokens`` counts the
generated tokens up to and including the one that ended the sample.

Context limit (a run's ``fit_to_context``: ``GenParams.max_model_len`` set): each request
generates at most ``max_model_len - its prompt tokens`` (``capped_max_tokens``), as vLLM does at
the context's end. Rows of one call have different prompt lengths, so the call generates up to
the largest cap, a stopping criterion finishes each row at its own cap, and each row is cut to
its cap (finish reason ``length``). Like the vLLM backend, it counts the requests and samples it
capped (``capped_requests``, ``capped_samples``).

The model's own ``generation_config.json`` sampling defaults (repetition penalty, top-k, ...)
are ignored, as with vLLM's ``generation_config="vllm"``: only the run's parameters apply.

Images (``analysis.images``): a model of the Qwen2-VL family (``config.json`` model_type
``qwen2_vl`` or ``qwen2_5_vl``) loads as an image-text-to-text model with its image processor.
A prompt with image markers has each marker replaced by the family's placeholder, each image's
token expanded to the image's patch count, and is tokenized as vLLM tokenizes a text prompt;
its rows get the images' pixel values. Text-only prompts keep the run's token ids. A text-only
model refuses prompts with images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from analysis.images import (
    IMAGE_TOKEN,
    PLACEHOLDERS,
    ImageError,
    expand_image_tokens,
    has_images,
    image_token_counts,
    load_image,
    replace_markers,
)
from analysis.sampling.tokens import eos_ids, load_tokenizer
from analysis.sampling.types import Completion, GenParams, ProgressFn, Request, capped_max_tokens

if TYPE_CHECKING:
    from analysis.sampling.config import SamplingConfig
    from analysis.sampling.identity import ModelRef


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Position of the earliest stop string in ``text`` (``None`` if none occurs)."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def sampling_probs(scores: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """Next-token probabilities after temperature and top-p (vLLM's definitions), one row per sequence."""
    probs = torch.softmax(scores.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the tokens ranked above
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return probs


class _SeededSampler(LogitsProcessor):
    """Samples every request's rows with that request's generator; leaves one token per row."""

    def __init__(self, groups: list[tuple[int, int, int]], temperature: float, top_p: float, device: torch.device):
        self.temperature = temperature
        self.top_p = top_p
        self.groups = [(a, b, torch.Generator(device=device).manual_seed(seed)) for a, b, seed in groups]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.temperature == 0:
            chosen = scores.argmax(dim=-1)
        else:
            probs = sampling_probs(scores, self.temperature, self.top_p)
            chosen = torch.empty(scores.shape[0], dtype=torch.long, device=scores.device)
            for a, b, generator in self.groups:
                chosen[a:b] = torch.multinomial(probs[a:b], 1, generator=generator).squeeze(-1)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen.unsqueeze(1), 0.0)


class _StopStrings(StoppingCriteria):
    """Ends a row once the decoded tail of its generated text contains a stop string."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_len = prompt_len
        self.window = max(len(s) for s in stops) + 8  # tokens: each decodes to >= 1 character
        self.done_at: dict[int, int] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_len
        tails = input_ids[:, -min(generated, self.window) :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        done = [any(s in t for s in self.stops) for t in texts]
        for row, hit in enumerate(done):
            if hit:
                self.done_at.setdefault(row, generated)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _RowCaps(StoppingCriteria):
    """Ends each row once it has generated its own number of tokens."""

    def __init__(self, caps: Sequence[int], prompt_len: int, device: torch.device):
        self.caps = torch.tensor(list(caps), dtype=torch.long, device=device)
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return (input_ids.shape[1] - self.prompt_len) >= self.caps


class _Vision:
    """A vision-language model's image side: its image processor and placeholder."""

    def __init__(self, image_processor: Any, model_type: str):
        self.processor = image_processor
        self.placeholder = PLACEHOLDERS[model_type]
        self.image_token = IMAGE_TOKEN[model_type]

    def encode(self, tokenizer: Any, prompt: str) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """Token ids of a prompt with images (image tokens expanded), pixel values, patch grids."""
        text, refs = replace_markers(prompt, self.placeholder)
        features = self.processor(images=[load_image(r) for r in refs], return_tensors="pt")
        grids = features["image_grid_thw"]
        text = expand_image_tokens(text, image_token_counts(grids, self.processor.merge_size), self.image_token)
        return list(tokenizer(text)["input_ids"]), features["pixel_values"], grids


class HFBackend:
    """A transformers causal LM (or a Qwen2-VL-family image-text model) held in memory."""

    name = "hf"

    def __init__(
        self, model: Any, tokenizer: Any, device: str, engine_key: dict[str, Any], vision: _Vision | None = None
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.engine_key = engine_key
        self.vision = vision
        self.capped_requests = 0
        self.capped_samples = 0
        self.eos = eos_ids(tokenizer, model.generation_config.eos_token_id)
        if tokenizer.pad_token_id is not None:
            self.pad_id = int(tokenizer.pad_token_id)
        elif self.eos:
            self.pad_id = self.eos[0]
        else:
            msg = f"tokenizer {tokenizer.name_or_path!r} has neither a pad nor an end-of-sequence token"
            raise ValueError(msg)
        # Only the run's sampling parameters apply, never the checkpoint's defaults.
        model.generation_config = GenerationConfig(pad_token_id=self.pad_id, eos_token_id=list(self.eos))

    @classmethod
    def from_config(
        cls, config: SamplingConfig, model_ref: ModelRef, tok_ref: ModelRef | None, engine_key: dict[str, Any]
    ) -> HFBackend:
        from analysis.sampling.identity import resolved_device, resolved_dtype

        device = resolved_device(config)
        if device == "cpu":
            torch.set_num_threads(config.num_threads or 1)
        dtype = getattr(torch, resolved_dtype(config, device))
        tokenizer = load_tokenizer(model_ref, tok_ref)
        model_type = AutoConfig.from_pretrained(model_ref.ref, revision=model_ref.revision).model_type
        vision = None
        if model_type in PLACEHOLDERS:
            model = AutoModelForImageTextToText.from_pretrained(model_ref.ref, revision=model_ref.revision, dtype=dtype)
            image_processor = AutoImageProcessor.from_pretrained(model_ref.ref, revision=model_ref.revision)
            vision = _Vision(image_processor, model_type)
        else:
            model = AutoModelForCausalLM.from_pretrained(model_ref.ref, revision=model_ref.revision, dtype=dtype)
        model.to(device).eval()
        return cls(model, tokenizer, device, engine_key, vision)

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _encode(self, request: Request) -> list[int]:
        if request.prompt_ids is not None:
            return request.prompt_ids
        return list(self.tokenizer(request.prompt)["input_ids"])

    def generate(
        self, requests: Sequence[Request], params: GenParams, progress: ProgressFn | None = None
    ) -> list[list[Completion]]:
        rows: list[list[int]] = []
        groups: list[tuple[int, int, int]] = []
        pixels: list[torch.Tensor] = []
        grids: list[torch.Tensor] = []
        for request in requests:
            if has_images(request.prompt):
                if self.vision is None:
                    msg = (
                        f"the prompt holds images, but {self.tokenizer.name_or_path!r} is loaded as a text-only model "
                        "(the hf backend gives images to the Qwen2-VL family)"
                    )
                    raise ImageError(msg)
                ids, pixel_values, grid = self.vision.encode(self.tokenizer, request.prompt)
                pixels.extend([pixel_values] * request.n)
                grids.extend([grid] * request.n)
            else:
                ids = self._encode(request)
            if not ids:
                msg = f"empty prompt (request seed {request.seed})"
                raise ValueError(msg)
            groups.append((len(rows), len(rows) + request.n, request.seed))
            rows.extend([ids] * request.n)
        caps = self._caps(requests, rows, groups, params)
        images: dict[str, torch.Tensor] = {}
        if pixels:  # one copy of a request's images per row, in row order (the order of the image tokens)
            images = {
                "pixel_values": torch.cat(pixels).to(self.device, self.model.dtype),
                "image_grid_thw": torch.cat(grids).to(self.device),
            }
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(rows):  # left padding
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[i, width - len(ids) :] = 1
        stop_ids = tuple(dict.fromkeys([*self.eos, *params.stop_token_ids]))
        sampler = _SeededSampler(groups, params.temperature, params.top_p, self.device)
        stopper = _StopStrings(self.tokenizer, params.stop, width) if params.stop else None
        criteria: list[StoppingCriteria] = [stopper] if stopper else []
        if len(set(caps)) > 1:
            criteria.append(_RowCaps(caps, width, self.device))
        generation_config = GenerationConfig(
            max_new_tokens=max(caps),
            do_sample=False,
            num_beams=1,
            use_cache=True,
            eos_token_id=list(stop_ids),
            pad_token_id=self.pad_id,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=generation_config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList(criteria),
                **images,
            )
        generated = out[:, width:].tolist()
        done_at = stopper.done_at if stopper else {}
        completions = []
        for row, (tokens, cap) in enumerate(zip(generated, caps, strict=True)):
            stopped_at = done_at.get(row)  # a row carried past its cap may show a stop string beyond it
            stopped_at = stopped_at if stopped_at is not None and stopped_at <= cap else None
            completions.append(self._finish(tokens[:cap], set(stop_ids), params, stopped_at))
        result = [completions[a:b] for a, b, _ in groups]
        if progress is not None:
            progress(len(completions), sum(c.n_tokens or 0 for c in completions))
        return result

    def _caps(
        self, requests: Sequence[Request], rows: list[list[int]], groups: list[tuple[int, int, int]], params: GenParams
    ) -> list[int]:
        """New tokens each row may generate: ``max_tokens``, or what ``params.max_model_len`` leaves."""
        if params.max_model_len is None:
            return [params.max_tokens] * len(rows)
        caps: list[int] = []
        for request, (a, b, _) in zip(requests, groups, strict=True):
            what = f"the prompt of request seed {request.seed}"
            cap = capped_max_tokens(len(rows[a]), params.max_tokens, params.max_model_len, what)
            if cap < params.max_tokens:
                self.capped_requests += 1
                self.capped_samples += b - a
            caps.extend([cap] * (b - a))
        return caps

    def _decode(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _finish(self, tokens: list[int], stop_ids: set[int], params: GenParams, stopped_at: int | None) -> Completion:
        end = next((i for i, t in enumerate(tokens) if t in stop_ids), None)
        if stopped_at is not None and (end is None or stopped_at <= end):
            body, end = tokens[:stopped_at], None  # a stop string ended the row
        else:
            body = tokens[:end] if end is not None else tokens
        text = self._decode(body)
        cut = first_stop(text, params.stop) if params.stop else None
        if cut is not None:
            hit = min(params.stop, key=lambda s: i if (i := text.find(s)) >= 0 else len(text) + 1)
            return Completion(text[:cut], self._tokens_to_stop(body, params.stop), "stop", "stop_string", hit)
        if end is not None:
            return Completion(text, end + 1, "stop", "eos")
        if stopped_at is not None:  # the criterion saw a stop string that decoding the whole body did not show
            return Completion(text, len(body), "stop", "stop_string")
        return Completion(text, len(body), "length", "length")

    def _tokens_to_stop(self, body: list[int], stops: Sequence[str]) -> int:
        """The fewest leading tokens of ``body`` whose text holds a stop string."""
        lo, hi = 1, len(body)
        while lo < hi:
            mid = (lo + hi) // 2
            if first_stop(self._decode(body[:mid]), stops) is None:
                lo = mid + 1
            else:
                hi = mid
        return lo
