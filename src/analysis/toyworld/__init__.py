"""The toy world: a tiny base model, its RLVR-trained and distilled versions, trained on the CPU.

A model organism for the paper's question. A character-level Llama is pretrained on worked
solutions of 3-digit additions written by a documented mixture of students (a carry-ignoring
shortcut, a sloppy misconception, and the correct but error-prone careful method); GRPO with a
0/1 exact-match reward trains it further; distillation fine-tunes it on an exact teacher.
What RL and distillation then do to pass@k and coverage emerges from training.

Entry points: :func:`analysis.toyworld.train.train_all` (one call trains everything of a
config, cached by hash), ``python -m analysis.toyworld train|evaluate|phase``, and the
benchmark ``toyworld`` (``analysis.benchmarks.load_benchmark("toyworld", config_path)``).
"""
