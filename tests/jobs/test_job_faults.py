"""A job whose database goes away mid-run (bench/faults.py restarts PostgreSQL) still records its outcome
once the database is back, so /status shows the failed run instead of one forever `running`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.db import session_scope
from app.jobs import runner
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
