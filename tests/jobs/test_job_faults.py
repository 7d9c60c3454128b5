"""A job whose database goes away mid-run (bench/faults.py restarts PostgreSQL) still records its outcome
once the database is back, so /status shows the failed run instead of one forever `running`; a run whose
process was killed (no outcome recorded at all) shows as interrupted."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.db import session_scope
from app.jobs import runner
from app.main import create_app
from app.models import JobRun
from app.repositories import ops as ops_repo


def _connection_lost(*_args: Any, **_kw: Any) -> None:
    raise OperationalError("SELECT 1", {}, Exception("terminating connection due to administrator command"))


def test_outcome_is_recorded_after_a_database_outage(
    clean_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_finish = ops_repo.finish_job_run
    failures = iter([True, True, False])  # the database answers again on the third attempt

    def flaky_finish(*args: Any, **kw: Any) -> None:
        if next(failures):
            _connection_lost()
        real_finish(*args, **kw)

    monkeypatch.setattr(runner, "FINISH_RETRY_DELAYS_S", (0.01, 0.01, 0.01))
    monkeypatch.setattr(ops_repo, "finish_job_run", flaky_finish)
    # The job body itself loses its connection, as an ingest does when PostgreSQL restarts.
    spec = replace(runner.JOBS["edgar.poll_current"], func=_connection_lost)
    monkeypatch.setitem(runner.JOBS, "edgar.poll_current", spec)

    result = runner.run_job("edgar.poll_current", settings=Settings(_env_file=None), engine=clean_engine)

    assert result.outcome == "error"
    assert (result.message or "").startswith("OperationalError")
    with session_scope(clean_engine) as s:
        (run,) = s.scalars(select(JobRun))
    assert (run.outcome, run.finished_at is not None) == ("error", True)
    assert "terminating connection" in (run.message or "")


def test_gives_up_after_the_last_retry(clean_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "FINISH_RETRY_DELAYS_S", (0.01,))
    monkeypatch.setattr(ops_repo, "finish_job_run", _connection_lost)
    with pytest.raises(OperationalError):
        runner._finish(clean_engine, 1, outcome="ok", message=None, stats={})


def _dead_process_label() -> str:
    """host:pid of a process of this host that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return f"{socket.gethostname()}:{int(proc.stdout)}"


def test_a_run_whose_process_was_killed_shows_interrupted(
    clean_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows `running`: one by a process that is gone (a SIGKILLed `clusterbuy jobs run`), one by this live
    # process, one by a process on another host (cannot be checked: it stays `running`).
    now = datetime.now(UTC)
    labels = {
        "edgar.poll_current": _dead_process_label(),
        "edgar.reconcile_daily_index": runner.process_label(),
        "reference.refresh_tickers": "elsewhere.example:1",
    }
    with session_scope(clean_engine, write=True) as s:
        ids = {n: ops_repo.start_job_run(s, job_name=n, now=now, host=h) for n, h in labels.items()}

    url = clean_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as web:
        jobs = {j["name"]: j for j in web.get("/api/status").json()["jobs"]}
        page = web.get("/status").text
    killed = jobs["edgar.poll_current"]
    assert killed["last_outcome"] == "interrupted"
    assert labels["edgar.poll_current"] in killed["last_message"]
    assert "outcome-interrupted" in page
    assert jobs["edgar.reconcile_daily_index"]["last_outcome"] == "running"
    assert jobs["reference.refresh_tickers"]["last_outcome"] == "running"

    # The next run of the job records the killed one as interrupted for good (history, `jobs list`).
    spec = replace(runner.JOBS["edgar.poll_current"], func=lambda _ctx: {})
    monkeypatch.setitem(runner.JOBS, "edgar.poll_current", spec)
    assert (
        runner.run_job("edgar.poll_current", settings=Settings(_env_file=None), engine=clean_engine).outcome
        == "ok"
    )
    with session_scope(clean_engine) as s:
        outcome = {r.id: (r.outcome, r.message) for r in s.scalars(select(JobRun))}
    assert outcome[ids["edgar.poll_current"]] == ("interrupted", runner.ENDED_MESSAGE)
    assert outcome[ids["edgar.reconcile_daily_index"]][0] == "running"
    assert outcome[ids["reference.refresh_tickers"]][0] == "running"
