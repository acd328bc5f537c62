"""Prompt templates: how a question becomes the string a model is conditioned on.

Each template carries

* ``raw``: the full prompt string, chat markup pasted in, as the paper's official code does
  (it never calls ``tokenizer.apply_chat_template``); the default;
* ``system`` / ``user``: the same prompt as chat messages, for the chat-template option
  (``render(..., chat=True, tokenizer=...)`` applies the model's own chat template);
* ``stop``: the stop strings the official evaluator uses with this template.

``{question}`` in a template is replaced by the question text (plain text replacement, so
LaTeX braces such as ``\\boxed{}`` need no escaping). Like the official ``construct_prompt``,
the question is stripped of surrounding whitespace and the raw prompt of surrounding spaces.

Sources (PAPER.md sections 3.3 and 6.3):

* ``qwen-boxed``, ``qwen25-math-cot``, ``simplerl-abel``: the Qwen2.5-Math evaluator's
  ``PROMPT_TEMPLATES`` that limit-of-RLVR and SimpleRL-Zoo ship (``utils.py``).
* ``deepseek-r1``: the R1-style ``<think>``/``<answer>`` prompt, text as in a fork of the same
  evaluator; limit-of-RLVR's own ``utils.py`` was not available to compare against.
* ``dapo``: the old DAPO-Qwen-32B prompt (limit-of-RLVR redefines its ``abel`` template as this
  prompt). limit-of-RLVR's exact string was not available; the text here is the one in the
  DAPO model card's inference example (BytedTsinghua-SIA), which PAPER.md's description matches.
  Its stop strings include ``"Answer:"``, which, as in the official code, cuts the final
  ``Answer: X`` line off (PAPER.md section 6.4); pass ``stop`` explicitly to change that.
* ``r1-distill``: DeepSeek-R1-Distill's own chat format, an alternative to ``qwen-boxed`` for
  R1-distilled models (the paper's code gives them ``qwen-boxed``; see configs/paper-math.yaml).
* ``easyr1``: the visual models' prompt (Qwen2.5-VL-7B-Instruct and its EasyR1 GRPO model).
  PAPER.md 3.3 quotes it only in part: a system prompt "You are Qwen, created by Alibaba Cloud
  … <think> … \\boxed{}" plus the image. The gaps are filled with Qwen2.5's default system
  sentence and EasyR1's published system prompt of its Geometry3K GRPO recipe (the one the paper
  names); check the text against the paper's appendix figure before a paper-scale run (editing
  it changes the run hash). The image marker (``analysis.images``) starts the question, so the
  image comes first in the user turn; stop strings are the always-on ones only.
* ``plain``: the bare question, with the evaluator's always-on stop strings.

Other task families (the toy world) add their own with ``register_template``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

QUESTION = "{question}"

# The official evaluator always stops at these (math_eval.py), whatever the template.
BASE_STOP: tuple[str, ...] = ("</s>", "<|im_end|>", "<|endoftext|>")


class TemplateError(ValueError):
    """An unknown template, a malformed one, or a tokenizer that cannot render it."""


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt format and the stop strings that go with it."""

    name: str
    raw: str
    user: str
    system: str | None = None
    stop: tuple[str, ...] = ()
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            msg = f"template name {self.name!r} must be non-empty without surrounding spaces"
            raise TemplateError(msg)
        for part, text in (("raw", self.raw), ("user", self.user)):
            if QUESTION not in text:
                msg = f"template {self.name!r}: its {part} text has no {QUESTION} placeholder"
                raise TemplateError(msg)
        if any(not s for s in self.stop):
            msg = f"template {self.name!r}: empty stop string"
            raise TemplateError(msg)

    def spec(self) -> dict[str, Any]:
        """Everything about the template that changes a prompt or a sample (hashed into runs)."""
        return {
            "name": self.name,
            "raw": self.raw,
            "user": self.user,
            "system": self.system,
            "stop": list(self.stop),
        }


def _stops(*extra: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*BASE_STOP, *extra]))


