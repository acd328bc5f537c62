"""Prompt templates of the code benchmarks (registered in ``analysis.prompts`` on first use).

* ``evalplus-qwen``: EvalPlus's chat prompt (``evalplus/provider/utility.py``,
  ``make_raw_chat_prompt``) in Qwen2.5-Instruct's chat markup, as its chat template renders it
  when no system message is given (Qwen's default system line). The user turn is "Please provide
  a self-contained Python script that solves the following problem in a markdown code block:"
  and the problem in a ``` block; the assistant turn is pre-filled with "Below is a Python
  script with a self-contained function that solves the problem and passes corresponding
  tests:" and an opened ```python block. Stop strings: EvalPlus's ``EOS`` plus the closing
  fence its chat mode adds. Paper Fig. 4 (Qwen2.5-7B-Instruct-1M vs CodeR1-Zero).
* ``lcb-qwen``: LiveCodeBench's generic prompt (system ``SYSTEM_MESSAGE_GENERIC``, user
  ``get_generic_question_template_answer``) in Qwen markup with "```python" appended to the
  assistant turn, as the paper does for Code-R1 (PAPER.md 3.3).
* ``lcb-r1``: the same messages in the DeepSeek-R1-Distill chat markup (system,
  ``<｜User｜>``, ``<｜Assistant｜><think>\\n``; the tokenizer adds the BOS, as for the math
  ``r1-distill`` template) for R1-Distill-Qwen-14B and DeepCoder-14B.
  Where the exact tokenizer template matters, set ``chat_template: true`` in the study config
  and the model's own template renders the same system and user messages.

For LiveCodeBench the problems table's ``question`` already holds the generic user prompt
(statement, format instruction, starter code; ``lcb_user_prompt``), so every template here
only wraps ``{question}``.
"""

from __future__ import annotations

from analysis.prompts import BASE_STOP, PromptTemplate

EVALPLUS_INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)
EVALPLUS_RESPONSE = (
    "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"
)
EVALPLUS_EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

LCB_SYSTEM = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will generate "
    "a correct Python program that matches the specification and passes all tests."
)
LCB_WITH_STARTER = (
    "You will use the following starter code to write the solution to the problem and enclose your code within "
    "delimiters."
)
LCB_WITHOUT_STARTER = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the "
    "sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it "
    "reads the inputs, runs the algorithm and writes output to STDOUT."
)


def lcb_user_prompt(question_content: str, starter_code: str) -> str:
    """LiveCodeBench's ``get_generic_question_template_answer``."""
    prompt = f"### Question:\n{question_content}\n\n"
    if starter_code:
        prompt += f"### Format: {LCB_WITH_STARTER}\n```python\n{starter_code}\n```\n\n"
    else:
        prompt += f"### Format: {LCB_WITHOUT_STARTER}\n```python\n# YOUR CODE HERE\n```\n\n"
    return prompt + "### Answer: (use the provided format with backticks)\n\n"


_EVALPLUS_USER = f"{EVALPLUS_INSTRUCTION}\n```\n{{question}}\n```\n"

CODE_TEMPLATES: tuple[PromptTemplate, ...] = (
    PromptTemplate(
        name="evalplus-qwen",
        raw=(
            f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{_EVALPLUS_USER}<|im_end|>\n"
            f"<|im_start|>assistant\n{EVALPLUS_RESPONSE}\n```python\n"
        ),
        system=QWEN_SYSTEM,
        user=_EVALPLUS_USER,
        stop=tuple(dict.fromkeys([*EVALPLUS_EOS, "<|im_end|>", "\n```\n"])),
        source="EvalPlus make_raw_chat_prompt + Qwen2.5 chat markup (paper Fig. 4, HumanEval+/MBPP+)",
        metadata={"prefilled_fence": True},
    ),
    PromptTemplate(
        name="lcb-qwen",
        raw=(
            f"<|im_start|>system\n{LCB_SYSTEM}<|im_end|>\n"
            "<|im_start|>user\n{question}<|im_end|>\n"
            "<|im_start|>assistant\n```python\n"
        ),
        system=LCB_SYSTEM,
        user="{question}",
        stop=(*BASE_STOP,),
        source="LiveCodeBench generic prompt, Qwen markup, '```python' appended (paper 3.3, Code-R1)",
        metadata={"prefilled_fence": True},
    ),
    PromptTemplate(
        name="lcb-r1",
        raw=f"{LCB_SYSTEM}<｜User｜>{{question}}<｜Assistant｜><think>\n",
        system=LCB_SYSTEM,
        user="{question}",
        stop=("<｜end▁of▁sentence｜>",),
        source="LiveCodeBench generic prompt in DeepSeek-R1-Distill markup (paper Fig. 3)",
        metadata={"prefilled_fence": False},
    ),
)


def prefilled_fence(template_name: str) -> bool:
    """Whether the template's prompt ends inside an opened ```python block."""
    for t in CODE_TEMPLATES:
        if t.name == template_name:
            return bool(t.metadata.get("prefilled_fence"))
    return False


def register_code_templates() -> None:
    """Add the code templates to ``analysis.prompts``'s registry (idempotent)."""
    from analysis.prompts import register_template

    for t in CODE_TEMPLATES:
        register_template(t)
