"""The three parsers the official ``symbolic_equal`` tries, in its order.

1. sympy's ANTLR LaTeX parser (``sympy.parsing.latex.parse_latex``, non-strict). It reads the
   longest leading relation and silently ignores the rest, which is where the official
   grader's best-known leniency comes from: ``1,2`` reads as ``1`` (everything after a top-level
   comma is dropped) and ``x+1)`` as ``x+1``. sympy refuses to run it unless the installed ANTLR
   runtime is 4.11, while math-verify needs 4.13; the generated 4.11 parser runs unchanged on the
   4.13 runtime (same serialised grammar format), so ``parse_latex`` here drives sympy's own
   lexer, parser and converter directly, without that version check.
2. sympy's ``parse_expr`` (Python syntax). It evaluates its input, so strings that could reach
   Python builtins (``__``, quotes, ``import``, ``lambda`` ...) are refused; no answer to a math
   problem contains them, and the official grader would only have evaluated them.
3. ``latex2sympy`` (``latex2sympy2_extended``, the maintained successor of the ``latex2sympy2``
   the official code vendors; it is only reached when both parsers above fail).

Each parser is tried on the string with ``\\\\`` turned into ``\\`` first, then as it is.
"""

from __future__ import annotations

import contextlib
import io
import re
from functools import lru_cache

from sympy.parsing.sympy_parser import parse_expr

_UNSAFE_RE = re.compile(r"__|['\"`]|\b(?:import|lambda|exec|eval|open|compile|getattr|setattr|globals|locals|vars)\b")


def parse_latex(s: str, strict: bool = False) -> object:
    """sympy's non-strict ANTLR LaTeX parser, without its runtime-version check.

    sympy's converter calls its own module-level ``parse_latex`` again for the numerator of a
    derivative (``\\frac{dM}{dt}``); that name is pointed at this function on first use, so the
    nested call does not stop at the version check either.
    """
    import antlr4
    from sympy.parsing.latex import _parse_latex_antlr as antlr_latex

    if antlr_latex.parse_latex is not parse_latex:
        antlr_latex.parse_latex = parse_latex
    s = s.strip()
    listener = antlr_latex.MathErrorListener(s)
    # The generated code prints a version notice on every construction: silence it.
    with contextlib.redirect_stdout(io.StringIO()):
        lexer = antlr_latex.LaTeXLexer(antlr4.InputStream(s))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    with contextlib.redirect_stdout(io.StringIO()):
        parser = antlr_latex.LaTeXParser(antlr4.CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    relation = parser.math().relation()
    if strict and (relation.start.start != 0 or relation.stop.stop != len(s) - 1):
        msg = "Invalid LaTeX"
        raise antlr_latex.LaTeXParsingError(msg)
    return antlr_latex.convert_relation(relation)


def safe_parse_expr(s: str) -> object:
    """sympy's ``parse_expr``, refusing strings that could reach Python builtins."""
    if _UNSAFE_RE.search(s):
        msg = f"refusing to evaluate {s[:50]!r}"
        raise ValueError(msg)
    return parse_expr(s)


def latex2sympy(s: str) -> object:
    """``latex2sympy2_extended.latex2sympy`` (imported on first use: it is slow to import)."""
    from latex2sympy2_extended import latex2sympy as convert
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    # Its basic replacements (``\\dfrac``, ``\\displaystyle``, ``$`` ...) match the older package's;
    # unwrapping ``\\boxed``/``\\fbox`` does not (the official parser refuses ``\\fbox{...}``).
    config = NormalizationConfig(boxed="none")
    try:
        return convert(s, normalization_config=config)
    except Exception:
        # The official (older) latex2sympy2 lexes ``\\\\`` (a matrix row break) and ignores
        # tokens after a complete expression, so ``902\\\\`` reads as 902; this one refuses.
        trimmed = _TRAILING_ROW_BREAKS_RE.sub("", s)
        if trimmed in (s, ""):
            raise
        return convert(trimmed, normalization_config=config)


_TRAILING_ROW_BREAKS_RE = re.compile(r"(?:\s*\\\\)+\s*$")

_PARSERS = (parse_latex, safe_parse_expr, latex2sympy)


@lru_cache(maxsize=4096)
def parse_answer(s: str) -> object:
    """A sympy object for ``s`` from the first parser that reads it, or ``s`` itself."""
    for parser in _PARSERS:
        for candidate in dict.fromkeys((s.replace("\\\\", "\\"), s)):
            try:
                return parser(candidate)
            except Exception:  # any failure: try the next form, then the next parser
                continue
    return s
