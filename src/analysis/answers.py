"""Small text helpers for locating final answers (shared by benchmarks and grading)."""

from __future__ import annotations

BOX_COMMANDS = ("\\boxed", "\\fbox")


def boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the content of every ``\\boxed{...}`` / ``\\fbox{...}`` in ``text``.

    Braces are matched by depth counting, so nested braces (``\\boxed{\\frac{1}{2}}``) are kept
    whole. A box whose braces never close is ignored. ``\\boxed 5`` (no braces) yields the token
    after the space. Spans are returned in order of appearance; nested boxes appear after the
    box that contains them.
    """
    spans: list[tuple[int, int]] = []
    i = 0
    n = len(text)
    while i < n:
        j = min((p for p in (text.find(c, i) for c in BOX_COMMANDS) if p != -1), default=-1)
        if j == -1:
            break
        k = text.find("{", j) if j != -1 else -1
        cmd_end = j + (len("\\boxed") if text.startswith("\\boxed", j) else len("\\fbox"))
        rest = text[cmd_end:]
        if rest.startswith(" ") and not rest.lstrip().startswith("{"):
            token = rest[1:].split(maxsplit=1)
            if token:
                start = cmd_end + 1 + (len(rest[1:]) - len(rest[1:].lstrip()))
                end = start + len(token[0].rstrip("$.,"))
                spans.append((start, end))
            i = cmd_end + 1
            continue
        if k != cmd_end:
            i = cmd_end
            continue
        depth = 0
        end = -1
        for p in range(k, n):
            ch = text[p]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = p
                    break
        if end == -1:
            i = k + 1
            continue
        spans.append((k + 1, end))
        i = k + 1
    return spans


def last_boxed(text: str | None) -> str | None:
    """Content of the last complete top-level box in ``text``, or ``None`` if there is none."""
    if not text:
        return None
    spans = boxed_spans(text)
    if not spans:
        return None
    # The last box that is not nested inside another: the one with the greatest start among
    # spans not contained in a later-starting outer span.
    top = [s for s in spans if not any(o[0] < s[0] and s[1] <= o[1] for o in spans if o != s)]
    start, end = top[-1]
    return text[start:end]
