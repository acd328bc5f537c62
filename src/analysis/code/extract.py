"""Finding the program in a model's response.

The convention of the paper's evaluators: the code is the last fenced block (LiveCodeBench's
``extract_code`` takes the lines between the last two lines holding a fence; EvalPlus's prompt
pre-fills an opened ```python block, so the response starts inside it). Here:

1. when the prompt ended inside an opened fence (``prefilled``), the response is read as if it
   began with "```python";
2. the last complete fenced block is the program (any language tag, or none);
3. a last fence that was opened but never closed (a response cut by a stop string or the token
   limit) gives everything after it;
4. a response with no fence at all is taken whole (base models often answer with bare code).

Returns ``None`` when nothing but whitespace is left.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*$")
OPEN_FENCE = "```python\n"


def extract_code(text: str | None, *, prefilled: bool = False) -> str | None:
    if text is None:
        return None
    if prefilled:
        text = OPEN_FENCE + text
    lines = text.split("\n")
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if not fences:
        # an inline fence closing on the last line (e.g. "return x```"): cut there
        body = text.split("```")[0] if "```" in text else text
        return body.strip("\n") or None if body.strip() else None
    code: str | None = None
    if len(fences) % 2 == 1:  # the last fence opens a block that never closes
        code = "\n".join(lines[fences[-1] + 1 :])
    if (code is None or not code.strip()) and len(fences) >= 2:
        start, end = (fences[-3], fences[-2]) if len(fences) % 2 == 1 else (fences[-2], fences[-1])
        code = "\n".join(lines[start + 1 : end])
    if code is None or not code.strip():
        return None
    return code.strip("\n")
