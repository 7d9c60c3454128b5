"""SQL for reference data: issuers' tickers and exchanges, point-in-time ticker history, 8-K events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import InsiderTransaction, Issuer, IssuerTicker, NewsEvent
from app.repositories.filings import _insert

_CHUNK = 1000


def upsert_issuer_listings(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """Insert issuers from the ticker map, or set their current ticker and exchange (names kept if known).

    Each row: cik, name, ticker, exchange.
    """
    for i in range(0, len(rows), _CHUNK):
        chunk = [{**r, "updated_at": now} for r in rows[i : i + _CHUNK]]
        stmt = _insert(session, Issuer)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Issuer.cik],
            set_={
                "name": func.coalesce(Issuer.name, stmt.excluded.name),
                "ticker": stmt.excluded.ticker,
                "exchange": func.coalesce(stmt.excluded.exchange, Issuer.exchange),
                "updated_at": stmt.excluded.updated_at,
            },
        )
        session.execute(stmt, chunk)


def record_ticker_sightings(session: Session, rows: Sequence[dict[str, Any]], *, seen: date) -> None:
    """Extend ticker history: new (issuer, ticker) pairs start at `seen`, known ones get last_seen = `seen`.

    Each row: issuer_cik, ticker, exchange.
    """
    for i in range(0, len(rows), _CHUNK):
        chunk = [{**r, "first_seen_date": seen, "last_seen_date": seen} for r in rows[i : i + _CHUNK]]
        stmt = _insert(session, IssuerTicker)
        stmt = stmt.on_conflict_do_update(
            index_elements=[IssuerTicker.issuer_cik, IssuerTicker.ticker],
            set_={
                # max(): a snapshot replayed out of order never moves history backwards.
                "last_seen_date": func.max(IssuerTicker.last_seen_date, stmt.excluded.last_seen_date)
                if session.get_bind().dialect.name == "sqlite"
                else func.greatest(IssuerTicker.last_seen_date, stmt.excluded.last_seen_date),
                "exchange": func.coalesce(stmt.excluded.exchange, IssuerTicker.exchange),
            },
        )
        session.execute(stmt, chunk)


def ticker_history(session: Session, issuer_cik: str) -> list[IssuerTicker]:
    """Return an issuer's tickers, oldest first."""
    stmt = (
        select(IssuerTicker)
        .where(IssuerTicker.issuer_cik == issuer_cik)
        .order_by(IssuerTicker.first_seen_date, IssuerTicker.ticker)
    )
    return list(session.scalars(stmt))


def get_issuer(session: Session, cik: str) -> Issuer | None:
    return session.get(Issuer, cik)


def set_issuer_metadata(
    session: Session,
    *,
    cik: str,
    name: str | None,
    sic: int | None,
    sic_description: str | None,
    sector: str,
    exchange: str | None,
    now: datetime,
) -> None:
    """Set SIC, sector and (when missing) name and exchange of a known issuer."""
    session.execute(
        update(Issuer)
        .where(Issuer.cik == cik)
        .values(
            name=func.coalesce(Issuer.name, name),
            sic=sic,
            sic_description=sic_description,
            sector=sector,
            exchange=func.coalesce(Issuer.exchange, exchange),
            updated_at=now,
        )
    )


def upsert_news_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert events, or refresh the mutable fields of ones already stored (keyed by source + external id)."""
    for i in range(0, len(rows), _CHUNK):
        chunk = list(rows[i : i + _CHUNK])
        stmt = _insert(session, NewsEvent)
        stmt = stmt.on_conflict_do_update(
            index_elements=[NewsEvent.source, NewsEvent.external_id],
            set_={
                "event_date": stmt.excluded.event_date,
                "event_at": stmt.excluded.event_at,
                "form_type": stmt.excluded.form_type,
                "items": stmt.excluded["items"],  # `.items` is the collection method
                "title": stmt.excluded.title,
                "url": stmt.excluded.url,
            },
        )
        session.execute(stmt, chunk)


def purchase_issuers(session: Session, *, since: date | None = None) -> list[str]:
    """Return issuers with eligible purchases (traded on or after `since`), most recent purchase first."""
    newest = func.max(InsiderTransaction.transaction_date)
    stmt = (
        select(InsiderTransaction.issuer_cik)
        .where(InsiderTransaction.is_eligible_purchase.is_(True))
        .group_by(InsiderTransaction.issuer_cik)
        .order_by(newest.desc(), InsiderTransaction.issuer_cik)
    )
    if since is not None:
        stmt = stmt.where(InsiderTransaction.transaction_date >= since)
    return list(session.scalars(stmt))


def news_events_of(session: Session, issuer_cik: str) -> list[NewsEvent]:
    """Return an issuer's events, oldest first."""
    stmt = (
        select(NewsEvent)
        .where(NewsEvent.issuer_cik == issuer_cik)
        .order_by(NewsEvent.event_date, NewsEvent.external_id)
    )
    return list(session.scalars(stmt))