_QWEN_STOP = _stops("assistant", "user", "_end", "_start")
_BOXED = "Please reason step by step, and put your final answer within \\boxed{}."
_R1_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)
_DAPO_SYSTEM = (
    "A conversation between user and assistant. The user asks a question, and the assistant solves it. "
    "The time limit is set to 20,480 tokens. If the assistant's response exceeds this limit, a progressively "
    "increasing penalty with the number of tokens exceeded will be applied."
)
_DAPO_USER = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n"
    "{question}\n"
    'Remember to put your answer on its own line after "Answer:".'
)

_EASYR1_SYSTEM = (
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant. "
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <think> </think> tags. The final answer MUST BE put in \\boxed{}."
)

BUILTIN_TEMPLATES: tuple[PromptTemplate, ...] = (
    PromptTemplate(
        name="qwen-boxed",
        raw=(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            f"<|im_start|>user\n{{question}}\n{_BOXED}<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        system="You are a helpful assistant.",
        user=f"{{question}}\n{_BOXED}",
        stop=_QWEN_STOP,
        source="Qwen2.5-Math evaluator utils.py PROMPT_TEMPLATES['qwen-boxed'] (limit-of-RLVR, SimpleRL-Zoo)",
    ),
    PromptTemplate(
        name="qwen25-math-cot",
        raw=(
            f"<|im_start|>system\n{_BOXED}<|im_end|>\n<|im_start|>user\n{{question}}<|im_end|>\n<|im_start|>assistant\n"
        ),
        system=_BOXED,
        user="{question}",
        stop=_QWEN_STOP,
        source="Qwen2.5-Math evaluator PROMPT_TEMPLATES['qwen25-math-cot']; Oat-Zero's own prompt (paper Fig 22)",
    ),
    PromptTemplate(
        name="dapo",
        raw=f"{_DAPO_SYSTEM}\nuser\n{_DAPO_USER}\nassistant",
        system=_DAPO_SYSTEM,
        user=_DAPO_USER,
        stop=_stops("Question:", "Answer:"),
        source="old DAPO-Qwen-32B prompt (DAPO model card example); limit-of-RLVR's redefined 'abel'",
    ),
    PromptTemplate(
        name="deepseek-r1",
        raw=f"{_R1_SYSTEM} User: {{question}}. Assistant:",
        system=_R1_SYSTEM,
        user="{question}",
        stop=_stops("\nProblem", "User:", "Assistant:", "</answer>"),
        source="R1-style prompt of the Qwen2.5-Math evaluator forks ('deepseek-r1'); paper Fig 27",
    ),
    PromptTemplate(
        name="simplerl-abel",
        raw="Question:\n{question}\nAnswer:\nLet's think step by step.\n",
        user="Question:\n{question}\nAnswer:\nLet's think step by step.\n",
        stop=_stops("Question:", "Answer:"),
        source="SimpleRL-Zoo's original 'abel' template (weaker base models)",
    ),
    PromptTemplate(
        name="r1-distill",
        raw=f"<｜User｜>{{question}}\n{_BOXED}<｜Assistant｜><think>\n",
        user=f"{{question}}\n{_BOXED}",
        stop=_stops("<｜end▁of▁sentence｜>"),
        source="DeepSeek-R1-Distill's own chat format (model card: no system prompt, the boxed instruction in the "
        "user turn, the answer forced to open with '<think>\\n'); the tokenizer adds the BOS. Without the "
        "qwen-boxed 'user'/'assistant' stop strings, so long reasoning that says 'user' is not cut off",
    ),
    PromptTemplate(
        name="easyr1",
        raw=(
            f"<|im_start|>system\n{_EASYR1_SYSTEM}<|im_end|>\n"
            "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        ),
        system=_EASYR1_SYSTEM,
        user="{question}",
        stop=BASE_STOP,
        source="EasyR1 visual prompt (PAPER.md 3.3, quoted in part; gaps filled from Qwen2.5's default system "
        "sentence and EasyR1's Geometry3K GRPO system prompt); the image first in the user turn",
    ),
    PromptTemplate(
        name="plain",
        raw="{question}",
        user="{question}",
        stop=BASE_STOP,
        source="the bare question with the evaluator's always-on stop strings",
    ),
    PromptTemplate(
        name="bare",
        raw="{question}",
        user="{question}",
        stop=(),
        source="the question as it is, no stop strings: generation ends at the end-of-sequence token "
        "(synthetic tasks such as the toy world, whose questions are already the prompt)",
    ),
)

_REGISTRY: dict[str, PromptTemplate] = {t.name: t for t in BUILTIN_TEMPLATES}


def register_template(template: PromptTemplate, *, replace: bool = False) -> PromptTemplate:
    """Make ``template`` available by name; a name already taken needs ``replace=True``.

    The paper's built-in templates cannot be replaced (runs name them in their configs).
    """
    builtin = {t.name for t in BUILTIN_TEMPLATES}
    if template.name in builtin and _REGISTRY[template.name] != template:
        msg = f"{template.name!r} is a built-in template and cannot be replaced"
        raise TemplateError(msg)
    if template.name in _REGISTRY and _REGISTRY[template.name] != template and not replace:
        msg = f"a different template named {template.name!r} is already registered (pass replace=True)"
        raise TemplateError(msg)
    _REGISTRY[template.name] = template
    return template


# Template families registered on first look-up ("module:function"), so that importing this
# module imports none of them: the code benchmarks' templates (analysis.code.prompts).
_EXTENSIONS: list[str] = ["analysis.code.prompts:register_code_templates"]


def _load_extensions() -> None:
    import importlib

    while _EXTENSIONS:
        module, _, func = _EXTENSIONS.pop().partition(":")
        getattr(importlib.import_module(module), func)()


def known_templates() -> list[str]:
    """Names ``get_template`` accepts."""
    _load_extensions()
    return sorted(_REGISTRY)


def get_template(name: str) -> PromptTemplate:
    """The template registered as ``name``."""
    if name not in _REGISTRY:
        _load_extensions()
    try:
        return _REGISTRY[name]
    except KeyError:
        msg = f"unknown template {name!r}; known: {', '.join(known_templates())}"
        raise TemplateError(msg) from None


def _fill(text: str, question: str) -> str:
    return text.replace(QUESTION, question.strip())


def render(template: PromptTemplate | str, question: str, *, chat: bool = False, tokenizer: Any = None) -> str:
    """The prompt string for ``question``.

    ``chat=False`` (default, as the paper): the template's raw string. ``chat=True``: the
    template's system and user messages through ``tokenizer.apply_chat_template`` with the
    generation prompt added. The official evaluator's ``--apply_chat_template`` instead wraps the
    whole raw prompt (chat markup included) in one user message; that double wrapping is not
    reproduced here.
    """
    tpl = get_template(template) if isinstance(template, str) else template
    if not chat:
        return _fill(tpl.raw, question).strip(" ")
    if tokenizer is None:
        msg = f"template {tpl.name!r} with chat=True needs the model's tokenizer"
        raise TemplateError(msg)
    if not getattr(tokenizer, "chat_template", None):
        msg = f"the tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template; use raw prompts"
        raise TemplateError(msg)
    messages = [{"role": "system", "content": tpl.system}] if tpl.system else []
    messages.append({"role": "user", "content": _fill(tpl.user, question)})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode(tokenizer: Any, prompt: str, *, chat: bool = False) -> list[int]:
    """Token ids of a rendered prompt.

    Raw prompts get the tokenizer's usual special tokens (a BOS where the model adds one), which
    is what vLLM does with a string prompt; chat-rendered prompts already hold them.
    """
    return list(tokenizer(prompt, add_special_tokens=not chat)["input_ids"])


def stop_strings(template: PromptTemplate | str, override: Sequence[str] | None = None) -> tuple[str, ...]:
    """The stop strings of a run: ``override`` when given, else the template's."""
    tpl = get_template(template) if isinstance(template, str) else template
    return tuple(dict.fromkeys(override)) if override is not None else tpl.stop
