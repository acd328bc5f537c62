"""Small text helpers for locating final answers (shared by benchmarks and grading).

Everything here is linear in the length of the text, so a 1 MB response full of unclosed
``\\boxed{`` costs milliseconds, not minutes.
"""

from __future__ import annotations

import re

BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BRACE_RE = re.compile(r"[{}]")


def _matching_braces(text: str) -> dict[int, int]:
    """Position of every ``{`` that closes -> position of its ``}`` (one pass with a stack).

    Every brace counts, escaped ones (``\\{``) included, as in the official evaluator's
    brace-depth counter; a ``}`` with no open brace is ignored.
    """
    match: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_RE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            match[stack.pop()] = m.start()
    return match


def boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the content of every ``\\boxed{...}`` / ``\\fbox{...}`` in ``text``.

    Braces are matched by depth counting, so nested braces (``\\boxed{\\frac{1}{2}}``) are kept
    whole. Whitespace between the command and its brace is allowed. A box whose brace never
    closes is ignored. ``\\boxed 5`` (a space, no brace) yields the token after the space, minus
    trailing ``$.,``. Spans are returned in order of appearance; nested boxes appear after the
    box that contains them.
    """
    commands = list(_BOX_RE.finditer(text))
    if not commands:
        return []
    match = _matching_braces(text)
    spans: list[tuple[int, int]] = []
    n = len(text)
    for cmd in commands:
        p = cmd.end()
        while p < n and text[p].isspace():
            p += 1
        if p < n and text[p] == "{":
            close = match.get(p)
            if close is not None:
                spans.append((p + 1, close))
        elif p > cmd.end() and p < n:
            token = text[p:].split(maxsplit=1)[0].rstrip("$.,")
            if token:
                spans.append((p, p + len(token)))
    return spans


def top_level_boxed_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``boxed_spans`` that are not nested inside another box, in order."""
    top: list[tuple[int, int]] = []
    outer_end = -1
    for start, end in boxed_spans(text):
        if start < outer_end:  # inside the previous top-level box
            continue
        top.append((start, end))
        outer_end = end
    return top


def last_boxed(text: str | None) -> str | None:
    """Content of the last complete top-level box in ``text``, or ``None`` if there is none."""
    if not text:
        return None
    top = top_level_boxed_spans(text)
    if not top:
        return None
    start, end = top[-1]
    return text[start:end]
