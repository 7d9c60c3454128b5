from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class Filing(Base):
    """One ownership filing (Form 3/4/5 or an amendment), keyed by its accession number."""

    __tablename__ = "filing"
    __table_args__ = (
        Index("ix_filing_issuer_known_at", "issuer_cik", "known_at"),
        Index("ix_filing_amendment_match", "issuer_cik", "base_form", "is_amendment"),
    )

    accession: Mapped[str] = mapped_column(String(20), primary_key=True)
    document_type: Mapped[str] = mapped_column(String(8))
    base_form: Mapped[str] = mapped_column(String(4))
    is_amendment: Mapped[bool] = mapped_column(Boolean, default=False)
    issuer_cik: Mapped[str] = mapped_column(String(10), ForeignKey("issuer.cik"))
    trading_symbol: Mapped[str | None] = mapped_column(String(16))
    # accepted_at is EDGAR's acceptance time; known_at is when the public could first know, which is
    # accepted_at when we have it and otherwise a conservative estimate (see known_at_source).
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    known_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    known_at_source: Mapped[str | None] = mapped_column(String(16))
    filed_date: Mapped[date | None] = mapped_column(Date)
    period_of_report: Mapped[date | None] = mapped_column(Date)
    date_of_original_submission: Mapped[date | None] = mapped_column(Date)
    amends_accession: Mapped[str | None] = mapped_column(String(20), index=True)
    aff10b5one: Mapped[bool | None] = mapped_column(Boolean)
    not_subject_to_section16: Mapped[bool | None] = mapped_column(Boolean)
    remarks: Mapped[str | None] = mapped_column(Text)
    schema_version: Mapped[str | None] = mapped_column(String(16))
    parser_version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # xml | submission | bulk
    source_ref: Mapped[str | None] = mapped_column(Text)  # path or URL it came from
    content_sha256: Mapped[str] = mapped_column(String(64))
    signatures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FilingDocument(Base):
    """The ownership XML as received, kept so a better parser can re-read it without refetching."""

    __tablename__ = "filing_document"

    accession: Mapped[str] = mapped_column(
        String(20), ForeignKey("filing.accession", ondelete="CASCADE"), primary_key=True
    )
    xml: Mapped[bytes] = mapped_column(LargeBinary)


class Footnote(Base):
    __tablename__ = "footnote"

    accession: Mapped[str] = mapped_column(
        String(20), ForeignKey("filing.accession", ondelete="CASCADE"), primary_key=True
    )
    footnote_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class IngestError(Base):
    """A document that could not be stored, with why; one row per source, counting repeats."""

    __tablename__ = "ingest_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_key: Mapped[str] = mapped_column(String(500), unique=True)  # accession or path
    accession: Mapped[str | None] = mapped_column(String(20), index=True)
    source_ref: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(32))  # fetch | parse | store
    reason: Mapped[str] = mapped_column(Text)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
