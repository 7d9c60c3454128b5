"""Daily-index backfill: newest day first, BackfillDay checkpoints, and a real `clusterbuy backfill`
subprocess killed midway (the day it was in shows pending on /status) then restarted ends exactly where
an uninterrupted run does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.config import Settings
from app.db import session_scope
from app.ingest.backfill import backfill, reconcile_target
from app.ingest.sec_client import RATE_LIMITER, EdgarClient
from app.main import create_app
from app.models import BackfillDay, Cluster, Filing, IngestError, InsiderTransaction
from tests.conftest import ROOT, truncate_all
from tests.dbdump import canonical_dump
from tests.edgar_server import EdgarServer
from tests.ingest.mirror import MirrorFiling, max_in_window, publish_day

# Mon 2024-03-04 .. Fri 2024-03-08; Thursday has no index (a "holiday" here), the weekend none at all.
DAYS = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 8)]
SINCE, UNTIL = date(2024, 3, 2), date(2024, 3, 8)
PER_DAY = 5
MISSING = "0000920003-24-000203"  # listed on Wednesday, never published: a recorded 404


def _day_filings(day: date, k: int) -> list[MirrorFiling]:
    # Three buyers of one issuer each day (a cluster), two other issuers.
    return [
        MirrorFiling(
            accession=f"00009{k}{i:04d}-24-{k * 100 + i:06d}",
            issuer_cik="0000007777" if i < 3 else f"{8000 + k * 10 + i:010d}",
            owner_cik=f"{5000 + k * 10 + i:010d}",
            day=day,
            accepted_at_et=f"{day.isoformat()}T1{i}:0{k}:00",
        )
        for i in range(PER_DAY)
    ]


@pytest.fixture
def mirror(edgar_server: EdgarServer) -> EdgarServer:
    for k, day in enumerate(DAYS):
        filings = _day_filings(day, k)
        missing = [f.accession for f in filings if f.accession == MISSING]
        publish_day(edgar_server, day, filings, missing=missing)
    return edgar_server


def _index_requests(server: EdgarServer) -> list[str]:
    return [p.rsplit(".", 2)[-2] for p in server.paths() if "/daily-index/" in p]


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


SKIP = frozenset({"ingest_checkpoint"})  # holds wall-clock timestamps of the last EDGAR exchange


class TestBackfill:
    def test_walks_newest_day_first_records_each_day_and_never_refetches(
        self, clean_engine: Engine, mirror: EdgarServer, edgar_settings: Settings
    ) -> None:
        with EdgarClient(edgar_settings) as client:
            report = backfill(client, clean_engine, SINCE, UNTIL)
        # Weekend days are never requested; Thursday answers 404.
        assert _index_requests(mirror) == ["20240308", "20240307", "20240306", "20240305", "20240304"]
        assert (report.days_done, report.days_no_index, report.stopped) == (4, 3, None)
        assert report.filings.stored == 4 * PER_DAY - 1
        with session_scope(clean_engine) as s:
            days = {
                d.day: (d.status, d.filings_listed, d.filings_stored, d.filings_failed)
                for d in s.scalars(select(BackfillDay))
            }
            (error,) = s.scalars(select(IngestError))
            clusters = list(s.scalars(select(Cluster)))
        assert days[date(2024, 3, 6)] == ("done", PER_DAY, PER_DAY - 1, 1)
        assert days[date(2024, 3, 8)] == ("done", PER_DAY, PER_DAY, 0)
        assert days[date(2024, 3, 7)][0] == days[date(2024, 3, 2)][0] == "no_index"
        assert error.accession == MISSING
        assert error.reason.startswith("not found")
        assert {c.issuer_cik for c in clusters} == {"0000007777"}

        before = len(mirror.requests)
        with EdgarClient(edgar_settings) as client:
            again = backfill(client, clean_engine, SINCE, UNTIL)
        assert len(mirror.requests) == before
        assert again.days_skipped == 7

    def test_reconcile_picks_the_day_whose_index_is_due(self) -> None:
        # 23:30 EST Monday -> Monday; 00:30 EDT Tuesday -> Monday; Monday 07:00 -> the Friday before.
        assert reconcile_target(datetime(2024, 3, 5, 4, 30, tzinfo=UTC)) == date(2024, 3, 4)
        assert reconcile_target(datetime(2024, 7, 9, 4, 30, tzinfo=UTC)) == date(2024, 7, 8)
        assert reconcile_target(datetime(2024, 3, 4, 12, 0, tzinfo=UTC)) == date(2024, 3, 1)


def _cli_env(engine: Engine, server: EdgarServer, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGAR_", "DATABASE_", "SEC_"))}
    env.update(
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
        SEC_USER_AGENT="Clusterbuy tests tests@example.com",
        EDGAR_BASE_URL=server.base_url,
        EDGAR_DATA_BASE_URL=server.base_url,
        EDGAR_MAX_RPS="10",
        EDGAR_TIMEOUT_S="5",
        CACHE_DIR=str(cache),
        PYTHONPATH=str(ROOT),
    )
    return env


def _pending_days(engine: Engine) -> list[date]:
    with session_scope(engine) as s:
        return list(s.scalars(select(BackfillDay.day).where(BackfillDay.status == "pending")))


def _backfill_cmd() -> list[str]:
    return [
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "backfill",
        "--since",
        str(SINCE),
        "--until",
        str(UNTIL),
    ]


def test_killed_backfill_resumes_to_the_same_end_state(
    clean_engine: Engine, mirror: EdgarServer, edgar_settings: Settings, tmp_path: Path
) -> None:
    # Reference: one uninterrupted run.
    with EdgarClient(edgar_settings) as client:
        backfill(client, clean_engine, SINCE, UNTIL)
    expected = canonical_dump(clean_engine, skip_tables=SKIP)
    truncate_all(clean_engine)
    shutil.rmtree(edgar_settings.cache_dir, ignore_errors=True)
    mirror.requests.clear()
    RATE_LIMITER.reset()

    env = _cli_env(clean_engine, mirror, tmp_path / "cli-cache")
    proc = subprocess.Popen(
        _backfill_cmd(), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while _count(clean_engine, Filing) < 7 or not _pending_days(clean_engine):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "backfill made no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stored_at_kill = _count(clean_engine, Filing)
    assert 7 <= stored_at_kill < 4 * PER_DAY - 1  # killed midway, not after the end
    with session_scope(clean_engine) as s:
        assert s.scalar(select(func.count()).where(BackfillDay.status == "done")) < 4
    # The interruption is on /status: the day the run was in stays pending, with its listed count.
    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as web:
        progress = web.get("/api/status").json()["backfill"]
    assert progress["pending_days"] == [str(d) for d in _pending_days(clean_engine)]
    assert progress["filings_listed"] > progress["filings_stored"]

    done = subprocess.run(_backfill_cmd(), env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    assert canonical_dump(clean_engine, skip_tables=SKIP) == expected
    with session_scope(clean_engine) as s:
        accessions = list(s.scalars(select(Filing.accession)))
        rows = s.scalar(select(func.count()).select_from(InsiderTransaction))
    assert len(accessions) == len(set(accessions)) == rows == 4 * PER_DAY - 1
    # Nothing that was fetched before the kill was fetched again (the 404 is simply asked again).
    archive = [p for p in mirror.paths() if p.startswith("/Archives/edgar/data/") and MISSING not in p]
    assert len(archive) == len(set(archive)) == 4 * PER_DAY - 1
    # Both processes together never exceeded EDGAR_MAX_RPS at the server.
    assert max_in_window([r.t for r in mirror.requests]) <= 10
    assert all(r.headers.get("User-Agent") == "Clusterbuy tests tests@example.com" for r in mirror.requests)
