"""SQL behind the ticker dashboard, the insider page and search (read-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.models import (
    Cluster,
    Filing,
    FilingOwner,
    Holding,
    InsiderTransaction,
    Issuer,
    IssuerTicker,
    NewsEvent,
    ReportingOwner,
)
from app.repositories.clusters import _chunks, core_rows
from app.services.clustering_core import DEFAULT_N, DEFAULT_W

_DEFAULT_RULE = (Cluster.rule_n == DEFAULT_N, Cluster.rule_w == DEFAULT_W)

TRADE_COLUMNS = (
    InsiderTransaction.id,
    InsiderTransaction.accession,
    InsiderTransaction.issuer_cik,
    InsiderTransaction.tx_table,
    InsiderTransaction.doc_index,
    InsiderTransaction.security_title,
    InsiderTransaction.transaction_date,
    InsiderTransaction.code,
    InsiderTransaction.acquired_disposed,
    InsiderTransaction.shares,
    InsiderTransaction.price,
    InsiderTransaction.price_low,
    InsiderTransaction.price_high,
    InsiderTransaction.price_source,
    InsiderTransaction.value,
    InsiderTransaction.shares_owned_after,
    InsiderTransaction.shares_owned_before,
    InsiderTransaction.direct_indirect,
    InsiderTransaction.nature_of_ownership,
    InsiderTransaction.is_10b5_1,
    InsiderTransaction.timeliness,
    InsiderTransaction.is_eligible_purchase,
    Filing.known_at,
    Filing.is_amendment,
)


# --- issuers --------------------------------------------------------------------------------------------


def issuer_by_cik(session: Session, cik: str) -> Issuer | None:
    return session.get(Issuer, cik)


def issuers_by_ticker(session: Session, symbol: str) -> list[Issuer]:
    """Issuers whose current ticker is `symbol` (upper case), most recently updated first."""
    stmt = select(Issuer).where(Issuer.ticker == symbol).order_by(Issuer.updated_at.desc(), Issuer.cik)
    found = list(session.scalars(stmt))
    if found:
        return found
    # Tickers are stored as filed; a lower-case one would not match the indexed equality above.
    stmt = select(Issuer).where(func.upper(Issuer.ticker) == symbol).order_by(Issuer.updated_at.desc())
    return list(session.scalars(stmt))


def issuer_ciks_by_past_ticker(session: Session, symbol: str) -> list[str]:
    """Issuers that used `symbol` at some time (ticker history), most recent use first."""
    stmt = (
        select(IssuerTicker.issuer_cik)
        .where(IssuerTicker.ticker == symbol)
        .order_by(IssuerTicker.last_seen_date.desc(), IssuerTicker.issuer_cik)
    )
    return list(dict.fromkeys(session.scalars(stmt)))


def issuer_directory(session: Session) -> list[tuple[str, str | None, str | None]]:
    """Every issuer as (cik, ticker, name): the vocabulary for "did you mean" suggestions."""
    return [tuple(r) for r in session.execute(select(Issuer.cik, Issuer.ticker, Issuer.name))]  # type: ignore[misc]


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_issuers(session: Session, q: str, *, limit: int) -> list[Issuer]:
    """Issuers whose ticker or name contains `q` (case-insensitive), tickers starting with it first."""
    pattern = _like(q)
    stmt = (
        select(Issuer)
        .where(
            or_(
                func.lower(Issuer.ticker).like(pattern, escape="\\"),
                func.lower(Issuer.name).like(pattern, escape="\\"),
            )
        )
        .order_by(Issuer.ticker.is_(None), Issuer.name, Issuer.cik)
        .limit(limit * 4)
    )
    found = list(session.scalars(stmt))
    needle = q.lower()
    found.sort(key=lambda i: (not (i.ticker or "").lower().startswith(needle), i.ticker is None))
    return found[:limit]


def search_owners(session: Session, q: str, *, limit: int) -> list[ReportingOwner]:
    """Reporting owners whose name contains `q` (case-insensitive)."""
    stmt = (
        select(ReportingOwner)
        .where(func.lower(ReportingOwner.name).like(_like(q), escape="\\"))
        .order_by(ReportingOwner.name, ReportingOwner.cik)
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- trades, owners, holdings ---------------------------------------------------------------------------


class TradeRecord(NamedTuple):
    """One transaction row with its filing's facts (fields in TRADE_COLUMNS order)."""

    # A NamedTuple, not the Row: pages read each field several times, and Row attribute access is
    # ten times slower (thousands of rows on a busy ticker).
    id: int
    accession: str
    issuer_cik: str
    tx_table: str
    doc_index: int
    security_title: str | None
    transaction_date: date | None
    code: str | None
    acquired_disposed: str | None
    shares: Decimal | None
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    price_source: str | None
    value: Decimal | None
    shares_owned_after: Decimal | None
    shares_owned_before: Decimal | None
    direct_indirect: str | None
    nature_of_ownership: str | None
    is_10b5_1: bool | None
    timeliness: str | None
    is_eligible_purchase: bool
    known_at: datetime | None
    is_amendment: bool

    # The names the signal rules read (TradeFact's), so rows can be classified as loaded.
    @property
    def table(self) -> str:
        return self.tx_table

    @property
    def trade_date(self) -> date | None:
        return self.transaction_date


