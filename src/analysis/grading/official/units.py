"""The unit words the official ``strip_string`` deletes (a fixed list that came from MathQA).

The list is data, kept as the official evaluator has it, typos included (``m sqaure``), because
its exact content decides verdicts: single letters such as ``a``, ``t``, ``c``, ``s`` and words
such as ``east``, ``are``, ``number`` or ``more`` are deleted wherever they stand alone, which is
what makes the official grader accept ``5 cm`` for ``5`` but also turn the gold ``\\text{east}``
into the empty string. Each entry is used as a regular expression (so ``.`` matches any
character), and every entry also gets a plural form with ``s`` appended, after the whole list.
"""

from __future__ import annotations

import re
from functools import cache

_BASE = (
    "east", "degree", "mph", "kmph", "ft", "m sqaure", " m east", "sq m", "deg", "mile", "q .",
    "monkey", "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm",
    "lt", "gain", "ab", "way", "west", "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t",
    "a", "h", "no change", "men", "soldier", "pie", "bc", "excess", "st", "inches", "noon",
    "percent", "by", "gal", "kmh", "c", "acre", "rise", "a . m", "th", "π r 2", "sq", "mark", "l",
    "toy", "coin", "sq . m", "gallon", "° f", "profit", "minw", "yr", "women", "feet", "am", "pm",
    "hr", "cu cm", "square", "v â € ™", "are", "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm",
    "number", "kmph", "day", "hour", "minute", "min", "second", "man", "woman", "sec", "cube", "mt",
    "sq inch", "mp", "∏ cm ³", "hectare", "more", "sec", "unit", "cu . m", "cm 2", "rs .", "rs",
    "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter", "loss", "yard", "pure", "year",
    "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m", "s .", "metre", "meter",
    "inch",
)  # fmt: skip

UNIT_WORDS: tuple[str, ...] = (*_BASE, *(u + "s" for u in _BASE))


@cache
def unit_patterns() -> tuple[tuple[str | None, re.Pattern[str]], ...]:
    """Per unit word: a literal that must occur for it to match (``None``: no shortcut), and its pattern.

    The pattern is the word between non-word characters or string ends. The literal lets most of
    the ~260 patterns be skipped with a substring test; words with a ``.`` (any character as a
    regular expression) always run.
    """
    return tuple((None if "." in u else u, re.compile(r"(^|\W)" + u + r"($|\W)")) for u in UNIT_WORDS)


def remove_unit_words(s: str) -> str:
    """Delete every listed unit word, two passes over the list; a deletion that empties ``s`` is skipped."""
    for _ in range(2):
        for literal, pattern in unit_patterns():
            if literal is not None and literal not in s:
                continue
            out = pattern.sub(r"\1\2", s)
            if out != "":
                s = out
    return s
