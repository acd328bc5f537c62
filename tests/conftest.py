"""Shared fixtures and skip rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RLVR_SHARED", REPO.parent / "shared"))
BENCHMARKS_DIR = SHARED / "benchmarks" / "math"
REFERENCE_DIR = SHARED / "reference"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """The paper's benchmark files (``../shared/benchmarks/math``); skips where absent."""
    if not (BENCHMARKS_DIR / "SHA256SUMS").is_file():
        pytest.skip(f"the paper's benchmark files are not at {BENCHMARKS_DIR} (set RLVR_SHARED to their parent)")
    return BENCHMARKS_DIR


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Reference data (``../shared/reference``); skips where absent."""
    if not (REFERENCE_DIR / "PAPER.md").is_file():
        pytest.skip(f"the reference data are not at {REFERENCE_DIR} (set RLVR_SHARED to their parent)")
    return REFERENCE_DIR