def issuer_trades(session: Session, issuer_cik: str, *, since: date | None = None) -> list[TradeRecord]:
    """Live (not superseded) transaction rows of one issuer, both tables, with their filing's facts
    (only those traded on or after `since` when given)."""
    stmt = (
        select(*TRADE_COLUMNS)
        .join(Filing, Filing.accession == InsiderTransaction.accession)
        .where(InsiderTransaction.issuer_cik == issuer_cik, InsiderTransaction.superseded_by.is_(None))
        .order_by(
            InsiderTransaction.transaction_date,
            Filing.known_at,
            InsiderTransaction.accession,
            InsiderTransaction.tx_table.desc(),
            InsiderTransaction.doc_index,
        )
    )
    if since is not None:
        stmt = stmt.where(InsiderTransaction.transaction_date >= since)
    return list(map(TradeRecord._make, core_rows(session, stmt)))


class OwnerOnFiling(NamedTuple):
    accession: str
    cik: str
    name: str
    position: int
    is_director: bool
    is_officer: bool
    officer_title: str | None
    is_ten_percent_owner: bool
    is_other: bool
    other_text: str | None


def _owner_select() -> Any:
    return (
        select(
            FilingOwner.accession,
            FilingOwner.owner_cik,
            func.coalesce(FilingOwner.name_as_filed, ReportingOwner.name, FilingOwner.owner_cik),
            FilingOwner.position,
            FilingOwner.is_director,
            FilingOwner.is_officer,
            FilingOwner.officer_title,
            FilingOwner.is_ten_percent_owner,
            FilingOwner.is_other,
            FilingOwner.other_text,
        )
        .join(ReportingOwner, ReportingOwner.cik == FilingOwner.owner_cik)
        .order_by(FilingOwner.accession, FilingOwner.position)
    )


def issuer_owners(session: Session, issuer_cik: str) -> dict[str, list[OwnerOnFiling]]:
    """Reporting owners of each of the issuer's filings (with the relationship declared on it)."""
    # One query by issuer (ix_filing_issuer_known_at) rather than IN lists of thousands of accessions.
    stmt = _owner_select().join(Filing, Filing.accession == FilingOwner.accession)
    return _owners_by_filing(core_rows(session, stmt.where(Filing.issuer_cik == issuer_cik)))


def filing_owners(session: Session, accessions: Iterable[str]) -> dict[str, list[OwnerOnFiling]]:
    """Reporting owners of the given filings (a dashboard period's: tens to hundreds)."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(set(accessions))):  # ordered chunks, each ordered: the whole is ordered
        rows += core_rows(session, _owner_select().where(FilingOwner.accession.in_(chunk)))
    return _owners_by_filing(rows)


def _owners_by_filing(rows: Iterable[Any]) -> dict[str, list[OwnerOnFiling]]:
    out: dict[str, list[OwnerOnFiling]] = defaultdict(list)
    for row in rows:
        out[row[0]].append(OwnerOnFiling._make(row))
    return out


class HoldingRecord(NamedTuple):
    """One holding row with its filing's facts (a NamedTuple for the same reason as TradeRecord)."""

    accession: str
    doc_index: int
    security_title: str | None
    shares_owned: Decimal | None
    direct_indirect: str | None
    nature_of_ownership: str | None
    known_at: datetime | None
    period_of_report: date | None


