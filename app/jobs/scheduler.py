"""Build the APScheduler (3.x BackgroundScheduler, memory job store) from the registry, behind the
leader lock: a process that does not lead runs no jobs and retries leadership periodically.

`serve` starts one in-process (unless --no-scheduler); `clusterbuy scheduler` runs one in the foreground.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from app.config import Settings
from app.db import session_scope
from app.jobs.leader import LeaderLock, leader_lock_for
from app.jobs.registry import JOBS
from app.jobs.runner import process_label, run_job
from app.repositories import ops as ops_repo

log = logging.getLogger(__name__)

LEADER_CHECKPOINT = "scheduler.leader"
_ELECT_JOB_ID = "scheduler.elect"

_current: JobScheduler | None = None


class JobScheduler:
    """The registry's jobs on a BackgroundScheduler, added only while this process holds leadership."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        only: Sequence[str] | None = None,
        tick_s: float | None = None,
        leader_retry_s: float = 30.0,
        lock: LeaderLock | None = None,
    ) -> None:
        unknown = sorted(set(only or ()) - JOBS.keys())
        if unknown:
            raise ValueError(f"unknown job(s): {', '.join(unknown)}")
        self.settings = settings
        self.engine = engine
        self.job_names = list(only) if only else list(JOBS)
        # tick_s replaces every trigger (and ET guard) by a fixed interval: for mirrors and tests.
        self.tick_s = tick_s
        self.leader_retry_s = leader_retry_s
        self.lock = lock or leader_lock_for(engine)
        self.leader_since: datetime | None = None
        self._state = threading.Lock()
        self._sched = BackgroundScheduler(
            timezone=UTC,
            # coalesce: a backlog collapses into one run; max_instances=1: runs of a job never overlap.
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._sched.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    @property
    def is_leader(self) -> bool:
        return self.leader_since is not None

    def start(self) -> JobScheduler:
        """Start the scheduler; leadership is tried now and every `leader_retry_s` seconds."""
        global _current
        self._sched.start()
        self._sched.add_job(
            self._elect,
            IntervalTrigger(seconds=self.leader_retry_s, timezone=UTC),
            id=_ELECT_JOB_ID,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,
        )
        _current = self
        return self

    def shutdown(self) -> None:
        """Stop running jobs (running ones finish in their threads) and give up leadership."""
        global _current
        self._sched.shutdown(wait=False)
        with self._state:
            if self.is_leader:
                self.leader_since = None
                self.lock.release()
        if _current is self:
            _current = None

    # --- leadership ------------------------------------------------------------------------------
    def _elect(self) -> None:
        with self._state:
            try:
                if self.is_leader:
                    if self.lock.still_held():
                        self._heartbeat()
                    else:
                        self._demote()
                elif self.lock.try_acquire():
                    self._promote()
            except Exception:  # the database may be briefly unreachable; try again next round
                log.exception("leader election round failed")

    def _promote(self) -> None:
        now = datetime.now(UTC)
        self.leader_since = now
        with session_scope(self.engine, write=True) as session:
            # Only the leader runs jobs, so rows still `running` belong to a leader that died.
            stale = ops_repo.interrupt_running(session, now=now, message="process ended during the run")
        if stale:
            log.warning("marked %d job run(s) left running by a previous leader as interrupted", stale)
        for name in self.job_names:
            spec = JOBS[name]
            trigger = IntervalTrigger(seconds=self.tick_s, timezone=UTC) if self.tick_s else spec.trigger
            self._sched.add_job(
                self._run,
                trigger,
                args=[name],
                id=name,
                name=name,
                misfire_grace_time=spec.misfire_grace_s,
                replace_existing=True,
            )
        self._heartbeat()
        log.info("this process (%s) leads the scheduler: %s", process_label(), ", ".join(self.job_names))

    def _demote(self) -> None:
        self.leader_since = None
        for name in self.job_names:
            if self._sched.get_job(name) is not None:
                self._sched.remove_job(name)
        log.warning("scheduler leadership lost; jobs stopped in this process")

    def _heartbeat(self) -> None:
        now = datetime.now(UTC)
        value = {
            "process": process_label(),
            "since": self.leader_since.isoformat() if self.leader_since else None,
            "heartbeat_at": now.isoformat(),
            "jobs": self.job_names,
        }
        with session_scope(self.engine, write=True) as session:
            ops_repo.set_checkpoint(session, LEADER_CHECKPOINT, value, now=now)

    # --- jobs ------------------------------------------------------------------------------------
    def _run(self, name: str) -> None:
        spec = JOBS[name]
        if not self.tick_s and spec.active is not None and not spec.active(datetime.now(UTC)):
            return  # outside the job's ET hours (the UTC trigger covers both DST offsets)
        with self._state:
            if not self.is_leader:
                return
            # The lock may have gone since the last election round (a PostgreSQL restart drops its
            # connection) and another process may hold it now: check before every run, or two leaders
            # would poll EDGAR at once, over the fair-access rate between them.
            if not self.lock.still_held():
                self._demote()
                return
        run_job(name, settings=self.settings, engine=self.engine)

    def next_runs(self) -> dict[str, datetime | None]:
        """Return each scheduled job's next fire time in this process (empty when not leading)."""
        out: dict[str, datetime | None] = {}
        for job in self._sched.get_jobs():
            if job.id != _ELECT_JOB_ID:
                out[job.id] = job.next_run_time
        return out

    @staticmethod
    def _on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time %s", event.job_id, event.scheduled_run_time)
        else:
            log.error("job %s raised: %r", event.job_id, event.exception)


def current() -> JobScheduler | None:
    """Return the scheduler running in this process, if any."""
    return _current


def is_leader() -> bool:
    """Tell whether this process currently leads (runs the scheduled jobs)."""
    return _current is not None and _current.is_leader


def start_in_background(settings: Settings, engine: Engine) -> JobScheduler:
    """Start the scheduler in this process; it runs jobs only once it wins leadership."""
    return JobScheduler(settings, engine).start()
