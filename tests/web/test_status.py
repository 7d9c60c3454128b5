"""/status and /api/status: job runs, errors, backfill progress and banners, from one service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db import session_scope
from app.ingest.pipeline import record_edgar_health
from app.repositories import filings as filings_repo
from app.repositories import ops as ops_repo

NOW = datetime.now(UTC)


def _seed(engine: Engine) -> None:
    with session_scope(engine, write=True) as s:
        ok = ops_repo.start_job_run(
            s, job_name="edgar.poll_current", now=NOW - timedelta(minutes=3), host="h:1"
        )
        ops_repo.finish_job_run(
            s, ok, outcome="ok", message=None, stats={"stored": 4}, now=NOW - timedelta(minutes=2)
        )
        bad = ops_repo.start_job_run(
            s, job_name="reference.refresh_tickers", now=NOW - timedelta(hours=1), host="h:1"
        )
        ops_repo.finish_job_run(
            s,
            bad,
            outcome="error",
            message="EDGAR: GET failed <script>",
            stats={},
            now=NOW - timedelta(minutes=59),
        )
        filings_repo.record_ingest_error(
            s,
            source_key="0000950170-24-000001",
            accession="0000950170-24-000001",
            source_ref="http://mirror/x.txt",
            stage="fetch",
            reason="not found: http://mirror/x.txt",
            now=NOW,
        )
        ops_repo.set_backfill_day(s, date(2024, 3, 4), status="done", listed=10, stored=9, failed=1, now=NOW)
        ops_repo.set_backfill_day(
            s, date(2024, 3, 5), status="pending", listed=8, stored=2, failed=0, now=NOW
        )


class TestStatusPage:
    def test_page_shows_job_runs_errors_and_backfill(self, client: TestClient, clean_engine: Engine) -> None:
        _seed(clean_engine)
        record_edgar_health(clean_engine, ok=True)
        response = client.get("/status")
        assert response.status_code == 200
        soup = BeautifulSoup(response.text, "html.parser")
        assert soup.title is not None
        assert soup.title.text.startswith("Status")
        poll = soup.select_one('tr[data-job="edgar.poll_current"]')
        tickers = soup.select_one('tr[data-job="reference.refresh_tickers"]')
        assert poll is not None
        assert tickers is not None
        assert poll.select_one("td.outcome").get_text(strip=True) == "ok"
        assert tickers.select_one("td.outcome").get_text(strip=True) == "error"
        assert "<script>" in tickers.get_text()  # shown as text, escaped
        assert tickers.find("script") is None
        never = soup.select_one('tr[data-job="reference.refresh_issuers"] td.outcome')
        assert never is not None
        assert never.get_text(strip=True) == "never run"
        error_row = soup.select_one('#errors tr[data-accession="0000950170-24-000001"]')
        assert error_row is not None
        assert "not found" in error_row.get_text()
        assert soup.select_one('[data-field="days_done"]').get_text(strip=True) == "1"
        assert soup.select_one('[data-field="days_pending"]').get_text(strip=True) == "1"
        assert soup.select_one('[data-field="edgar"]').get_text(strip=True).startswith("reachable")
        # The test app has no SEC_USER_AGENT configured: a banner says so.
        banners = [b.get_text(" ", strip=True) for b in soup.select("[data-banner]")]
        assert any("SEC_USER_AGENT" in b for b in banners)
        assert any(a.get("href") == "/status" for a in soup.select("header nav a"))

    def test_offline_edgar_shows_a_banner(self, client: TestClient, clean_engine: Engine) -> None:
        record_edgar_health(clean_engine, ok=False, error="GET http://mirror failed: ConnectError")
        soup = BeautifulSoup(client.get("/status").text, "html.parser")
        banners = [b.get_text(" ", strip=True) for b in soup.select("[data-banner]")]
        assert any("EDGAR is unreachable" in b and "ConnectError" in b for b in banners)
        assert soup.select_one('[data-field="edgar"]').get_text(strip=True).startswith("offline")

    def test_json_twin_has_the_same_content(self, client: TestClient, clean_engine: Engine) -> None:
        _seed(clean_engine)
        data = client.get("/api/status").json()
        jobs = {j["name"]: j for j in data["jobs"]}
        assert jobs["edgar.poll_current"]["last_outcome"] == "ok"
        assert jobs["edgar.poll_current"]["last_stats"] == {"stored": 4}
        assert jobs["edgar.poll_current"]["last_duration_s"] == 60.0
        assert jobs["edgar.poll_current"]["next_run_at"] is not None
        assert jobs["reference.refresh_tickers"]["last_outcome"] == "error"
        assert [e["accession"] for e in data["errors"]] == ["0000950170-24-000001"]
        assert data["backfill"]["days"] == {"done": 1, "pending": 1}
        assert data["backfill"]["filings_listed"] == 18
        assert data["scheduler"]["this_process_leads"] is False
        assert data["edgar"]["user_agent_configured"] is False
        assert data["edgar"]["reachable"] is None