def issuer_holdings(session: Session, issuer_cik: str) -> list[HoldingRecord]:
    """Live non-derivative holdings (positions reported without a transaction) with their filing time."""
    stmt = (
        select(
            Holding.accession,
            Holding.doc_index,
            Holding.security_title,
            Holding.shares_owned,
            Holding.direct_indirect,
            Holding.nature_of_ownership,
            Filing.known_at,
            Filing.period_of_report,
        )
        .join(Filing, Filing.accession == Holding.accession)
        .where(
            Holding.issuer_cik == issuer_cik,
            Holding.tx_table == "non_derivative",
            Holding.superseded_by.is_(None),
        )
    )
    return list(map(HoldingRecord._make, core_rows(session, stmt)))


def issuer_news(session: Session, issuer_cik: str) -> list[NewsEvent]:
    """An issuer's 8-Ks and headlines, oldest first."""
    stmt = (
        select(NewsEvent)
        .where(NewsEvent.issuer_cik == issuer_cik)
        .order_by(NewsEvent.event_date, NewsEvent.external_id)
    )
    return list(session.scalars(stmt))


# --- clusters -------------------------------------------------------------------------------------------


def issuer_clusters(session: Session, issuer_cik: str) -> list[Cluster]:
    """The issuer's default-rule clusters, newest trigger first."""
    stmt = (
        select(Cluster)
        .where(Cluster.issuer_cik == issuer_cik, *_DEFAULT_RULE)
        .order_by(Cluster.trigger_at.desc(), Cluster.id)
    )
    return list(session.scalars(stmt))


def clusters_triggered_since(session: Session, since: datetime) -> int:
    """How many default-rule clusters triggered at or after `since`, market-wide."""
    stmt = select(func.count()).select_from(Cluster).where(Cluster.trigger_at >= since, *_DEFAULT_RULE)
    return int(session.scalar(stmt) or 0)


# --- insiders -------------------------------------------------------------------------------------------


def owner_by_cik(session: Session, cik: str) -> ReportingOwner | None:
    return session.get(ReportingOwner, cik)


def owner_filings(session: Session, owner_cik: str) -> list[Any]:
    """Every filing the insider is a reporting owner of, with the relationship declared on it."""
    stmt = (
        select(
            Filing.accession,
            Filing.issuer_cik,
            Filing.known_at,
            FilingOwner.is_director,
            FilingOwner.is_officer,
            FilingOwner.officer_title,
            FilingOwner.is_ten_percent_owner,
            FilingOwner.is_other,
            FilingOwner.other_text,
        )
        .join(FilingOwner, FilingOwner.accession == Filing.accession)
        .where(FilingOwner.owner_cik == owner_cik)
    )
    return list(session.execute(stmt))


def owner_trades(session: Session, owner_cik: str) -> list[TradeRecord]:
    """Live transaction rows of every filing the insider is a reporting owner of."""
    stmt = (
        select(*TRADE_COLUMNS)
        .join(Filing, Filing.accession == InsiderTransaction.accession)
        .join(FilingOwner, FilingOwner.accession == Filing.accession)
        .where(FilingOwner.owner_cik == owner_cik, InsiderTransaction.superseded_by.is_(None))
    )
    return [TradeRecord._make(r) for r in session.execute(stmt)]


def issuers(session: Session, ciks: Iterable[str]) -> dict[str, Issuer]:
    """Issuers by CIK."""
    out: dict[str, Issuer] = {}
    for chunk in _chunks(sorted(set(ciks))):
        out.update((i.cik, i) for i in session.scalars(select(Issuer).where(Issuer.cik.in_(chunk))))
    return out
