"""Toy world 2: a miniature with long-tailed skills, multi-step programs and graded difficulty.

``tasks`` (the family), ``config``, ``model`` (the first world's tiny Llama, this alphabet),
``train`` (pretraining and GRPO, reusing the first world's loops), ``evaluate``, ``targets``,
``experiments`` (the runner that writes ``data/toyworld2/``) and ``results`` (provenance).
"""
