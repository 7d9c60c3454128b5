"""Job tests use the EDGAR test server fixtures of the ingest tests."""

from tests.ingest.conftest import edgar_server, edgar_settings

__all__ = ["edgar_server", "edgar_settings"]
