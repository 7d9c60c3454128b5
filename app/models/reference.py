from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class IssuerTicker(Base):
    """Point-in-time ticker history per issuer, so an old filing maps to the ticker it had then."""

    __tablename__ = "issuer_ticker"
    __table_args__ = (UniqueConstraint("issuer_cik", "ticker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer_cik: Mapped[str] = mapped_column(String(10), ForeignKey("issuer.cik"), index=True)
    ticker: Mapped[str] = mapped_column(String(16), index=True)
    exchange: Mapped[str | None] = mapped_column(String(32))
    first_seen_date: Mapped[date] = mapped_column(Date)
    last_seen_date: Mapped[date] = mapped_column(Date)


class NewsEvent(Base):
    """A dated event for the chart timeline: an issuer's 8-K (with item numbers) or a headline."""

    __tablename__ = "news_event"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_news_event_issuer_date", "issuer_cik", "event_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer_cik: Mapped[str] = mapped_column(String(10), ForeignKey("issuer.cik"))
    source: Mapped[str] = mapped_column(String(16))  # 8-K | headline
    external_id: Mapped[str] = mapped_column(String(200))  # accession for 8-Ks, URL digest for headlines
    event_date: Mapped[date] = mapped_column(Date)
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    form_type: Mapped[str | None] = mapped_column(String(16))
    items: Mapped[str | None] = mapped_column(String(200))  # comma-separated 8-K items, e.g. "2.02,9.01"
    title: Mapped[str | None] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
