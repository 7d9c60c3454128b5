"""Scheduler: UTC triggers that respect ET hours across DST, JobRun recording, and one leader across
processes (PostgreSQL advisory lock / SQLite file lock) so every trigger runs its job once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from app.config import Settings
from app.db import session_scope
from app.ingest import live
from app.ingest.pipeline import EDGAR_HEALTH
from app.ingest.sec_client import EdgarClient
from app.jobs.leader import PostgresLeaderLock, leader_lock_for
from app.jobs.registry import JOBS
from app.jobs.runner import run_job
from app.jobs.scheduler import JobScheduler
from app.main import create_app
from app.models import JobRun
from app.repositories import ops as ops_repo
from tests.conftest import ROOT, truncate_all
from tests.edgar_server import EdgarServer, delay
from tests.ingest.mirror import MirrorFiling, document, feed_xml
from tests.stable_dump import stable_dump

# Which process ran what, and when: differs between any two runs by design.
RUN_BOOKKEEPING = frozenset({"job_run", "ingest_checkpoint"})


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestRegistry:
    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            # EDT (UTC-4): Monday 05:59 ET -> 06:00 ET = 10:00 UTC.
            pytest.param(_utc(2024, 7, 8, 9, 59), _utc(2024, 7, 8, 10, 0), id="summer-open"),
            # EST (UTC-5): the 10:xx UTC fire times are 05:xx ET and skipped; first run 11:00 UTC.
            pytest.param(_utc(2024, 1, 8, 9, 59), _utc(2024, 1, 8, 11, 0), id="winter-open"),
            # Friday 22:16 EST (Saturday 03:16 UTC): nothing until Monday 06:00 ET.
            pytest.param(_utc(2024, 1, 13, 3, 16), _utc(2024, 1, 15, 11, 0), id="weekend"),
            # Tuesday 21:57 EDT is 01:57 UTC Wednesday: still polling, on the next even minute.
            pytest.param(_utc(2024, 7, 10, 1, 57), _utc(2024, 7, 10, 1, 58), id="summer-evening"),
        ],
    )
    def test_poll_runs_every_two_minutes_in_edgar_hours_only(self, now: datetime, expected: datetime) -> None:
        assert JOBS["edgar.poll_current"].next_run(now) == expected

    def test_reconcile_runs_at_night_and_next_morning(self) -> None:
        spec = JOBS["edgar.reconcile_daily_index"]
        assert spec.next_run(_utc(2024, 1, 8, 12, 0)) == _utc(2024, 1, 9, 4, 30)  # Mon -> Tue 23:30 EST
        assert spec.next_run(_utc(2024, 1, 9, 4, 31)) == _utc(2024, 1, 9, 11, 30)  # 06:30 EST

    def test_job_names_are_domain_verb(self) -> None:
        assert all(name.count(".") == 1 for name in JOBS)


def _mirror_feed(server: EdgarServer) -> MirrorFiling:
    f = MirrorFiling(
        "0000700009-24-000009", "0000004444", "0000006009", date(2024, 3, 6), "2024-03-06T10:00:00"
    )
    server.put(f.path, document(f))
    server.put_feed_page(
        0, feed_xml([(f.accession, "4", f.issuer_cik, "Issuer", "2024-03-06T10:00:00-05:00")])
    )
    return f


class TestRunJob:
    def test_a_run_is_recorded_with_outcome_and_stats(
        self, clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings
    ) -> None:
        _mirror_feed(edgar_server)
        result = run_job("edgar.poll_current", settings=edgar_settings, engine=clean_engine)
        assert result.outcome == "ok"
        with session_scope(clean_engine) as s:
            (run,) = s.scalars(select(JobRun))
            health = ops_repo.get_checkpoint(s, EDGAR_HEALTH)
        assert (run.job_name, run.outcome, run.stats["stored"]) == ("edgar.poll_current", "ok", 1)
        assert run.finished_at is not None
        assert run.finished_at >= run.started_at
        assert health is not None
        assert health["ok"] is True

    def test_missing_user_agent_and_offline_edgar_are_recorded_errors(
        self, clean_engine: Engine, edgar_settings: Settings
    ) -> None:
        no_agent = edgar_settings.model_copy(update={"sec_user_agent": None})
        offline = edgar_settings.model_copy(
            update={"edgar_base_url": "http://127.0.0.1:9", "edgar_timeout_s": 0.5}
        )
        first = run_job("reference.refresh_tickers", settings=no_agent, engine=clean_engine)
        second = run_job("reference.refresh_tickers", settings=offline, engine=clean_engine)
        assert first.outcome == second.outcome == "error"
        assert first.message
        assert "SEC_USER_AGENT" in first.message
        with session_scope(clean_engine) as s:
            health = ops_repo.get_checkpoint(s, EDGAR_HEALTH)
        assert health is not None
        assert health["ok"] is False
        assert health["error"]


def test_only_one_process_holds_the_leader_lock(clean_engine: Engine) -> None:
    first, second = leader_lock_for(clean_engine), leader_lock_for(clean_engine)
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        first.release()
        assert second.try_acquire() is True
    finally:
        first.release()
        second.release()


def test_a_leader_whose_lock_went_with_its_connection_runs_nothing(
    clean_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if clean_engine.dialect.name != "postgresql":
        pytest.skip("only a PostgreSQL lock can go while its process lives (a flock stays with its fd)")
    ran: list[str] = []
    spec = replace(JOBS["edgar.poll_current"], func=lambda _ctx: ran.append("run") or {})
    monkeypatch.setitem(JOBS, "edgar.poll_current", spec)
    sched = JobScheduler(Settings(_env_file=None), clean_engine, only=["edgar.poll_current"], tick_s=60)
    other = leader_lock_for(clean_engine)
    try:
        sched._elect()
        assert sched.is_leader
        sched._run("edgar.poll_current")
        assert ran == ["run"]
        # The server drops the lock's connection, as a restart does, and another process takes the lock
        # before this one's next election round.
        lock = sched.lock
        assert isinstance(lock, PostgresLeaderLock)
        assert lock._conn is not None
        pid = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with clean_engine.connect() as conn:
            # Waits (up to 5 s) until the backend is gone and its lock with it: without a timeout it only
            # signals, and on a loaded machine the lock was still held a moment later.
            conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        assert other.try_acquire()
        sched._run("edgar.poll_current")  # the next tick: this process no longer leads
        assert ran == ["run"]
        assert not sched.is_leader
    finally:
        other.release()
        sched.lock.release()


def _scheduler(engine: Engine, server: EdgarServer, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGAR_", "DATABASE_", "SEC_"))}
    env.update(
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
        SEC_USER_AGENT="Clusterbuy tests tests@example.com",
        EDGAR_BASE_URL=server.base_url,
        EDGAR_DATA_BASE_URL=server.base_url,
        CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-c", "from app.cli import main; main()", "scheduler"]
    cmd += ["--only", "edgar.poll_current", "--tick", "1", "--leader-retry", "0.5"]
    return subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _runs(engine: Engine) -> list[JobRun]:
    with session_scope(engine) as s:
        return list(s.scalars(select(JobRun).order_by(JobRun.id)))


def _wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_two_scheduler_processes_run_each_trigger_once(
    clean_engine: Engine, edgar_server: EdgarServer, edgar_settings: Settings, tmp_path: Path
) -> None:
    _mirror_feed(edgar_server)
    # Reference: one undisturbed poll; the race must end in the same database state.
    with EdgarClient(edgar_settings) as client:
        live.poll_current(client, clean_engine)
    expected = stable_dump(clean_engine, skip_tables=RUN_BOOKKEEPING)
    truncate_all(clean_engine)
    # Every poll takes a while, so the leader is killed with a run in flight.
    edgar_server.fail(r"browse-edgar", [delay(0.6)], repeat_last=True)
    procs = {p.pid: p for p in (_scheduler(clean_engine, edgar_server, tmp_path) for _ in range(2))}
    try:
        _wait_for(lambda: len(_runs(clean_engine)) >= 3)
        leaders = {r.host for r in _runs(clean_engine)}
        assert len(leaders) == 1  # the other process holds no lock and runs nothing
        (leader,) = leaders
        leader_pid = int(str(leader).rsplit(":", 1)[1])
        # A dead leader's lock goes with it; the standby takes over and marks the orphaned run.
        _wait_for(lambda: _runs(clean_engine)[-1].outcome == "running")
        procs[leader_pid].send_signal(signal.SIGKILL)
        procs[leader_pid].wait(timeout=10)
        _wait_for(lambda: any(r.host != leader and r.outcome == "ok" for r in _runs(clean_engine)))
        url = clean_engine.url.render_as_string(hide_password=False)
        with TestClient(create_app(Settings(_env_file=None, database_url=url))) as web:
            scheduler_status = web.get("/api/status").json()["scheduler"]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(timeout=10)
    runs = _runs(clean_engine)
    assert len({r.host for r in runs}) == 2
    assert all(r.outcome in ("ok", "interrupted") for r in runs)
    # The takeover is on /status: the killed leader's run interrupted, the survivor leading.
    assert [r.host for r in runs if r.outcome == "interrupted"] == [leader]
    assert scheduler_status["leader_process"] not in (None, leader)
    assert stable_dump(clean_engine, skip_tables=RUN_BOOKKEEPING) == expected
    # Runs never overlap and no tick ran twice: starts are at least most of a tick apart.
    starts = sorted(r.started_at for r in runs)
    assert all((b - a).total_seconds() > 0.5 for a, b in zip(starts, starts[1:], strict=False))
