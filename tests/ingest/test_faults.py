"""Faults during ingestion end in the state an undisturbed run leaves (stable_dump, DESIGN §5):

- a `clusterbuy ingest-files` process SIGKILLed mid-batch, then rerun;
- a `clusterbuy jobs run edgar.poll_current` process SIGKILLed mid-batch (/status shows the run
  interrupted), then rerun;
- an EDGAR server answering 5xx, 429, dropped connections, slow and garbage bodies during a backfill,
  then the backfill rerun with --retry-failed (the failure is on /status in between).

The SIGKILLed `clusterbuy backfill` is in test_backfill.py and two racing scheduler leaders are in
tests/jobs/test_scheduler.py; a PostgreSQL restart mid-ingest is bench/faults.py (it would disturb
every other database on the server, so never in pytest).
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.config import Settings
from app.db import session_scope
from app.ingest import live
from app.ingest.backfill import backfill
from app.ingest.files import ingest_files
from app.ingest.sec_client import RATE_LIMITER, EdgarClient
from app.jobs.runner import run_job
from app.main import create_app
from app.models import BackfillDay, Filing, IngestError, JobRun
from tests.conftest import ROOT, truncate_all
from tests.edgar_server import EdgarServer, delay, drop, garbage, retry_after, status
from tests.factories import Owner, purchase_filing
from tests.ingest.mirror import MirrorFiling, document, feed_xml, publish_day
from tests.stable_dump import stable_dump

# Wall-clock bookkeeping of the last EDGAR exchange: differs between any two runs by design.
SKIP = frozenset({"ingest_checkpoint"})


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# --- SIGKILL of `clusterbuy ingest-files` ------------------------------------------------------------------
ISSUERS, BUYERS = 12, 6


def _write_documents(folder: Path) -> int:
    """Six buyers of each of twelve issuers within two weeks (clusters), and one unparseable file."""
    folder.mkdir()
    n = 0
    for i in range(ISSUERS):
        for b in range(BUYERS):
            accession = f"00000{i:02d}{b:03d}-24-{i * 100 + b:06d}"
            day = 4 + 2 * b
            data = purchase_filing(
                accession,
                f"2024-03-{day + 1:02d}T16:{b:02d}:00",
                owners=[Owner(f"{9000 + i * 10 + b:010d}", f"BUYER {i}-{b}", director=True)],
                trade_date=f"2024-03-{day:02d}",
                shares=str(100 * (b + 1) + i),
                issuer_cik=f"{7000 + i:010d}",
                ticker=f"T{i:02d}",
            )
            (folder / f"{accession}.txt").write_bytes(data)
            n += 1
    (folder / "0000009999-24-000001.xml").write_bytes(b"<html><title>502 Bad Gateway</title></html>")
    return n


def _ingest_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-c", "from app.cli import main; main()", "ingest-files", str(folder)]


def test_killed_ingest_files_resumes_to_the_same_end_state(clean_engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    total = _write_documents(folder)
    ingest_files([folder], engine=clean_engine, max_bytes=5_000_000)
    expected = stable_dump(clean_engine, skip_tables=SKIP)
    assert len(expected["cluster"]) == ISSUERS
    truncate_all(clean_engine)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SEC_", "EDGAR_"))}
    env.update(DATABASE_URL=clean_engine.url.render_as_string(hide_password=False), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        _ingest_cmd(folder), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while _count(clean_engine, Filing) < 10:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "ingest-files made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    at_kill = _count(clean_engine, Filing)
    assert 10 <= at_kill < total, "killed midway, not after the end"

    done = subprocess.run(_ingest_cmd(folder), env=env, cwd=tmp_path, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert stable_dump(clean_engine, skip_tables=SKIP) == expected


# --- SIGKILL of `clusterbuy jobs run edgar.poll_current` ----------------------------------------------------
def _feed_filings(n: int) -> list[MirrorFiling]:
    """`n` purchases of four issuers on one day, newest first as the current feed lists them."""
    return [
        MirrorFiling(
            accession=f"00006{i:05d}-24-{i:06d}",
            issuer_cik=f"{3000 + i % 4:010d}",
            owner_cik=f"{3100 + i:010d}",
            day=date(2024, 3, 6),
            accepted_at_et=f"2024-03-06T{17 - i // 6:02d}:{59 - i % 6 * 7:02d}:00",
            ticker=f"K{i % 4}",
        )
        for i in range(n)
    ]


def _status_jobs(engine: Engine) -> dict[str, dict[str, object]]:
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as web:
        return {j["name"]: j for j in web.get("/api/status").json()["jobs"]}


def test_killed_poll_job_shows_interrupted_and_resumes_to_the_same_end_state(
    clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, tmp_path: Path
) -> None:
    items = _feed_filings(12)
    for f in items:
        edgar_server.put(f.path, document(f))
    entries = [(f.accession, "4", f.issuer_cik, "Issuer", f"{f.accepted_at_et}-05:00") for f in items]
    edgar_server.put_feed_page(0, feed_xml(entries))
    with EdgarClient(edgar_settings) as client:
        live.poll_current(client, clean_engine)
    skip = SKIP | {"job_run"}
    expected = stable_dump(clean_engine, skip_tables=skip)
    assert len(expected["filing"]) == len(items)
    truncate_all(clean_engine)
    RATE_LIMITER.reset()

    for f in items:  # slow documents, so that the kill lands mid-batch
        edgar_server.fail(re.escape(f.accession), [delay(0.15)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SEC_", "EDGAR_"))}
    env.update(
        DATABASE_URL=clean_engine.url.render_as_string(hide_password=False),
        SEC_USER_AGENT=edgar_settings.sec_user_agent or "",
        EDGAR_BASE_URL=edgar_server.base_url,
        EDGAR_DATA_BASE_URL=edgar_server.base_url,
        CACHE_DIR=str(tmp_path / "cli-cache"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-c", "from app.cli import main; main()", "jobs", "run", "edgar.poll_current"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(clean_engine, Filing) < 3:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "the poll made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert 3 <= _count(clean_engine, Filing) < len(items), "killed midway, not after the end"
    # The interruption is on /status: the run is not shown as still going.
    killed = _status_jobs(clean_engine)["edgar.poll_current"]
    assert (killed["last_outcome"], killed["last_finished_at"]) == ("interrupted", None)
    assert f":{proc.pid})" in str(killed["last_message"])

    edgar_server.clear_failures()
    rerun = edgar_settings.model_copy(update={"cache_dir": tmp_path / "cli-cache"})
    assert run_job("edgar.poll_current", settings=rerun, engine=clean_engine).outcome == "ok"
    assert stable_dump(clean_engine, skip_tables=skip) == expected
    assert _status_jobs(clean_engine)["edgar.poll_current"]["last_outcome"] == "ok"
    with session_scope(clean_engine) as s:
        assert [r.outcome for r in s.scalars(select(JobRun).order_by(JobRun.id))] == ["interrupted", "ok"]


# --- EDGAR faults during a backfill ---------------------------------------------------------------------
DAYS = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
SINCE, UNTIL = date(2024, 3, 4), date(2024, 3, 6)


def _day_filings(day: date, k: int) -> list[MirrorFiling]:
    return [
        MirrorFiling(
            accession=f"00008{k}{i:04d}-24-{k * 100 + i:06d}",
            issuer_cik="0000006666" if i < 3 else f"{6100 + k * 10 + i:010d}",
            owner_cik=f"{6500 + k * 10 + i:010d}",
            day=day,
            accepted_at_et=f"{day.isoformat()}T1{i}:0{k}:00",
        )
        for i in range(5)
    ]


def _client(settings: Settings) -> EdgarClient:
    # Short backoff so the injected retries cost milliseconds; the limit and breaker stay real.
    return EdgarClient(settings, backoff_base_s=0.02, backoff_cap_s=0.1)


def test_edgar_faults_during_a_backfill_end_in_the_undisturbed_state(
    clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
) -> None:
    filings = {k: _day_filings(day, k) for k, day in enumerate(DAYS)}
    for k, day in enumerate(DAYS):
        publish_day(edgar_server, day, filings[k])
    settings = edgar_settings.model_copy(update={"edgar_timeout_s": 0.5})

    with _client(settings) as client:
        reference = backfill(client, clean_engine, SINCE, UNTIL)
    assert reference.filings.stored == 15
    expected = stable_dump(clean_engine, skip_tables=SKIP)
    truncate_all(clean_engine)
    RATE_LIMITER.reset()

    cache = settings.cache_dir.parent / "faults-cache"
    faulted = settings.model_copy(update={"cache_dir": cache})
    a, b, c = filings[0], filings[1], filings[2]
    # Transient faults the client retries within the run:
    edgar_server.fail(r"form\.20240306\.idx", [503, 502])  # the index itself
    edgar_server.fail(re.escape(c[0].accession), [500, status(502), 504])
    edgar_server.fail(re.escape(c[1].accession), [drop()])
    edgar_server.fail(re.escape(b[0].accession), [delay(1.0)])  # slower than the 0.5 s read timeout
    edgar_server.fail(re.escape(b[1].accession), [retry_after(1)])
    edgar_server.fail(
        re.escape(b[2].accession),
        [garbage(b"\x1f\x8b\x08 broken gzip", headers={"Content-Encoding": "gzip"})],
    )
    # Faults that survive the run (a 200 whose body is not the filing): recorded, healed by a rerun.
    edgar_server.fail(
        re.escape(a[0].accession), [garbage(b"<html><title>Service Unavailable</title></html>")]
    )
    edgar_server.fail(re.escape(a[1].accession), [garbage(gzip.compress(b"<ownershipDocument><issuer>"))])
    edgar_server.fail(re.escape(a[2].accession), [status(503)] * 4)  # retries exhausted

    with _client(faulted) as client:
        first = backfill(client, clean_engine, SINCE, UNTIL)
    assert first.stopped is None
    failed = {e for e, _ in first.filings.errors}
    assert failed == {a[0].accession, a[1].accession, a[2].accession}
    # The interruption is on /status: the failed filings with their reasons, the day's failures.
    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as web:
        status_json = web.get("/api/status").json()
    assert failed <= set(re.findall(r"\d{10}-\d{2}-\d{6}", str(status_json)))
    with session_scope(clean_engine) as s:
        day = s.get(BackfillDay, DAYS[0])
        assert day is not None
        assert day.filings_failed == 3

    with _client(faulted) as client:
        second = backfill(client, clean_engine, SINCE, UNTIL, retry_failed=True)
    assert second.filings.stored == 3
    assert _count(clean_engine, IngestError) == 0
    assert stable_dump(clean_engine, skip_tables=SKIP) == expected
