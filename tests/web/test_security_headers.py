"""Every response carries the security headers (CSP limited to this origin, no framing, nosniff)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


@pytest.fixture(scope="module")
def plain_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    db = tmp_path_factory.mktemp("sec") / "empty.db"
    return TestClient(create_app(Settings(database_url=f"sqlite:///{db}")))


@pytest.mark.parametrize(
    "path",
    ["/about/clusters", "/healthz", "/static/css/app.css", "/no-such-page", "/api/about/clusters", "/?n=1"],
)
def test_security_headers_on_every_kind_of_response(plain_client: TestClient, path: str) -> None:
    headers = plain_client.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-eval'" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
