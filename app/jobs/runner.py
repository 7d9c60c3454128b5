"""Run one registered job and record it: a JobRun row goes `running` → ok/error with message and stats."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from app.config import MissingUserAgentError, Settings
from app.db import session_scope
from app.errors import EdgarFetchError
from app.ingest.pipeline import record_edgar_health
from app.jobs.registry import JOBS
from app.jobs.tasks import JobContext
from app.repositories import ops as ops_repo

log = logging.getLogger(__name__)

# Waits before retrying to record a run's outcome: a PostgreSQL restart takes a few seconds, and a row
# left `running` by a run that has ended would show on /status as still going.
FINISH_RETRY_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass(frozen=True)
class JobResult:
    name: str
    run_id: int
    outcome: str  # ok | error
    message: str | None
    stats: dict[str, Any]
    duration_s: float


# The message of a run whose process ended (SIGKILL, OOM, power loss) before it could record an outcome.
ENDED_MESSAGE = "process ended during the run"


def process_label() -> str:
    """Identify this process in JobRun.host and the leader record: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_ended(label: str | None) -> bool:
    """Tell whether the process a process_label() names is known to be gone: it ran on this host and
    its pid no longer exists. A process on another host cannot be checked from here: False."""
    host, _, pid = (label or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: existence check only
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists under another user
        return False
    return False


def run_job(name: str, *, settings: Settings, engine: Engine) -> JobResult:
    """Run job `name` now and record the run; errors are caught, logged and recorded, never raised."""
    spec = JOBS[name]  # KeyError for an unknown name: callers validate first
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with session_scope(engine, write=True) as session:
        # An earlier run of this job whose process was killed on this host never recorded an outcome.
        ended = [r.id for r in ops_repo.running_job_runs(session, job_name=name) if process_ended(r.host)]
        if ended:
            ops_repo.interrupt_running(session, now=started, message=ENDED_MESSAGE, run_ids=ended)
        run_id = ops_repo.start_job_run(session, job_name=name, now=started, host=process_label())
    stats: dict[str, Any] = {}
    message: str | None = None
    try:
        stats = spec.func(JobContext(settings=settings, engine=engine))
        # A run that ended early (SEC block, EDGAR unreachable) did its bookkeeping but is not "ok".
        problem = stats.get("blocked") or stats.get("stopped")
        outcome = "error" if problem else "ok"
        message = str(problem) if problem else None
    except MissingUserAgentError as exc:
        outcome, message = "error", str(exc)
    except EdgarFetchError as exc:
        outcome, message = "error", f"EDGAR: {exc}"
        record_edgar_health(engine, ok=False, error=str(exc))
    except Exception as exc:  # a job must never take the scheduler down; the row says what happened
        log.exception("job %s failed", name)
        outcome, message = "error", f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - t0
    _finish(engine, run_id, outcome=outcome, message=message[:4000] if message else None, stats=stats)
    level = logging.INFO if outcome == "ok" else logging.WARNING
    log.log(level, "job %s %s in %.1fs: %s %s", name, outcome, duration, message or "", stats)
    return JobResult(name, run_id, outcome, message, stats, duration)


def _finish(engine: Engine, run_id: int, **values: Any) -> None:
    """Close the JobRun row, waiting out a short database outage instead of leaving it `running`."""
    for delay in (*FINISH_RETRY_DELAYS_S, None):
        try:
            with session_scope(engine, write=True) as session:
                ops_repo.finish_job_run(session, run_id, now=datetime.now(UTC), **values)
            return
        except OperationalError:
            if delay is None:
                raise
            log.warning("cannot record job run %d (database unavailable); retrying in %.1f s", run_id, delay)
            time.sleep(delay)
