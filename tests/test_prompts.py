"""Prompt templates: the paper's texts, stop strings, chat rendering, registration."""

from __future__ import annotations

import pytest

from analysis import prompts
from analysis.prompts import PromptTemplate, TemplateError
from analysis.tinymodel import char_tokenizer

QWEN_BOXED_OFFICIAL = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is $1+1$?\nPlease reason step by step, and put your final answer within \\boxed{}."
    "<|im_end|>\n<|im_start|>assistant\n"
)


def test_qwen_boxed_is_the_official_string_and_stops():
    assert prompts.render("qwen-boxed", "  What is $1+1$?\n") == QWEN_BOXED_OFFICIAL
    assert prompts.get_template("qwen-boxed").stop == (
        "</s>",
        "<|im_end|>",
        "<|endoftext|>",
        "assistant",
        "user",
        "_end",
        "_start",
    )


def test_dapo_prompt_and_its_answer_stop():
    text = prompts.render("dapo", "Find x.")
    assert text.startswith("A conversation between user and assistant. The user asks a question")
    assert "The time limit is set to 20,480 tokens." in text
    assert "\nuser\nSolve the following math problem step by step." in text
    assert "Answer: $Answer (without quotes)" in text
    assert text.endswith('problem.\nFind x.\nRemember to put your answer on its own line after "Answer:".\nassistant')
    assert {"Question:", "Answer:"} <= set(prompts.get_template("dapo").stop)


def test_r1_prompt_and_stops():
    text = prompts.render("deepseek-r1", "Find x")
    assert text.startswith("A conversation between User and Assistant.")
    assert "<think> reasoning process here </think> <answer> answer here </answer>. User: Find x. Assistant:" in text
    assert text.endswith("Assistant:")
    stops = prompts.get_template("deepseek-r1").stop
    assert {"</answer>", "User:", "Assistant:", "\nProblem"} <= set(stops)
    assert len(stops) == len(set(stops))


def test_plain_and_simplerl_abel():
    assert prompts.render("plain", " Q:123+456= ") == "Q:123+456="
    assert prompts.get_template("plain").stop == prompts.BASE_STOP
    assert prompts.render("simplerl-abel", "2+2?") == "Question:\n2+2?\nAnswer:\nLet's think step by step.\n"


def test_question_braces_are_not_format_fields():
    text = prompts.render("qwen-boxed", "Is {x} a {question}?")
    assert "Is {x} a {question}?" in text
    assert text.count("\\boxed{}") == 1


def test_unknown_template_names_the_known_ones():
    with pytest.raises(TemplateError, match=r"unknown template 'qwen-box'.*qwen-boxed"):
        prompts.get_template("qwen-box")


def test_chat_rendering_uses_the_tokenizer_template():
    tok = char_tokenizer()
    with pytest.raises(TemplateError, match="no chat template"):
        prompts.render("qwen-boxed", "Q", chat=True, tokenizer=tok)
    with pytest.raises(TemplateError, match="needs the model's tokenizer"):
        prompts.render("qwen-boxed", "Q", chat=True)
    tok.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    text = prompts.render("qwen-boxed", " 2+2? ", chat=True, tokenizer=tok)
    assert text == (
        "[system]You are a helpful assistant.\n"
        "[user]2+2?\nPlease reason step by step, and put your final answer within \\boxed{}.\n[assistant]"
    )
    assert prompts.render("plain", "2+2?", chat=True, tokenizer=tok) == "[user]2+2?\n[assistant]"


def test_encode_adds_special_tokens_only_to_raw_prompts():
    tok = char_tokenizer()
    tok.add_bos_token = True  # a Llama-style tokenizer that prepends BOS
    raw = prompts.encode(tok, "ab")
    chat = prompts.encode(tok, "ab", chat=True)
    assert chat == [tok.convert_tokens_to_ids("a"), tok.convert_tokens_to_ids("b")]
    assert raw[-2:] == chat


def test_register_template_for_another_task_family():
    toy = PromptTemplate(name="test-toy-addition", raw="{question}", user="{question}")
    assert prompts.register_template(toy) is toy
    assert prompts.register_template(toy) is toy  # the same template again is fine
    assert "test-toy-addition" in prompts.known_templates()
    assert prompts.render("test-toy-addition", "Q:123+456=") == "Q:123+456="
    assert prompts.stop_strings("test-toy-addition") == ()
    assert prompts.stop_strings("test-toy-addition", ["x", "x", "y"]) == ("x", "y")
    other = PromptTemplate(name="test-toy-addition", raw="Q {question}", user="{question}")
    with pytest.raises(TemplateError, match="already registered"):
        prompts.register_template(other)
    assert prompts.register_template(other, replace=True) is other
    assert prompts.render("test-toy-addition", "1") == "Q 1"


def test_builtins_cannot_be_replaced_and_templates_are_checked():
    with pytest.raises(TemplateError, match="built-in"):
        prompts.register_template(PromptTemplate(name="plain", raw="x {question}", user="{question}"), replace=True)
    with pytest.raises(TemplateError, match="no \\{question\\} placeholder"):
        PromptTemplate(name="bad", raw="no placeholder", user="{question}")
    with pytest.raises(TemplateError, match="empty stop string"):
        PromptTemplate(name="bad", raw="{question}", user="{question}", stop=("",))
    with pytest.raises(TemplateError, match="name"):
        PromptTemplate(name=" bad", raw="{question}", user="{question}")


def test_spec_holds_everything_that_changes_a_prompt():
    spec = prompts.get_template("qwen-boxed").spec()
    assert set(spec) == {"name", "raw", "user", "system", "stop"}
    assert spec["stop"] == list(prompts.get_template("qwen-boxed").stop)


def test_bare_template_has_no_stop_strings():
    assert prompts.render("bare", "Q:123+456=") == "Q:123+456="
    assert prompts.get_template("bare").stop == ()
