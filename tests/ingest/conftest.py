"""Fixtures for EDGAR-facing tests: a local EDGAR-layout HTTP server and Settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.ingest.sec_client import CIRCUIT_BREAKER, RATE_LIMITER
from tests.edgar_server import EdgarServer

TEST_USER_AGENT = "Clusterbuy tests tests@example.com"


@pytest.fixture
def edgar_server(tmp_path: Path) -> Iterator[EdgarServer]:
    """A running EDGAR-layout server over an empty mirror folder (`.root`); write files, then request."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = EdgarServer(root).start()
    # The breaker and limiter are process-wide: start and end every server test from a clean slate.
    CIRCUIT_BREAKER.reset()
    RATE_LIMITER.reset()
    try:
        yield server
    finally:
        server.stop()
        CIRCUIT_BREAKER.reset()


@pytest.fixture
def edgar_settings(edgar_server: EdgarServer, tmp_path: Path) -> Settings:
    """Settings aimed at the local server (both hosts), a declared User-Agent and a per-test cache."""
    return Settings(
        _env_file=None,
        sec_user_agent=TEST_USER_AGENT,
        edgar_base_url=edgar_server.base_url,
        edgar_data_base_url=edgar_server.base_url,
        edgar_max_rps=10,
        edgar_timeout_s=2.0,
        cache_dir=tmp_path / "cache",
    )
