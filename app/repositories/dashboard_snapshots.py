"""SQL for the stored dashboard snapshots (dashboard_snapshot) and the state they are checked against."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import DashboardSnapshot, Filing, InsiderTransaction, PriceBar, PriceSeriesState, StockSplit
from app.repositories.clusters import _chunks
from app.repositories.filings import _insert


class StoredSnapshot(NamedTuple):
    fingerprint: str
    series_json: str
    trades_json: str
    codes_json: str
    history_json: str


def source_state(session: Session, issuer_cik: str, ticker: str | None) -> tuple[Any, ...]:
    """What a snapshot is built from, summarized in one round trip: changes whenever any of it changes.

    Filings: every ingest, re-parse, amendment or deletion adds a filing or rewrites one (updated_at), and a
    filing's transactions, holdings and owners are written with it. Prices: every import and refresh
    rewrites the series state (last success, adjustment digest), and bars or splits loaded some other way
    change their count, last date or ratios."""
    filings = select(Filing.accession).where(Filing.issuer_cik == issuer_cik)
    parts: list[Any] = [
        filings.with_only_columns(func.count()).scalar_subquery(),
        filings.with_only_columns(func.max(Filing.updated_at)).scalar_subquery(),
    ]
    if ticker is not None:
        bars = select(PriceBar.ticker).where(PriceBar.ticker == ticker)
        splits = select(StockSplit.ticker).where(StockSplit.ticker == ticker)
        state = select(PriceSeriesState.ticker).where(PriceSeriesState.ticker == ticker)
        parts += [
            bars.with_only_columns(func.count()).scalar_subquery(),
            bars.with_only_columns(func.max(PriceBar.bar_date)).scalar_subquery(),
            splits.with_only_columns(func.count()).scalar_subquery(),
            splits.with_only_columns(func.max(StockSplit.ex_date)).scalar_subquery(),
            splits.with_only_columns(func.sum(StockSplit.ratio)).scalar_subquery(),
            state.with_only_columns(PriceSeriesState.last_success_at).scalar_subquery(),
            state.with_only_columns(PriceSeriesState.adjustment_digest).scalar_subquery(),
        ]
    row = session.execute(select(*parts)).one()
    return tuple(row)


def stored_issuers(session: Session, issuer_ciks: Sequence[str] | None = None) -> list[str]:
    """Issuers (among `issuer_ciks`, or all) that have a stored snapshot."""
    stmt = select(DashboardSnapshot.issuer_cik).order_by(DashboardSnapshot.issuer_cik)
    if issuer_ciks is None:
        return list(session.scalars(stmt))
    found: list[str] = []
    for chunk in _chunks(issuer_ciks):
        found += session.scalars(stmt.where(DashboardSnapshot.issuer_cik.in_(chunk)))
    return found


def issuers_with_purchases_known_since(
    session: Session, issuer_ciks: Sequence[str], since: datetime
) -> list[str]:
    """Issuers among `issuer_ciks` with an eligible purchase filed at or after `since`."""
    stmt = (
        select(InsiderTransaction.issuer_cik)
        .where(InsiderTransaction.is_eligible_purchase.is_(True), InsiderTransaction.known_at >= since)
        .distinct()
    )
    found: set[str] = set()
    for chunk in _chunks(issuer_ciks):
        found.update(session.scalars(stmt.where(InsiderTransaction.issuer_cik.in_(chunk))))
    return sorted(found)


def get(session: Session, issuer_cik: str) -> StoredSnapshot | None:
    stmt = select(
        DashboardSnapshot.fingerprint,
        DashboardSnapshot.series_json,
        DashboardSnapshot.trades_json,
        DashboardSnapshot.codes_json,
        DashboardSnapshot.history_json,
    ).where(DashboardSnapshot.issuer_cik == issuer_cik)
    row = session.execute(stmt).one_or_none()
    return None if row is None else StoredSnapshot._make(row)


def store(session: Session, issuer_cik: str, snapshot: StoredSnapshot, *, built_at: datetime) -> None:
    """Insert or replace an issuer's snapshot (two pages building it at once: the last one wins)."""
    values = {"issuer_cik": issuer_cik, "built_at": built_at, **snapshot._asdict()}
    stmt = _insert(session, DashboardSnapshot).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[DashboardSnapshot.issuer_cik],
        set_={k: getattr(stmt.excluded, k) for k in values if k != "issuer_cik"},
    )
    session.execute(stmt)
