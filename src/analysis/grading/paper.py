"""The ``paper`` grader: the official evaluator's rules, written from their description.

The paper's evaluation code is the Qwen2.5-Math / ToRA grader lineage, not math-verify (see
``../shared/reference/PAPER.md`` section 6.4). This module follows that description; no code was
copied from it. In order:

Extraction (``extract_paper_answer``), first rule that applies:

1. Minerva's ``final answer is $X$. I hope`` pattern;
2. the content of the last ``\\boxed{}`` (braces matched by depth);
3. the text after the last ``he answer is``; 4. after ``final answer is``; 5. after ``答案是``;
6. otherwise the last number in the response (``-?\\d*\\.?\\d+`` after removing commas), so an
   unformatted output can still score when its last number happens to be the answer.

Newlines are removed, a leading ``:`` and a trailing ``.`` or ``/`` dropped, and the result
normalised (``normalize_answer``: ``\\text``, units, ``\\left``/``\\right``, degrees, dollars,
percent signs, spaces, ``dfrac``/``tfrac``, bare ``\\frac12`` and ``\\sqrt3``, ``a/b``, ``x = 3``).

Comparison (``math_equal(prediction, reference)``), first rule that decides:

* case-insensitive string equality;
* multiple choice: a reference that is one letter A-E matches the last such letter of the
  prediction;
* numbers: ``isclose(rel_tol=1e-4)`` against ``ref``, ``ref / 100`` and ``ref * 100`` (the
  official percentage leniency); two numbers that are not close are unequal;
* brackets: with outer ``()``/``[]`` stripped and ``{}()`` removed, equal strings are equal (so,
  as in the official grader, an open and a closed interval end are not told apart);
* lists: comma-separated lists (bracketed tuples and intervals, or bare ``1,3,5``) are compared
  element by element **in order**; a permutation is a different answer. This is how OlympiadBench
  problems with several answers are graded in this mode (the ``strict`` mode compares them as
  sets instead);
* ``pmatrix``/``bmatrix``: element by element;
* equations: two single-``=`` equations are equal when ``lhs - rhs`` agree up to sign; ``x = 3``
  matches ``3`` when the left side has at most 2 characters (either way round);
* symbolic: both sides parsed with latex2sympy (``latex2sympy2_extended``) or sympy's
  ``parse_expr``, then ``==``, ``simplify(a - b) == 0``, numeric ``N()`` within ``rel_tol=1e-4``,
  or matrices equal after rounding to 3 decimals. (The official code also tries sympy's
  ``parse_latex``, which needs an ANTLR runtime pinned to 4.11; latex2sympy covers the same
  inputs here.)

There is no timeout in here: a hung sympy call is bounded by the process pool's hard deadline
(``analysis.grading.pool``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

import sympy
from latex2sympy2_extended import latex2sympy
from sympy.parsing.sympy_parser import parse_expr

from analysis.answers import last_boxed
from analysis.grading.result import GradeResult

MODE = "paper"

_NUMBER_RE = re.compile(r"-?\d*\.?\d+")
_CHOICES = "ABCDE"


def extract_paper_answer(text: str | None) -> str | None:
    """The official evaluator's answer for ``text`` (normalised), or ``None`` if there is none."""
    if not text or not text.strip():
        return None
    pred = _raw_answer(text)
    if pred is None:
        return None
    pred = re.sub(r"\n\s*", "", pred).strip()
    pred = pred.removeprefix(":").strip()
    while pred.endswith((".", "/")):
        pred = pred[:-1].rstrip()
    pred = normalize_answer(pred)
    return pred or None


def _raw_answer(text: str) -> str | None:
    minerva_start = text.rfind("final answer is $")
    if minerva_start != -1:
        rest = text[minerva_start + len("final answer is $") :]
        end = rest.find("$. I hope")
        if end != -1:
            return rest[:end]
    box = last_boxed(text)
    if box is not None:
        return box
    for phrase in ("he answer is", "final answer is", "答案是"):
        pos = text.rfind(phrase)
        if pos != -1:
            return text[pos + len(phrase) :]
    numbers = _NUMBER_RE.findall(text.replace(",", ""))
    return numbers[-1] if numbers else None


# --- normalisation ---------------------------------------------------------------------------

