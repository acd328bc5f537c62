"""The code domain: HumanEval+, MBPP+ and LiveCodeBench, graded by running programs in a sandbox.

Modules, bottom up:

* ``jail``: namespaces, read-only file-system view, credentials, rlimits (inside the sandbox);
* ``harness``: loads a program and runs its tests inside the sandbox, streaming outputs;
* ``zygote``: the warm worker that forks one confined process per program;
* ``sandbox``: the parent's side: ``Sandbox``, ``detect_isolation``, ``RawRun``;
* ``values``: the closed value encoding that crosses the sandbox wall;
* ``evalplus_rules``, ``livecodebench_rules``: the benchmarks' comparison rules;
* ``loaders``: problems tables and test sets (local folders, pinned downloads, hub);
* ``extract``, ``prompts``: the program in a response; the benchmarks' prompt templates;
* ``grade``: one program's verdict (``CodeGrader``); ``samples``: the study's grade stage.

Nothing is imported here, so importing one module does not import the others.
"""
