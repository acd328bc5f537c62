"""``math_equal``: the official evaluator's comparison of a prediction with a reference.

Written from the rules of the official ``grader.py`` (no code copied). First rule that decides:

1. case-insensitive string equality (after stripping);
2. a reference that is one letter A-E matches when the last stand-alone letter A-E of the
   prediction is that letter;
3. numbers: when both strings read as floats after deleting EVERY comma (so ``1, 3`` is 13, and
   ``50%``/``50\\%`` reads as 0.5), they are equal when the prediction is within a relative
   tolerance of 1e-4 of the reference, the reference / 100 or the reference * 100; otherwise
   they are unequal, and no other rule is tried;
4. an empty prediction is unequal;
5. brackets: a prediction in ``[]``/``()`` has its outer brackets stripped (both sides) unless the
   reference opens with the other kind; then all ``{}()`` are deleted and the strings compared
   case-insensitively (so ``[2,\\infty)`` equals ``(2,\\infty)``);
6. both start with ``(``/``[`` and end with ``)``/``]`` somewhere: the insides are split at EVERY
   comma and compared element by element, in order;
7. two ``pmatrix``/``bmatrix`` environments: row by row, cell by cell;
8. equations: two single-``=`` equations are equal when ``lhs - (rhs)`` agree symbolically up to
   sign; one with a left side of at most 2 characters is compared by its right side;
9. ``symbolic_equal``.

``symbolic_equal`` parses both sides (``analysis.grading.official.parse``) and accepts when their
strings or the objects are equal, ``a.equals(b)`` or ``simplify(a - b) == 0``, the equations'
``|lhs - rhs|`` are equal, ``N()`` of both are within the 1e-4 tolerance, or both are matrices
of one shape that are equal after rounding to 3 decimals.
"""

from __future__ import annotations

import math
import re

from sympy import N, simplify

from analysis.grading.official.parse import parse_answer

REL_TOL = 1e-4
_CHOICE_RE = re.compile(r"\b(A|B|C|D|E)\b")
_OPEN_CLOSE_RE = re.compile(r"(\(|\[).+(\)|\])")
_MATRIX_PREFIXES = ("\\begin{pmatrix}", "\\begin{bmatrix}")
_MATRIX_SUFFIXES = ("\\end{pmatrix}", "\\end{bmatrix}")
_SET_RE = re.compile(r"\{.*,.*\}")


def numeric_equal(prediction: float, reference: float) -> bool:
    """Within the official relative tolerance (1e-4)."""
    return math.isclose(reference, prediction, rel_tol=REL_TOL)


def parse_digits(s: str) -> float | None:
    """The official number reader: every comma deleted, then ``float``; ``x%``/``x\\%`` is x / 100."""
    t = str(s).replace(",", "")
    try:
        return float(t)
    except ValueError:
        pass
    if t.endswith("%"):
        t = t[:-1].removesuffix("\\")
        try:
            return float(t) / 100
        except ValueError:
            return None
    return None


def last_choice(prediction: str) -> str:
    """The last stand-alone letter A-E of ``prediction`` (else the prediction without its dots)."""
    pred = prediction.strip("\n").rstrip(".").rstrip("/").strip(" ").lstrip(":")
    letters = _CHOICE_RE.findall(pred.upper())
    chosen = letters[-1] if letters else pred.strip().strip(".")
    return chosen.rstrip(".").rstrip("/")


def _set_to_pmatrix(s: str) -> str:
    """The official conversion of a ``{a,b}`` reference into a ``pmatrix`` (one row per set)."""
    out = []
    for m in _SET_RE.findall(s.strip()):
        inner = m.strip("{}")
        out.append("\\begin{pmatrix}" + inner.replace(",", "\\") + "\\end{pmatrix}")
    return ", ".join(out)


