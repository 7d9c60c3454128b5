"""Web fixtures: the app bound to the test database of each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app


@pytest.fixture
def client(clean_engine: Engine) -> Iterator[TestClient]:
    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as test_client:
        yield test_client
