"""Warm the graders up once in the fork server, so every worker starts warm.

Importing this module grades a spread of typical answers in the ``strict`` and ``paper`` modes.
The LaTeX parser (ANTLR) builds its prediction tables lazily and keeps them for the life of the
process; sympy caches too. Done once in the fork server (``GradingPool`` preloads this module
there), every worker forked from it inherits the warm tables: on MATH500-style answers the first
thousand verdicts of a cold worker cost about 1.6x the CPU of a warm one.

Nothing here may raise: the fork server imports preloaded modules at start-up.
"""

from __future__ import annotations

import logging

# Typical final answers of the six benchmarks: numbers, fractions, roots, intervals, tuples,
# sets, matrices, equations, degrees, percentages, text, scientific notation.
ANSWERS = (
    "18",
    "-7",
    "0.25",
    "\\frac{14}{3}",
    "\\dfrac{3}{4}",
    "3\\sqrt{2}",
    "\\frac{\\sqrt{3}}{2}",
    "2\\pi",
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    "[0, 1)",
    "(-\\infty, 2] \\cup [3, \\infty)",
    "\\{1, 2, 3\\}",
    "1,3,5",
    "(1,8,19), (2,7,13)",
    "\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}",
    "x^2 + 2x + 1",
    "y = 2x + 1",
    "f(n)=n",
    "90^\\circ",
    "50\\%",
    "\\$5.00",
    "\\text{Evelyn}",
    "\\text{(C)}",
    "4.5e33",
    "2.88 \\times 10^{-19}",
    "e^{-t/2}",
    "\\sin x + \\cos x",
    "\\log_2 8",
    "p - q",
    "10 \\text{ cm}",
)


def warm_up() -> None:
    """Grade every answer against itself and against its neighbour in both math modes."""
    from analysis.grading.paper import grade_paper
    from analysis.grading.strict import grade_strict

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    for i, answer in enumerate(ANSWERS):
        other = ANSWERS[(i + 1) % len(ANSWERS)]
        for grade in (grade_strict, grade_paper):
            for response in (f"The answer is $\\boxed{{{answer}}}$.", f"So we get $\\boxed{{{other}}}$."):
                try:
                    grade(response, answer)
                except BaseException:
                    continue


warm_up()
