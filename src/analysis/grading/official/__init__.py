"""The official evaluator's rules (Qwen2.5-Math / ToRA lineage), the pieces of ``paper`` mode.

``extract`` (stop words, answer extraction, multiple-choice rules, gold parsing), ``normalize``
(``strip_string``, with ``units`` and ``words``), ``equal`` (``math_equal``) and ``parse`` (the
three parsers of its symbolic fallback). ``analysis.grading.paper`` puts them together.
"""
