from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class JobRun(Base):
    """One run of a scheduled job (or a CLI run of it): when, how long, outcome."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_name_started", "job_name", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))  # running | ok | error | interrupted
    message: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    host: Mapped[str | None] = mapped_column(String(200))


class IngestCheckpoint(Base):
    """A named resumable position (e.g. the live feed's newest accession seen)."""

    __tablename__ = "ingest_checkpoint"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BackfillDay(Base):
    """Progress of one day of the daily-index backfill; a day is done only when all its filings are."""

    __tablename__ = "backfill_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | done | no_index
    filings_listed: Mapped[int] = mapped_column(Integer, default=0)
    filings_stored: Mapped[int] = mapped_column(Integer, default=0)
    filings_failed: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
