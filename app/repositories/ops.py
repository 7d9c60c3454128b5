"""SQL for ingest bookkeeping: job runs, named checkpoints, backfill days, and which accessions we hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import BackfillDay, Filing, IngestCheckpoint, JobRun
from app.repositories.filings import _insert

# IN lists are chunked: SQLite caps bound parameters per statement.
_CHUNK = 500


# --- accessions ------------------------------------------------------------------------------------
def stored_accessions(session: Session, accessions: Iterable[str]) -> set[str]:
    """Return the subset of `accessions` already stored as filings."""
    wanted = list(dict.fromkeys(accessions))
    found: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        found.update(session.scalars(select(Filing.accession).where(Filing.accession.in_(chunk))))
    return found


def issuers_of(session: Session, accessions: Iterable[str]) -> set[str]:
    """Return the issuer CIKs of the stored filings among `accessions`."""
    wanted = list(dict.fromkeys(accessions))
    ciks: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        ciks.update(session.scalars(select(Filing.issuer_cik).where(Filing.accession.in_(chunk)).distinct()))
    return ciks


# --- checkpoints -----------------------------------------------------------------------------------
def get_checkpoint(session: Session, name: str) -> dict[str, Any] | None:
    """Return the value of checkpoint `name`, or None if it was never written."""
    row = session.get(IngestCheckpoint, name)
    return dict(row.value) if row is not None else None


def get_checkpoints(session: Session, names: Sequence[str]) -> dict[str, IngestCheckpoint]:
    """Return the checkpoint rows for `names` that exist, keyed by name."""
    rows = session.scalars(select(IngestCheckpoint).where(IngestCheckpoint.name.in_(list(names))))
    return {r.name: r for r in rows}


def set_checkpoint(session: Session, name: str, value: dict[str, Any], *, now: datetime) -> None:
    """Insert or replace checkpoint `name`."""
    stmt = _insert(session, IngestCheckpoint).values(name=name, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[IngestCheckpoint.name],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )
    session.execute(stmt)


# --- job runs --------------------------------------------------------------------------------------
def start_job_run(session: Session, *, job_name: str, now: datetime, host: str) -> int:
    """Insert a `running` JobRun row and return its id."""
    run = JobRun(job_name=job_name, started_at=now, outcome="running", stats={}, host=host)
    session.add(run)
    session.flush()
    return run.id


def finish_job_run(
    session: Session, run_id: int, *, outcome: str, message: str | None, stats: dict[str, Any], now: datetime
) -> None:
    """Close a JobRun with its outcome (ok | error | skipped), message and stats."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(outcome=outcome, message=message, stats=stats, finished_at=now)
    )


def interrupt_running(
    session: Session, *, now: datetime, message: str, run_ids: Sequence[int] | None = None
) -> int:
    """Mark runs left `running` (their process died), all or those in `run_ids`, as interrupted;
    return how many."""
    stmt = update(JobRun).where(JobRun.outcome == "running")
    if run_ids is not None:
        stmt = stmt.where(JobRun.id.in_(list(run_ids)))
    result = session.execute(stmt.values(outcome="interrupted", message=message, finished_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def running_job_runs(session: Session, *, job_name: str) -> list[JobRun]:
    """Return the runs of `job_name` still marked `running`, oldest first."""
    stmt = select(JobRun).where(JobRun.job_name == job_name, JobRun.outcome == "running")
    return list(session.scalars(stmt.order_by(JobRun.id)))


def last_job_runs(session: Session, names: Sequence[str]) -> dict[str, JobRun]:
    """Return the newest run of each job in `names`."""
    newest = (
        select(JobRun.job_name, func.max(JobRun.id).label("id"))
        .where(JobRun.job_name.in_(list(names)))
        .group_by(JobRun.job_name)
        .subquery()
    )
    rows = session.scalars(select(JobRun).join(newest, JobRun.id == newest.c.id))
    return {r.job_name: r for r in rows}


def last_finished_runs(session: Session, names: Sequence[str], *, outcome: str) -> dict[str, JobRun]:
    """Return the newest run with `outcome` of each job in `names`."""
    newest = (
        select(JobRun.job_name, func.max(JobRun.id).label("id"))
        .where(JobRun.job_name.in_(list(names)), JobRun.outcome == outcome)
        .group_by(JobRun.job_name)
        .subquery()
    )
    rows = session.scalars(select(JobRun).join(newest, JobRun.id == newest.c.id))
    return {r.job_name: r for r in rows}


def job_runs(session: Session, *, job_name: str | None = None, limit: int = 50) -> list[JobRun]:
    """Return recent job runs, newest first."""
    stmt = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job_name is not None:
        stmt = stmt.where(JobRun.job_name == job_name)
    return list(session.scalars(stmt))


# --- backfill days ---------------------------------------------------------------------------------
def backfill_days(session: Session, days: Iterable[date]) -> dict[date, BackfillDay]:
    """Return the BackfillDay rows for `days` that exist."""
    wanted = list(days)
    out: dict[date, BackfillDay] = {}
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        out.update({r.day: r for r in session.scalars(select(BackfillDay).where(BackfillDay.day.in_(chunk)))})
    return out


def set_backfill_day(
    session: Session, day: date, *, status: str, listed: int, stored: int, failed: int, now: datetime
) -> None:
    """Insert or update one day's backfill status and counts."""
    values = {
        "status": status,
        "filings_listed": listed,
        "filings_stored": stored,
        "filings_failed": failed,
        "updated_at": now,
    }
    stmt = _insert(session, BackfillDay).values(day=day, **values)
    stmt = stmt.on_conflict_do_update(index_elements=[BackfillDay.day], set_=values)
    session.execute(stmt)


def backfill_summary(session: Session) -> dict[str, Any]:
    """Count backfill days by status, sum their filings and give the covered date range."""
    by_status = {
        status: (n, listed or 0, stored or 0, failed or 0)
        for status, n, listed, stored, failed in session.execute(
            select(
                BackfillDay.status,
                func.count(),
                func.sum(BackfillDay.filings_listed),
                func.sum(BackfillDay.filings_stored),
                func.sum(BackfillDay.filings_failed),
            ).group_by(BackfillDay.status)
        )
    }
    first, last = session.execute(select(func.min(BackfillDay.day), func.max(BackfillDay.day))).one()
    pending = list(
        session.scalars(
            select(BackfillDay.day).where(BackfillDay.status == "pending").order_by(BackfillDay.day.desc())
        )
    )
    return {
        "days": {status: v[0] for status, v in by_status.items()},
        "filings_listed": sum(v[1] for v in by_status.values()),
        "filings_stored": sum(v[2] for v in by_status.values()),
        "filings_failed": sum(v[3] for v in by_status.values()),
        "first_day": first,
        "last_day": last,
        "pending_days": pending[:20],
    }
