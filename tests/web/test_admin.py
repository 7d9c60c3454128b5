"""POST /api/admin/jobs/{name}/run: absent without ADMIN_TOKEN, 401 without the right token, 202 with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.config import Settings
from app.db import session_scope
from app.main import create_app
from app.models import JobRun

TOKEN = "correct horse battery staple"
URL = "/api/admin/jobs/edgar.poll_current/run"


def _client(engine: Engine, **settings: object) -> TestClient:
    url = engine.url.render_as_string(hide_password=False)
    return TestClient(create_app(Settings(_env_file=None, database_url=url, **settings)))


@pytest.fixture
def admin_client(clean_engine: Engine) -> Iterator[TestClient]:
    # No SEC_USER_AGENT: the job runs, fails before any request, and says why in its JobRun row.
    with _client(clean_engine, admin_token=TOKEN, sec_user_agent=None) as client:
        yield client


def _runs(engine: Engine) -> list[JobRun]:
    with session_scope(engine) as s:
        return list(s.scalars(select(JobRun)))


class TestAdminJobRun:
    @pytest.mark.parametrize("headers", [{}, {"X-Admin-Token": ""}, {"X-Admin-Token": "anything"}])
    def test_off_without_a_configured_token(self, clean_engine: Engine, headers: dict[str, str]) -> None:
        with _client(clean_engine, admin_token=None) as client:
            resp = client.post(URL, headers=headers)
        assert resp.status_code == 404
        # Indistinguishable from a path that does not exist at all.
        assert resp.json()["detail"] == f"No page at {URL}"
        assert _runs(clean_engine) == []

    def test_blank_token_setting_is_off(self, clean_engine: Engine) -> None:
        with _client(clean_engine, admin_token="") as client:
            assert client.post(URL, headers={"X-Admin-Token": ""}).status_code == 404

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"X-Admin-Token": ""}, id="empty"),
            pytest.param({"X-Admin-Token": TOKEN[:-1]}, id="prefix"),
            pytest.param({"X-Admin-Token": TOKEN + " "}, id="suffix"),
            pytest.param({"X-Admin-Token": TOKEN.upper()}, id="case"),
            pytest.param({"X-Admin-Token": "caf\u00e9".encode("latin-1")}, id="non-ascii"),
            pytest.param({"Authorization": f"Bearer {TOKEN}"}, id="other-header"),
        ],
    )
    def test_wrong_or_missing_token_is_401(
        self, admin_client: TestClient, clean_engine: Engine, headers: dict[str, str | bytes]
    ) -> None:
        resp = admin_client.post(URL, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "X-Admin-Token"
        assert TOKEN not in resp.text
        assert _runs(clean_engine) == []

    def test_unknown_job_is_404_only_after_authentication(self, admin_client: TestClient) -> None:
        url = "/api/admin/jobs/no.such_job/run"
        assert admin_client.post(url).status_code == 401
        resp = admin_client.post(url, headers={"X-Admin-Token": TOKEN})
        assert resp.status_code == 404
        assert "edgar.poll_current" in resp.json()["suggestions"]

    def test_get_is_not_allowed(self, admin_client: TestClient) -> None:
        assert admin_client.get(URL, headers={"X-Admin-Token": TOKEN}).status_code == 405

    def test_right_token_runs_the_job_in_the_background(
        self, admin_client: TestClient, clean_engine: Engine
    ) -> None:
        resp = admin_client.post(URL, headers={"X-Admin-Token": TOKEN})
        assert resp.status_code == 202
        assert resp.json()["job"] == "edgar.poll_current"
        # TestClient returns after the background task has finished: the run is recorded.
        (run,) = _runs(clean_engine)
        assert (run.job_name, run.outcome) == ("edgar.poll_current", "error")
        assert "SEC_USER_AGENT" in (run.message or "")
        status = admin_client.get("/api/status").json()
        assert "edgar.poll_current" in str(status)
        with session_scope(clean_engine) as s:
            assert s.scalar(select(func.count()).select_from(JobRun)) == 1
