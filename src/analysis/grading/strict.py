"""The ``strict`` grader: math-verify, boxed answer first.

Extraction:

* The answer is the content of the last top-level ``\\boxed{}`` (the paper's prompts ask for
  one). When several boxes stand together at the very end, joined only by commas, ``and``/``or``,
  ``$`` or spaces (``\\boxed{1}, \\boxed{3} and \\boxed{5}``), all of them form the answer
  (``1, 3, 5``), since that is how models list the answers of a multi-answer problem.
* That content is handed to math-verify as ``\\boxed{<content>}`` (LaTeX extraction, first match
  only): math-verify normalises it (units, ``\\text``, malformed operators) and converts it to
  sympy. Parsing the box alone, not the whole response, gives the same answer as math-verify's own
  search with ``boxed_match_priority=0`` and is several times faster on long responses. A box that
  does not parse as a whole is compared as text: math-verify's default would go on to parse a
  fragment of it (``\\frac{1}{3} E_{1}+\\frac{2}{3} E_{2}`` read as ``2/3``) and accept any answer
  equal to that fragment. Plain scientific notation (``4.5e33``, Minerva's gold style) is rewritten
  as ``4.5 \\times 10^{33}`` first, because LaTeX parsers read that ``e`` as Euler's number.
* A response without any box goes to math-verify whole, with its extraction anchored to an answer
  phrase (``final answer is``, ``answer:``, ``the answer is``), after markdown bold markers around
  an answer are removed (``**73**`` -> ``73``; math-verify issue #76). Unlike math-verify's
  default and the ``paper`` mode, a bare last number or formula is not taken as the answer: at
  large k that fallback lets unformatted guesses score, the caveat the paper itself raises.

Comparison: the gold answer, written as ``\\boxed{<gold>}``, is parsed the same way as a box, and
``verify(gold, prediction)`` decides, in that order (math-verify is asymmetric on purpose).
When it calls two plain numbers equal, they must also agree to a relative 1e-4: its rounding to
6 decimals makes every pair of numbers below 5e-7 equal (math-verify issue #14). A list of
accepted answers is correct when any one verifies. Verdicts of boxed answers are remembered per
(box content, gold) within a process: at large k many samples box the same answer.

Multi-answer problems (OlympiadBench ``is_multiple_answer``): the gold is one string with the
answers separated by commas. math-verify reads a top-level comma list as a set, so ``1, 3, 5``
matches ``5, 3, 1`` and ``\\boxed{5}, \\boxed{1}, \\boxed{3}``, and a missing or extra answer does
not match. Tuples inside the list keep their order (``(1,2), (3,4)`` matches ``(3,4), (1,2)`` but
not ``(2,1), (3,4)``). The ``paper`` mode follows the official evaluator instead: a list of plain
numbers reads as one number with its commas deleted, and any other list mostly through its
first element (sympy's LaTeX parser stops at a top-level comma).

math-verify's own signal-based timeouts are switched off (``parsing_timeout=None``,
``timeout_seconds=None``): they fail outside a process's main thread. The deadline is enforced by
the process pool (``analysis.grading.pool``) instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

from analysis.answers import top_level_boxed_spans
from analysis.grading.result import GradeResult

MODE = "strict"

_BOX_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0),)
_ANCHORED_EXTRACTION = (
    LatexExtractionConfig(try_extract_without_anchor=False),
    ExprExtractionConfig(try_extract_without_anchor=False),
)
_JOINER_RE = re.compile(r"^(?:\s|\$|,|;|\\quad|\\qquad|\\,|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b)*$")
_HAS_JOINER_RE = re.compile(r",|;|\band\b|\bor\b")
# Markdown bold around an answer ("Final Answer: **73**") confuses math-verify (issue #76: it
# reads "73**"); "2**3" (a power in plain code notation) is left alone.
_MARKDOWN_BOLD_RE = re.compile(r"(?<![\w*])\*\*(\S(?:[^\n]*?\S)?)\*\*(?![\w*])")
_NEXT_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{?$")


def final_boxed_answer(text: str) -> str | None:
    """Content of the last box, or of the run of boxes that ends the answer joined by ", ".

    Boxes join only when what stands between them is a separator that lists answers (a comma,
    semicolon, "and" or "or", with spaces, ``$`` or ``\\quad`` around it); repeated boxes count once.
    """
    spans = top_level_boxed_spans(text)
    if not spans:
        return None
    group = [spans[-1]]
    for prev in reversed(spans[:-1]):
        between = text[prev[1] + 1 : group[0][0]]
        # what stands between two boxes is the closing brace, the joiner and the next "\boxed{"
        between = _NEXT_BOX_RE.sub("", between)
        if not (_JOINER_RE.match(between) and _HAS_JOINER_RE.search(between)):
            break
        group.insert(0, prev)
    contents = [text[s:e].strip() for s, e in group]
    return ", ".join(dict.fromkeys(contents))  # a repeated box is one answer


_SCIENTIFIC_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[eE]\s*([-+]?\d+)\s*$")


def _latex_scientific(content: str) -> str:
    """``4.5e33`` -> ``4.5 \\times 10^{33}``: LaTeX parsers read ``e`` as Euler's number."""
    m = _SCIENTIFIC_RE.match(content)
    if m is None:
        return content
    return f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}"