_UNIT_TEXT_RE = re.compile(r"\\(?:text|mbox|mathrm)\{\s+[^{}]*\}.*$", re.DOTALL)
_TEXT_RE = re.compile(r"\\(?:text|textbf|mbox|mathrm|mathbf)\{([^{}]*)\}")
_SQRT_RE = re.compile(r"\\sqrt(\w)")
_FRAC_NOBRACE_RE = re.compile(r"\\frac(?:(\d)(\d)|(\d)\{|\{([^{}]*)\}(\d))")
_SLASH_RE = re.compile(r"^(-?\d+)/(\d+)$")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def normalize_answer(answer: str) -> str:
    """The string normalisation applied to predictions and references before comparison."""
    s = str(answer).strip().replace("\n", "")
    for old, new in (
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\:", ""),
        ("{,}", ""),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\left", ""),
        ("\\right", ""),
        ("\\displaystyle", ""),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        ("°", ""),
        ("\\$", ""),
        ("$", ""),
        ("\\%", ""),
        ("%", ""),
    ):
        s = s.replace(old, new)
    before_units = _UNIT_TEXT_RE.sub("", s).strip()
    if before_units:  # "10 \text{ cm}" -> "10"; a bare "\text{ east}" keeps its text
        s = before_units
    s = _TEXT_RE.sub(r"\1", s)
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if s.startswith("."):
        s = "0" + s
    parts = s.split("=")
    if len(parts) == 2 and len(parts[0].strip()) <= 2:
        s = parts[1]
    s = _SQRT_RE.sub(r"\\sqrt{\1}", s)
    s = s.replace(" ", "")
    s = _FRAC_NOBRACE_RE.sub(_fix_frac, s)
    slash = _SLASH_RE.match(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    return s.rstrip(".")


def _fix_frac(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    if m.group(3) is not None:
        return f"\\frac{{{m.group(3)}}}{{"
    return f"\\frac{{{m.group(4)}}}{{{m.group(5)}}}"


# --- comparison ------------------------------------------------------------------------------


_FLOAT_RE = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _to_number(s: str) -> float | None:
    """A plain decimal number (thousands separators were removed by ``normalize_answer``)."""
    t = s.strip()
    if not _FLOAT_RE.fullmatch(t):
        return None
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split_top_level(s: str) -> list[str]:
    """Split ``s`` at commas outside every bracket pair ({}, (), [])."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _wrapped(s: str) -> bool:
    """Whether ``s`` is one bracket pair ``(...)`` / ``[...]`` around its whole content."""
    if len(s) < 2 or s[0] not in "([" or s[-1] not in ")]":
        return False
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return False
    return depth == 0


def _elements(s: str) -> list[str] | None:
    parts = _split_top_level(s)
    if len(parts) > 1:
        return parts
    if _wrapped(s):
        inner = _split_top_level(s[1:-1])
        if len(inner) > 1:
            return inner
    return None


_MATRIX_RE = re.compile(r"^\\begin\{[pb]matrix\}(.*)\\end\{[pb]matrix\}$", re.DOTALL)


def _matrix_cells(s: str) -> list[list[str]] | None:
    m = _MATRIX_RE.match(s.strip())
    if not m:
        return None
    rows = [r for r in m.group(1).split("\\\\") if r.strip()]
    return [[c.strip() for c in r.split("&")] for r in rows]


def _choice(pred: str) -> str | None:
    letters = re.findall(r"(?<![A-Za-z])([A-E])(?![A-Za-z])", pred)
    return letters[-1] if letters else None


def math_equal(prediction: str | None, reference: str | None, include_percentage: bool = True) -> bool:
    """Whether ``prediction`` equals ``reference`` under the official evaluator's rules."""
    if prediction is None or reference is None:
        return False
    pred, ref = str(prediction).strip(), str(reference).strip()
    if pred.lower() == ref.lower():
        return True
    if len(ref) == 1 and ref.upper() in _CHOICES:
        return _choice(pred) == ref.upper()
    p_num, r_num = _to_number(pred), _to_number(ref)
    if p_num is not None and r_num is not None:
        targets = [r_num / 100, r_num, r_num * 100] if include_percentage else [r_num]
        return any(math.isclose(p_num, t, rel_tol=1e-4) for t in targets)
    if not pred:
        return False
    if _bracket_equal(pred, ref):
        return True
    p_elems, r_elems = _elements(pred), _elements(ref)
    if p_elems is not None or r_elems is not None:
        # Lists are compared in order; no symbolic fallback on the whole list (a parser would
        # read "1,3,5" as a set and quietly make the comparison unordered).
        return (
            p_elems is not None
            and r_elems is not None
            and len(p_elems) == len(r_elems)
            and all(math_equal(a, b, include_percentage) for a, b in zip(p_elems, r_elems, strict=True))
        )
    p_mat, r_mat = _matrix_cells(pred), _matrix_cells(ref)
    if p_mat is not None and r_mat is not None:
        return [len(r) for r in p_mat] == [len(r) for r in r_mat] and all(
            math_equal(a, b, include_percentage)
            for pr, rr in zip(p_mat, r_mat, strict=True)
            for a, b in zip(pr, rr, strict=True)
        )
    if _equations_equal(pred, ref, include_percentage):
        return True
    return symbolic_equal(pred, ref)


def _bracket_equal(pred: str, ref: str) -> bool:
    p, r = pred, ref
    if (p.startswith("[") and p.endswith("]") and not r.startswith("(")) or (
        p.startswith("(") and p.endswith(")") and not r.startswith("[")
    ):
        p, r = p.strip("[]()"), r.strip("[]()")
    for ch in "{}()":
        p, r = p.replace(ch, ""), r.replace(ch, "")
    return p.lower() == r.lower()


def _equations_equal(pred: str, ref: str, include_percentage: bool) -> bool:
    p_eq, r_eq = pred.count("="), ref.count("=")
    if p_eq == 1 and r_eq == 1:
        pl, pr = pred.split("=")
        rl, rr = ref.split("=")
        p_diff, r_diff = f"{pl}-({pr})", f"{rl}-({rr})"
        return symbolic_equal(p_diff, r_diff) or symbolic_equal(f"-({p_diff})", r_diff)
    if p_eq == 1 and r_eq == 0:
        lhs, rhs = pred.split("=")
        return len(lhs.strip()) <= 2 and math_equal(rhs, ref, include_percentage)
    if r_eq == 1 and p_eq == 0:
        lhs, rhs = ref.split("=")
        return len(lhs.strip()) <= 2 and math_equal(pred, rhs, include_percentage)
    return False


@lru_cache(maxsize=4096)
def _parse(s: str) -> object:
    """A sympy object for ``s``, or ``s`` itself when no parser reads it."""
    for parser in (latex2sympy, parse_expr):
        try:
            return parser(s)
        except Exception:  # any parse failure means: try the next parser
            continue
    return s


def symbolic_equal(a: str, b: str) -> bool:
    """Symbolic equality of two answers, as in the official grader's last resort."""
    x, y = _parse(a), _parse(b)
    if isinstance(x, str) or isinstance(y, str):
        return False
    try:
        if x == y or str(x) == str(y):
            return True
    except Exception:  # sympy raises many types on odd inputs
        pass
    try:
        if isinstance(x, sympy.MatrixBase) and isinstance(y, sympy.MatrixBase):
            return x.shape == y.shape and x.applyfunc(lambda v: round(v, 3)) == y.applyfunc(lambda v: round(v, 3))
    except Exception:
        return False
    try:
        if sympy.simplify(x - y) == 0:
            return True
    except Exception:
        pass
    try:
        return math.isclose(float(sympy.N(x)), float(sympy.N(y)), rel_tol=1e-4)
    except Exception:
        return False


def grade_paper(response: str | None, gold: str | Sequence[str]) -> GradeResult:
    """Grade ``response`` against ``gold`` (one answer or several accepted ones) by the paper's rules."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    extracted = extract_paper_answer(response)
    if extracted is None:
        return GradeResult(False, None, "no_answer", MODE)
    correct = any(_equal_cached(extracted, normalize_answer(g)) for g in golds)
    return GradeResult(correct, extracted, "ok", MODE)


@lru_cache(maxsize=8192)
def _equal_cached(prediction: str, reference: str) -> bool:
    """``math_equal``, remembered: at large k many samples give the same answer."""
    return math_equal(prediction, reference)