def math_equal(prediction: str | None, reference: str | None, include_percentage: bool = True) -> bool:
    """Whether ``prediction`` equals ``reference`` under the official rules (module docstring)."""
    if prediction is None or reference is None:
        return False
    if prediction.strip().lower() == reference.strip().lower():
        return True
    if reference in ("A", "B", "C", "D", "E") and last_choice(prediction) == reference:
        return True
    p_num, r_num = parse_digits(prediction), parse_digits(reference)
    if p_num is not None and r_num is not None:
        targets = (r_num / 100, r_num, r_num * 100) if include_percentage else (r_num,)
        return any(numeric_equal(p_num, t) for t in targets)
    if not prediction:
        return False
    ref, pred = reference.strip(), prediction.strip()
    if "pmatrix" in pred and "pmatrix" not in ref:
        ref = _set_to_pmatrix(ref)
    if _brackets_equal(pred, ref):
        return True
    if _OPEN_CLOSE_RE.match(pred) and _OPEN_CLOSE_RE.match(ref):
        p_parts, r_parts = pred[1:-1].split(","), ref[1:-1].split(",")
        if len(p_parts) == len(r_parts) and all(
            math_equal(a, b, include_percentage) for a, b in zip(p_parts, r_parts, strict=True)
        ):
            return True
    if _is_matrix(pred) and _is_matrix(ref) and _matrices_equal(pred, ref, include_percentage):
        return True
    if _equations_equal(pred, ref, include_percentage):
        return True
    return symbolic_equal(pred, ref)


def _brackets_equal(pred: str, ref: str) -> bool:
    p, r = pred, ref
    if (p.startswith("[") and p.endswith("]") and not r.startswith("(")) or (
        p.startswith("(") and p.endswith(")") and not r.startswith("[")
    ):
        p, r = p.strip("[]()"), r.strip("[]()")
    for ch in "{}()":
        p, r = p.replace(ch, ""), r.replace(ch, "")
    return p.lower() == r.lower()


def _is_matrix(s: str) -> bool:
    return s.startswith(_MATRIX_PREFIXES) and s.endswith(_MATRIX_SUFFIXES)


def _matrix_rows(s: str) -> list[str]:
    inner = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
    return [line.strip() for line in inner.split("\\\\") if line.strip()]


def _matrices_equal(pred: str, ref: str, include_percentage: bool) -> bool:
    p_rows, r_rows = _matrix_rows(pred), _matrix_rows(ref)
    if len(p_rows) != len(r_rows):
        return False
    for p_row, r_row in zip(p_rows, r_rows, strict=True):
        p_cells, r_cells = p_row.split("&"), r_row.split("&")
        if len(p_cells) != len(r_cells):
            return False
        if not all(math_equal(a, b, include_percentage) for a, b in zip(p_cells, r_cells, strict=True)):
            return False
    return True


def _equations_equal(pred: str, ref: str, include_percentage: bool) -> bool:
    if pred.count("=") == 1 and ref.count("=") == 1:
        p_lhs, p_rhs = pred.split("=")
        r_lhs, r_rhs = ref.split("=")
        p_diff = f"{p_lhs.strip()} - ({p_rhs.strip()})"
        r_diff = f"{r_lhs.strip()} - ({r_rhs.strip()})"
        return symbolic_equal(p_diff, r_diff) or symbolic_equal(f"-({p_diff})", r_diff)
    if pred.count("=") == 1 and len(pred.split("=")[0].strip()) <= 2 and "=" not in ref:
        return math_equal(pred.split("=")[1], ref, include_percentage)
    if ref.count("=") == 1 and len(ref.split("=")[0].strip()) <= 2 and "=" not in pred:
        return math_equal(pred, ref.split("=")[1], include_percentage)
    return False


def symbolic_equal(a: str, b: str) -> bool:
    """The official last resort: both sides parsed, then compared five ways (module docstring)."""
    x, y = parse_answer(a), parse_answer(b)
    try:
        if str(x) == str(y) or x == y:
            return True
    except Exception:  # sympy raises many types on odd objects
        pass
    try:
        if x.equals(y) or simplify(x - y) == 0:  # type: ignore[attr-defined,operator]
            return True
    except Exception:
        pass
    try:
        if abs(x.lhs - x.rhs).equals(abs(y.lhs - y.rhs)):  # type: ignore[attr-defined]
            return True
    except Exception:
        pass
    try:
        if numeric_equal(float(N(x)), float(N(y))):  # type: ignore[arg-type]
            return True
    except Exception:
        pass
    try:
        if x.shape == y.shape:  # type: ignore[attr-defined]
            x3 = x.applyfunc(lambda v: round(v, 3))  # type: ignore[attr-defined]
            y3 = y.applyfunc(lambda v: round(v, 3))  # type: ignore[attr-defined]
            if x3.equals(y3):
                return True
    except Exception:
        pass
    return False
