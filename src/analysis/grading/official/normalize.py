"""``strip_string``: the official evaluator's answer normalisation, rule by rule.

Written from the rules of the Qwen2.5-Math / ToRA evaluator that the paper ran (LeapLabTHU/
limit-of-RLVR, ``math/examples/math_eval/parser.py``); no code was copied. The rules are applied
in this order, and their order matters (e.g. "and" is deleted after ``\\text{}`` is unwrapped, so
``2 \\text{ and } 3`` becomes ``23``):

1. strip; remove newlines; drop trailing dots; remove ``\\!``;
2. ``array`` and ``bmatrix`` become ``pmatrix``; ``tfrac``/``dfrac`` become ``frac``;
   ``\\neq``/``\\leq``/``\\geq`` become ``\\ne``/``\\le``/``\\ge``; ``\\left``/``\\right`` removed;
   ``\\{``/``\\}`` become ``{``/``}``;
3. a trailing ``\\text{...}`` (from the first ``\\text{`` that reaches the end) is removed unless
   that empties the answer;
4. unless ``skip_unit`` (Minerva): the listed unit words are deleted (``analysis.grading.official.units``);
5. ``^{\\circ}``, ``^\\circ``, ``\\$``, ``$``, ``\\(``, ``\\)`` removed;
6. the whole answer converted from number words if it reads as one (``word2number``: ``five`` ->
   ``5``; words it does not know are ignored, so ``\\text{four hundred eighty}`` reads as 100);
7. ``\\text{X}`` unwrapped; ``x=``, ``y=``, ``z=``, ``x\\in`` ..., ``z\\to`` deleted; ``\\emptyset``
   -> ``{}``; ``(-\\infty,\\infty)`` -> ``\\mathbb{R}``; percent signs removed; `` .``/``{.`` get a 0;
8. ``infinity`` -> ``\\infty``, and ``inf`` -> ``\\infty`` when there is no ``\\infty`` yet;
   every ``and`` and ``\\mathbf`` deleted; ``\\mbox{...}`` deleted; ``j`` -> ``i`` when there is
   no ``i``; trailing ``.000`` of a number dropped;
9. a leading ``.`` gets a 0; ``lhs=rhs`` becomes ``rhs`` when ``lhs`` has at most 2 characters;
   ``\\sqrtX`` gets braces; spaces removed; ``\\frac12`` style fractions get braces; ``a/b`` of two
   integers becomes ``\\frac{a}{b}``.
"""

from __future__ import annotations

import re

from analysis.grading.official.units import remove_unit_words
from analysis.grading.official.words import words_to_number

_ARRAY_BEGIN_RE = re.compile(r"\\begin\{array\}\{.*?\}")
_TRAILING_TEXT_RE = re.compile(r"\\text{.*?}$")
_TEXT_RE = re.compile(r"\\text\{(.*?)\}")
_MBOX_RE = re.compile(r"\\mbox{.*?}")
_ZEROS_INSIDE_RE = re.compile(r"(\d+)\.0*([^\d])")
_ZEROS_END_RE = re.compile(r"(\d+)\.0*$")
_SQRT_RE = re.compile(r"\\sqrt(\w+)")
_DELETED_PREFIXES = ("x=", "y=", "z=", "x\\in", "y\\in", "z\\in", "x\\to", "y\\to", "z\\to")


def strip_string(string: object, skip_unit: bool = False) -> str:
    """The official normalisation of an answer string (see the module docstring for the rules)."""
    s = str(string).strip().replace("\n", "").rstrip(".")
    s = s.replace("\\!", "")
    s = _ARRAY_BEGIN_RE.sub(r"\\begin{pmatrix}", s)
    s = s.replace("\\end{array}", "\\end{pmatrix}").replace("bmatrix", "pmatrix")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = rewrite_relations(s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\{", "{").replace("\\}", "}")

    without_text = _TRAILING_TEXT_RE.sub("", s).strip()
    if without_text not in ("", s):
        s = without_text
    if not skip_unit:
        s = remove_unit_words(s)

    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\(", "").replace("\\)", "")
    s = words_to_number(s)
    s = _TEXT_RE.sub(r"\1", s)
    for prefix in _DELETED_PREFIXES:
        s = s.replace(prefix, "")
    s = s.replace("\\emptyset", "{}").replace("(-\\infty,\\infty)", "\\mathbb{R}")
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")

    s = s.replace("infinity", "\\infty")
    if "\\infty" not in s:
        s = s.replace("inf", "\\infty")
    s = s.replace("+\\inity", "\\infty")
    s = s.replace("and", "").replace("\\mathbf", "")
    s = _MBOX_RE.sub("", s)
    if "j" in s and "i" not in s:
        s = s.replace("j", "i")
    s = _ZEROS_INSIDE_RE.sub(r"\1\2", s)
    s = _ZEROS_END_RE.sub(r"\1", s)

    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    s = _SQRT_RE.sub(r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = fix_fracs(s)
    return fix_a_slash_b(s)


def rewrite_relations(s: str) -> str:
    """``\\neq``/``\\leq``/``\\geq`` -> ``\\ne``/``\\le``/``\\ge`` (all that Minerva's gold gets)."""
    return s.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")


def fix_fracs(s: str) -> str:
    """Brace the arguments of ``\\frac`` written without braces: ``\\frac12`` -> ``\\frac{1}{2}``.

    After each ``\\frac`` that is not followed by ``{``, the first character becomes the
    numerator and, unless it is ``{``, the second the denominator. A ``\\frac`` followed by fewer
    than two characters leaves the whole string unchanged.
    """
    pieces = s.split("\\frac")
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append("\\frac")
        if piece.startswith("{"):
            out.append(piece)
            continue
        if len(piece) < 2:
            return s
        a, b, rest = piece[0], piece[1], piece[2:]
        if b == "{":
            out.append("{" + a + "}" + b + rest)
        else:
            out.append("{" + a + "}{" + b + "}" + rest)
    return "".join(out)


def fix_a_slash_b(s: str) -> str:
    """``a/b`` of two integers (as written, e.g. not ``03/4``) -> ``\\frac{a}{b}``; ``sqrt`` sides are kept as text."""
    parts = s.split("/")
    if len(parts) != 2:
        return s
    a, b = parts
    try:
        a_out = a if "sqrt" in a else str(int(a))
        b_out = b if "sqrt" in b else str(int(b))
    except ValueError:
        return s
    if s != f"{a_out}/{b_out}":
        return s
    return "\\frac{" + a_out + "}{" + b_out + "}"
