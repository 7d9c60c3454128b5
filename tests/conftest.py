"""Shared test configuration: where the real EDGAR samples live, and whether they must be present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("CLUSTERBUY_SHARED_DIR", ROOT.parent / "shared"))
SAMPLES_DIR = SHARED_DIR / "edgar-samples"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"


def require_samples() -> Path:
    """Return the shared EDGAR samples folder, or skip (fail under REQUIRE_SHARED=1) when absent."""
    if SAMPLES_DIR.is_dir():
        return SAMPLES_DIR
    if os.environ.get("REQUIRE_SHARED") == "1":
        pytest.fail(f"REQUIRE_SHARED=1 but {SAMPLES_DIR} is missing")
    pytest.skip(f"shared EDGAR samples not found at {SAMPLES_DIR}")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return require_samples()
