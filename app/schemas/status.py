"""View-model of the status page and its JSON twin (/status, /api/status)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class JobStatus(BaseModel):
    name: str
    description: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_duration_s: float | None
    last_outcome: str | None  # running | ok | error | interrupted
    last_message: str | None
    last_stats: dict[str, Any]
    last_ok_at: datetime | None
    next_run_at: datetime | None


class IngestErrorRow(BaseModel):
    accession: str | None
    source_key: str
    stage: str
    reason: str
    occurrences: int
    last_seen_at: datetime


class BackfillStatus(BaseModel):
    days: dict[str, int]  # status -> number of days
    filings_listed: int
    filings_stored: int
    filings_failed: int
    first_day: date | None
    last_day: date | None
    pending_days: list[date]


class EdgarStatus(BaseModel):
    user_agent_configured: bool
    reachable: bool | None  # None: no EDGAR exchange recorded yet
    checked_at: datetime | None
    last_ok_at: datetime | None
    error: str | None
    base_url: str


class SchedulerStatus(BaseModel):
    this_process_leads: bool
    leader_process: str | None
    leader_since: datetime | None
    leader_heartbeat_at: datetime | None


class StatusPage(BaseModel):
    now: datetime
    newest_known_at: datetime | None
    ingest_lag_s: float | None
    counts: dict[str, int]
    jobs: list[JobStatus]
    backfill: BackfillStatus
    errors: list[IngestErrorRow]
    edgar: EdgarStatus
    scheduler: SchedulerStatus
    banners: list[str]