@lru_cache(maxsize=4096)
def _parse_boxed(content: str) -> tuple[Any, ...]:
    """math-verify's reading of ``\\boxed{content}``: the whole box or, failing that, its text.

    LaTeX extraction only, first match only: when the box as a whole does not parse, math-verify
    would otherwise go on to parse a fragment of it (a number or fraction inside), and any answer
    equal to that fragment would pass. The unparsed box is then compared as a string.
    """
    text = "\\boxed{" + _latex_scientific(content) + "}"
    return tuple(parse(text, list(_BOX_EXTRACTION), extraction_mode="first_match", parsing_timeout=None))


def _extracted_text(parsed: Sequence[Any]) -> str | None:
    strings = [p for p in parsed if isinstance(p, str)]
    if strings:
        return strings[-1]
    return str(parsed[0]) if parsed else None


def _as_real_number(x: Any) -> sympy.Float | None:
    """``x`` as a 30-digit sympy Float (unbounded exponent, so 1/2004! is not 0), if it is a real number."""
    if not isinstance(x, sympy.Expr) or not x.is_number:
        return None
    try:
        value = sympy.N(x, 30)
    except (TypeError, ValueError, ArithmeticError):
        return None
    if not isinstance(value, sympy.Float) or not value.is_finite:
        return None
    return value


def _same_text(gold: list[Any], prediction: list[Any]) -> bool:
    g = [x.strip() for x in gold if isinstance(x, str) and x.strip()]
    p = {x.strip() for x in prediction if isinstance(x, str) and x.strip()}
    return any(x in p for x in g)


def _verified(gold: list[Any], prediction: list[Any]) -> bool:
    """math-verify's ``verify(gold, prediction)``, with tiny numbers compared relatively.

    math-verify rounds floats to 6 decimal places before comparing (``float_rounding=6``), so
    any two numbers below 5e-7 are "equal" (``2.88e-19`` = ``3.88e-19``; math-verify issue #14:
    ``1/2004!`` = ``1/2006!``). When both answers are plain numbers, a verdict of equal must also
    agree to a relative tolerance of 1e-4 (as 30-digit sympy Floats, whose exponent range is
    unbounded). That never accepts what math-verify rejects, and only bites
    where the rounding is looser than 1e-4 relative (magnitudes below about 0.005).
    """
    if _same_text(gold, prediction):
        return True  # math-verify's own string comparison would say so, after a costlier sympy one
    if not verify(gold, prediction, timeout_seconds=None):
        return False
    g, p = _as_real_number(gold[0]), _as_real_number(prediction[0])
    if g is None or p is None:
        return True
    return bool(abs(g - p) <= sympy.Float("1e-4") * max(abs(g), abs(p)))


def _compare(prediction: list[Any], golds: Sequence[str]) -> tuple[bool, str]:
    """(correct, status) of a parsed prediction against the gold answers."""
    if not prediction:
        return False, "no_answer"
    parsed_golds = [list(_parse_boxed(g)) for g in golds]
    if not any(parsed_golds):
        return False, "error"
    return any(bool(g) and _verified(g, prediction) for g in parsed_golds), "ok"


@lru_cache(maxsize=8192)
def _boxed_verdict(content: str, golds: tuple[str, ...]) -> tuple[bool, str]:
    """Verdicts of boxed answers, remembered: at large k many samples box the same answer."""
    return _compare(list(_parse_boxed(content)), golds)


def grade_strict(response: str | None, gold: str | Sequence[str]) -> GradeResult:
    """Grade ``response`` against ``gold`` (one answer or several accepted ones) with math-verify."""
    golds = (gold,) if isinstance(gold, str) else tuple(gold)
    if not response or not response.strip():
        return GradeResult(False, None, "no_answer", MODE)
    try:
        boxed = final_boxed_answer(response)
        if boxed is not None:
            if not boxed.strip():
                return GradeResult(False, None, "no_answer", MODE)
            correct, status = _boxed_verdict(boxed, golds)
            return GradeResult(correct, boxed, status, MODE)
        prediction = parse(_MARKDOWN_BOLD_RE.sub(r"\1", response), list(_ANCHORED_EXTRACTION), parsing_timeout=None)
        correct, status = _compare(prediction, golds)
        return GradeResult(correct, _extracted_text(prediction), status, MODE)
    except TimeoutException:  # a BaseException; cannot happen with timeouts off, but never leaks
        return GradeResult(False, None, "timeout", MODE)
