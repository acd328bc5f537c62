"""From a response to the official prediction, and from a gold answer to the official reference.

The official pipeline (``math_eval.py`` with ``--prompt_type qwen-boxed``, then ``evaluate.py``)
for one response, as this module reproduces it:

1. ``cut_at_stop_words``: the response is stripped and cut at the first occurrence of any qwen
   stop string, matched as a plain substring anywhere (``user`` inside ``users`` or ``cluster``,
   ``_end`` inside ``x_end``). vLLM would have stopped generating there.
2. An empty result or the literal ``error`` gives no prediction.
3. ``extract_answer`` (first rule that applies): the Minerva phrase ``final answer is $X$. I
   hope`` (its FIRST occurrence); else the text after the last ``boxed`` (brace-matched; an
   unclosed box takes everything to the end; ``\\boxed 5$`` takes the text up to the next ``$``;
   nothing after ``boxed`` gives an empty answer); else the text after the last ``he answer is``
   or ``final answer is``; else after the first ``答案是`` up to a blank line; else the last number
   of the response with commas deleted. Then line breaks (with the spaces after them) are
   removed, one leading ``:``, one trailing ``.`` and one trailing ``/`` dropped, and
   ``strip_string`` applied.
4. ``strip_string`` is applied a second time (Minerva: unit words kept both times).
5. Multiple-choice post-processing (``math_eval.main``), which needs the gold: a gold that is
   one letter A-E and a prediction that is not makes the prediction the choice letter read from
   the whole response; a gold made only of the letters A-E (including the empty gold) and a
   prediction that is not makes the prediction its letters A-E. With no prediction at all the
   official script raises ``TypeError`` here (``CrashError``).

Gold answers (``parse_gold``): MATH500's and Minerva's come from the solution's last box through
``extract_answer`` (cleaned and normalised like a prediction; Minerva keeps unit words); then
``strip_string`` for every benchmark except Minerva, whose gold only gets ``\\neq``/``\\leq``/
``\\geq`` rewritten.
"""

from __future__ import annotations

import re

from analysis.grading.official.normalize import rewrite_relations, strip_string

# What the official script stops on for the qwen prompts, in its order.
STOP_WORDS = ("</s>", "<|im_end|>", "<|endoftext|>", "assistant", "user", "_end", "_start")
# Benchmarks whose answers keep their unit words (the official ``STRIP_EXCEPTIONS``).
KEEP_UNITS = frozenset({"minerva_math", "carp_en"})
CHOICES = "ABCDE"
# Benchmarks whose official gold is the last box of the solution, read by ``extract_answer``.
BOXED_SOLUTION_GOLD = frozenset({"math500", "minerva_math"})

_LAST_NUMBER_RE = re.compile(r"-?\d*\.?\d+")
_LINEBREAK_RE = re.compile(r"\n\s*")
_CHOICE_LETTER_RE = re.compile(r"\b(A|B|C|D|E)\b")
_CHOICE_TRIGGERS = ("choice is", "answer is")


class CrashError(Exception):
    """Where the official script raises and stops (a choice gold with no prediction)."""


def cut_at_stop_words(response: str) -> str:
    """The response as the official script keeps it: stripped, cut before the first stop string."""
    text = response.strip()
    for word in STOP_WORDS:
        if word in text:
            text = text.split(word, 1)[0].strip()
    return text


def extract_answer(text: str, benchmark: str | None = None) -> str:
    """The official ``extract_answer`` for a math benchmark (see the module docstring, step 3)."""
    text = text.replace("\u043a\u0438", "")
    if "final answer is $" in text and "$. I hope" in text:
        pred = text.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif "boxed" in text:
        after = text.split("boxed")[-1]
        if not after:
            return ""
        pred = _box_content(after)
    elif "he answer is" in text:
        pred = text.split("he answer is")[-1].strip()
    elif "final answer is" in text:
        pred = text.split("final answer is")[-1].strip()
    elif "答案是" in text:
        pred = text.split("答案是")[1].strip().split("\n\n")[0].strip()
    else:
        numbers = _LAST_NUMBER_RE.findall(text.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    return strip_string(_clean_extracted(pred), skip_unit=benchmark in KEEP_UNITS)


def _clean_extracted(pred: str) -> str:
    """Line breaks (and the spaces after them) removed; one leading ``:``, trailing ``.`` and ``/`` dropped."""
    pred = _LINEBREAK_RE.sub("", pred)
    if pred.startswith(":"):
        pred = pred[1:]
    if pred.endswith("."):
        pred = pred[:-1]
    if pred.endswith("/"):
        pred = pred[:-1]
    return pred


def _box_content(after: str) -> str:
    """What follows ``boxed``: a brace-matched group (to the end when unclosed), or text up to ``$``."""
    if after[0] != "{":
        return after.split("$")[0].strip()
    depth = 1
    for i, ch in enumerate(after[1:], start=1):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return after[1:i]
    return after[1:]


def official_prediction(response: str | None, benchmark: str | None = None) -> tuple[str, str | None]:
    """(the text the official script kept, its prediction), the prediction ``None`` when there is none."""
    if response is None:
        return "", None
    text = cut_at_stop_words(response)
    if not text or text == "error":
        return text, None
    pred = extract_answer(text, benchmark)
    return text, strip_string(pred, skip_unit=benchmark in KEEP_UNITS)


def apply_choice_rules(prediction: str | None, text: str, gold: str) -> str | None:
    """Step 5 of the module docstring; raises ``CrashError`` where the official script would."""
    if gold in CHOICES and len(gold) == 1 and prediction not in tuple(CHOICES):
        return choice_answer_from_text(text)
    if all(c in CHOICES for c in gold):
        if prediction is None:
            msg = "a multiple-choice gold and no prediction: the official script raises TypeError here"
            raise CrashError(msg)
        if not all(c in CHOICES for c in prediction):
            return "".join(c for c in prediction if c in CHOICES)
    return prediction


def choice_answer_from_text(text: str) -> str:
    """The choice letter the official ``choice_answer_clean`` reads from a whole response.

    With several answer triggers (few-shot echo) only the first paragraph is read. The text after
    the last trigger is searched for stand-alone letters A-E (the first one when a trigger was
    found, else the last); without any letter the text itself, stripped of dots, is the answer.
    """
    pred = text.strip("\n")
    if any(pred.count(t) > 1 for t in _CHOICE_TRIGGERS):
        pred = pred.split("\n\n")[0]
    pieces = re.split("|".join(_CHOICE_TRIGGERS), pred)
    triggered = len(pieces) > 1
    if triggered:
        pred = pieces[-1]
    pred = pred.strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":")
    letters = _CHOICE_LETTER_RE.findall(pred.upper())
    candidates = letters or [pred.strip().strip(".")]
    chosen = candidates[0] if triggered else candidates[-1]
    return chosen.rstrip(".").rstrip("/")


def parse_gold(gold: str, benchmark: str | None = None) -> str:
    """The reference the official code compares against, from a benchmark's gold answer string.

    MATH500 and Minerva golds are the last box of the solution, read by ``extract_answer`` (so
    cleaned like a prediction, and normalised once, Minerva keeping unit words); the others are
    the answer field. Then every benchmark but Minerva is normalised (again), and Minerva only
    gets ``\\neq``/``\\leq``/``\\geq`` rewritten. Applied to a gold that was already parsed, this
    changes nothing.
    """
    if benchmark in BOXED_SOLUTION_GOLD:
        gold = strip_string(_clean_extracted(gold), skip_unit=benchmark in KEEP_UNITS)
    if benchmark in KEEP_UNITS:
        return rewrite_relations(gold)
    return strip_string(gold)
