"""Perplexity and entropy: how likely each model finds the other models' responses.

* ``score_responses``: teacher-forced NLL / perplexity of responses given their exact prompts,
  with a transformers (reference) or vLLM ``prompt_logprobs`` backend.
* ``cross_perplexity``: the scorer x generator matrix as a ``scores`` table
  (``responses_table`` builds its input from a sampling run's samples and prompts tables).
* ``response_entropy``, ``mean_entropy``, ``match_temperature``: next-token entropy at a
  temperature along given responses, and the entropy-matched temperature (PAPER.md section 4.5).
* ``ScoringOptions``: how all of them encode and score (EOS id, special tokens, backend, and the
  batching, padding and chunking that shape only the computation); ``options=None`` is the defaults.

How prompt and response are tokenised, and the EOS default: ``analysis.perplexity.tokens``.
The vLLM helpers (``load_llm``, ``score_in_subprocess``) live in ``analysis.perplexity.vllm``,
which imports without vLLM installed but is not imported here.
"""

from analysis.perplexity.cross import cross_perplexity, load_scorer, model_fingerprint, responses_table
from analysis.perplexity.entropy import (
    ResponseEntropy,
    TemperatureMatch,
    match_temperature,
    mean_entropy,
    response_entropy,
)
from analysis.perplexity.options import ScoringOptions
from analysis.perplexity.score import score_responses
from analysis.perplexity.tokens import EncodedPair, encode_pairs

__all__ = [
    "EncodedPair",
    "ResponseEntropy",
    "ScoringOptions",
    "TemperatureMatch",
    "cross_perplexity",
    "encode_pairs",
    "load_scorer",
    "match_temperature",
    "mean_entropy",
    "model_fingerprint",
    "response_entropy",
    "responses_table",
    "score_responses",
]
