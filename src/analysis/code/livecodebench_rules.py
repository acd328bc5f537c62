"""LiveCodeBench's grading rules (``lcb_runner/evaluation/testing_util.py``), for the parent.

* Every program gets LiveCodeBench's import prelude (``IMPORT_PRELUDE``, which also raises the
  recursion limit), as the official runner prepends it.
* Time limit: 6 s per test (the runner's default ``--timeout 6``); whole run
  ``(6 + 1) x tests + 5`` s, the runner's global timeout.
* ``method`` (LeetCode) tests: ``Solution().<func_name>(*args)``, a tuple result counts as a
  list, then ``==`` with the JSON-parsed expected output.
* ``stdin`` (AtCoder) tests: the printed output and the expected text are stripped and split
  into lines, each line stripped; the line counts must agree, and each line must be equal as
  text or, failing that, as a whitespace-separated list of ``Decimal`` numbers. ``SystemExit``
  ends a test normally, whatever its code.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from analysis.code.values import short_repr

TEST_TIMEOUT_S = 6.0

IMPORT_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)


def run_budget(n_tests: int) -> float:
    return (TEST_TIMEOUT_S + 1) * n_tests + 5


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(x) for x in line.split()]
    except (InvalidOperation, ValueError):
        return None


def stdio_mismatch(got: str, expected: str) -> str | None:
    """Why ``got`` is not ``expected`` under LiveCodeBench's rules, or ``None`` when it is."""
    pred, gold = _lines(got), _lines(expected)
    if len(pred) != len(gold):
        return f"wrong answer: {len(pred)} output lines, expected {len(gold)}"
    for n, (p, g) in enumerate(zip(pred, gold, strict=True)):
        if p == g:
            continue
        dp, dg = _decimals(p), _decimals(g)
        if dp is None or dg is None or dp != dg:
            return f"wrong answer at line {n}: {short_repr(p)} != {short_repr(g)}"
    return None


def call_mismatch(got: Any, expected: Any) -> str | None:
    if isinstance(got, tuple):
        got = list(got)
    try:
        same = bool(got == expected)
    except Exception:
        same = False
    return None if same else f"expected {short_repr(expected)}, got {short_repr(got)}"
