"""Ingest status for operators: job runs, lag, counts, backfill progress, errors, EDGAR reachability.

Reads only the database and settings; EDGAR reachability is what the last job recorded (no network
call on page load).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.ingest.pipeline import EDGAR_HEALTH
from app.jobs.registry import JOBS
from app.jobs.runner import ENDED_MESSAGE, process_ended
from app.jobs.scheduler import LEADER_CHECKPOINT
from app.repositories import filings as filings_repo
from app.repositories import ops as ops_repo
from app.schemas.status import (
    BackfillStatus,
    EdgarStatus,
    IngestErrorRow,
    JobStatus,
    SchedulerStatus,
    StatusPage,
)

ERROR_LIMIT = 25


def build_status(
    session: Session, *, settings: Settings, this_process_leads: bool, now: datetime | None = None
) -> StatusPage:
    """Return everything the status page shows."""
    now = now or datetime.now(UTC)
    names = list(JOBS)
    last = ops_repo.last_job_runs(session, names)
    last_ok = ops_repo.last_finished_runs(session, names, outcome="ok")
    jobs = [
        JobStatus(
            name=name,
            description=spec.description,
            last_started_at=run.started_at if run else None,
            last_finished_at=run.finished_at if run else None,
            last_duration_s=(run.finished_at - run.started_at).total_seconds()
            if run and run.finished_at
            else None,
            last_outcome=("interrupted" if ended else run.outcome) if run else None,
            last_message=f"{ENDED_MESSAGE} ({run.host}); no outcome was recorded"
            if run and ended
            else (run.message if run else None),
            last_stats=dict(run.stats or {}) if run else {},
            last_ok_at=last_ok[name].started_at if name in last_ok else None,
            next_run_at=spec.next_run(now),
        )
        for name, spec in JOBS.items()
        for run in (last.get(name),)
        # A run still `running` whose process is gone (SIGKILL of `clusterbuy jobs run`) has ended.
        for ended in (run is not None and run.outcome == "running" and process_ended(run.host),)
    ]
    newest = filings_repo.latest_known_at(session)
    checkpoints = ops_repo.get_checkpoints(session, [EDGAR_HEALTH, LEADER_CHECKPOINT])
    edgar = _edgar(settings, checkpoints[EDGAR_HEALTH].value if EDGAR_HEALTH in checkpoints else {})
    leader = checkpoints[LEADER_CHECKPOINT].value if LEADER_CHECKPOINT in checkpoints else {}
    page = StatusPage(
        now=now,
        newest_known_at=newest,
        ingest_lag_s=(now - newest).total_seconds() if newest else None,
        counts=filings_repo.filing_counts(session),
        jobs=jobs,
        backfill=BackfillStatus(**ops_repo.backfill_summary(session)),
        errors=[
            IngestErrorRow(
                accession=e.accession,
                source_key=e.source_key,
                stage=e.stage,
                reason=e.reason,
                occurrences=e.occurrences,
                last_seen_at=e.last_seen_at,
            )
            for e in filings_repo.recent_ingest_errors(session, limit=ERROR_LIMIT)
        ],
        edgar=edgar,
        scheduler=SchedulerStatus(
            this_process_leads=this_process_leads,
            leader_process=leader.get("process"),
            leader_since=_when(leader.get("since")),
            leader_heartbeat_at=_when(leader.get("heartbeat_at")),
        ),
        banners=[],
    )
    page.banners = _banners(page)
    return page


def _edgar(settings: Settings, health: dict[str, Any]) -> EdgarStatus:
    return EdgarStatus(
        user_agent_configured=bool(settings.sec_user_agent),
        reachable=health.get("ok"),
        checked_at=_when(health.get("checked_at")),
        last_ok_at=_when(health.get("last_ok_at")),
        error=health.get("error"),
        base_url=settings.edgar_base_url,
    )


def _banners(page: StatusPage) -> list[str]:
    out = []
    if not page.edgar.user_agent_configured:
        out.append(
            "SEC_USER_AGENT is not set: EDGAR ingestion is off. Set it to a name and contact e-mail, "
            'e.g. SEC_USER_AGENT="Your Name you@example.com", and restart.'
        )
    if page.edgar.reachable is False:
        out.append(f"EDGAR is unreachable or refusing requests: {page.edgar.error or 'unknown error'}.")
    return out


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
