"""SQL for eligible purchases (the clustering input) and the materialized default-rule clusters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from app.models import (
    BuyerMonth,
    BuyerSince,
    Cluster,
    ClusterAlias,
    ClusterMember,
    EligiblePurchase,
    Filing,
    FilingOwner,
    Footnote,
    InsiderTransaction,
    PurchaseMonth,
    PurchasesSince,
)
from app.repositories.filings import _insert


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    transaction_id: int
    issuer_cik: str
    accession: str
    trade_date: date
    known_at: datetime
    shares: Decimal
    value: Decimal
    shares_owned_before: Decimal | None
    is_10b5_1: bool | None
    timeliness: str | None
    price_source: str | None
    is_amendment: bool


def eligible_purchases(
    session: Session,
    *,
    issuer_ciks: Iterable[str] | None = None,
    trade_since: date | None = None,
    trade_until: date | None = None,
) -> list[PurchaseRow]:
    """Eligible purchases (DESIGN §2) with their filing's known-at time."""
    # Untyped rows: the model's columns are nullable, but the WHERE below rules NULL out for PurchaseRow.
    stmt: Select[*tuple[Any, ...]] = (
        select(
            InsiderTransaction.id,
            InsiderTransaction.issuer_cik,
            InsiderTransaction.accession,
            InsiderTransaction.transaction_date,
            Filing.known_at,
            InsiderTransaction.shares,
            InsiderTransaction.value,
            InsiderTransaction.shares_owned_before,
            InsiderTransaction.is_10b5_1,
            InsiderTransaction.timeliness,
            InsiderTransaction.price_source,
            Filing.is_amendment,
        )
        .join(Filing, Filing.accession == InsiderTransaction.accession)
        .where(
            InsiderTransaction.is_eligible_purchase.is_(True),
            InsiderTransaction.transaction_date.is_not(None),
            Filing.known_at.is_not(None),
        )
    )
    if issuer_ciks is not None:
        stmt = stmt.where(InsiderTransaction.issuer_cik.in_(list(issuer_ciks)))
    if trade_since is not None:
        stmt = stmt.where(InsiderTransaction.transaction_date >= trade_since)
    if trade_until is not None:
        stmt = stmt.where(InsiderTransaction.transaction_date <= trade_until)
    return [PurchaseRow(*row) for row in session.execute(stmt)]


PURCHASE_INPUT_COLUMNS = (
    EligiblePurchase.transaction_id,
    EligiblePurchase.issuer_cik,
    EligiblePurchase.accession,
    EligiblePurchase.trade_date,
    EligiblePurchase.known_at,
    EligiblePurchase.shares,
    EligiblePurchase.value,
    EligiblePurchase.owner_ciks,
)


def purchase_input_rows(session: Session, *, issuer_ciks: Iterable[str] | None = None) -> list[Any]:
    """Eligible purchases from their stored screener facts, with their filing's owner CIKs — the cheap
    input for computing a rule on request (the facts are refreshed with every ingest)."""
    ep = EligiblePurchase
    base = select(*PURCHASE_INPUT_COLUMNS)
    if issuer_ciks is None:
        return list(core_rows(session, base))
    out: list[Any] = []
    for chunk in _chunks(sorted(set(issuer_ciks))):
        out.extend(core_rows(session, base.where(ep.issuer_cik.in_(chunk))))
    return out


def issuers_with_purchases(session: Session) -> list[str]:
    stmt = (
        select(InsiderTransaction.issuer_cik)
        .where(InsiderTransaction.is_eligible_purchase.is_(True))
        .distinct()
    )
    return list(session.scalars(stmt))


OWNER_COLUMNS = tuple(FilingOwner.__table__.c)
OwnerRow = Any  # a Core row carrying FilingOwner's columns as attributes


def owners_by_accession(session: Session, accessions: Sequence[str]) -> dict[str, list[OwnerRow]]:
    """Each filing's reporting owners in document order, as plain rows with FilingOwner's columns
    (read-only: Core rows cost a fraction of ORM objects on the screener's thousands of filings)."""
    out: dict[str, list[OwnerRow]] = defaultdict(list)
    for chunk in _chunks(accessions):
        stmt = select(*OWNER_COLUMNS).where(FilingOwner.accession.in_(chunk)).order_by(FilingOwner.position)
        for owner in session.execute(stmt):
            out[owner.accession].append(owner)
    return out


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What flags are computed from, per member row."""

    is_amendment: bool
    is_10b5_1: bool | None
    timeliness: str | None
    price_source: str | None
    footnote_texts: tuple[str, ...]


def member_facts(session: Session, transaction_ids: Sequence[int]) -> dict[int, MemberFacts]:
    # Columns, not ORM objects: a refresh or a rule's clusters ask for thousands of members.
    tx = InsiderTransaction
    rows: list[Any] = []
    for chunk in _chunks(transaction_ids):
        stmt = (
            select(
                tx.id, tx.accession, tx.footnote_ids, tx.is_10b5_1, tx.timeliness, tx.price_source,
                Filing.is_amendment,
            )
            .join(Filing, Filing.accession == tx.accession)
            .where(tx.id.in_(chunk))
        )  # fmt: skip
        rows.extend(core_rows(session, stmt))
    accessions = sorted({r.accession for r in rows})
    notes: dict[tuple[str, str], str] = {}
    for chunk in _chunks(accessions):
        notes_stmt = select(Footnote.accession, Footnote.footnote_id, Footnote.text).where(
            Footnote.accession.in_(chunk)
        )
        for accession, footnote_id, note in core_rows(session, notes_stmt):
            notes[(accession, footnote_id)] = note
    out: dict[int, MemberFacts] = {}
    for r in rows:
        ids = sorted({fid for fids in (r.footnote_ids or {}).values() for fid in fids})
        texts = tuple(notes[(r.accession, fid)] for fid in ids if (r.accession, fid) in notes)
        out[r.id] = MemberFacts(bool(r.is_amendment), r.is_10b5_1, r.timeliness, r.price_source, texts)
    return out


# Namespace of the PostgreSQL advisory locks that serialize cluster refreshes per issuer.
CLUSTER_LOCK_CLASS = 4_804_001


def lock_issuers(session: Session, issuer_ciks: Sequence[str]) -> None:
    """Serialize concurrent refreshes of the same issuers until the transaction ends.

    PostgreSQL: transaction-scoped advisory locks, taken in CIK order so two writers cannot deadlock.
    SQLite: writers already hold the database lock (BEGIN IMMEDIATE), so nothing to do.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for cik in sorted(set(issuer_ciks)):
        session.execute(select(func.pg_advisory_xact_lock(CLUSTER_LOCK_CLASS, int(cik) % 2_147_483_647)))


def cluster_ids_for_issuers(session: Session, issuer_ciks: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(issuer_ciks):
        out.update(session.scalars(select(Cluster.id).where(Cluster.issuer_cik.in_(chunk))))
    return out


def replace_issuer_clusters(
    session: Session,
    *,
    issuer_ciks: Sequence[str],
    clusters: Sequence[dict[str, Any]],
    members: Sequence[dict[str, Any]],
    aliases: Sequence[dict[str, Any]],
) -> None:
    """Make the stored clusters of these issuers exactly `clusters`, keeping rows whose id survives
    (so their materialized returns stay) and dropping the rest."""
    keep = {c["id"] for c in clusters}
    stale = cluster_ids_for_issuers(session, issuer_ciks) - keep
    for chunk in _chunks(sorted(stale)):
        session.execute(delete(Cluster).where(Cluster.id.in_(chunk)))
    for chunk in _chunks(sorted(keep)):
        session.execute(delete(ClusterMember).where(ClusterMember.cluster_id.in_(chunk)))
        session.execute(delete(ClusterAlias).where(ClusterAlias.cluster_id.in_(chunk)))
    alias_ids = sorted({a["alias_id"] for a in aliases})
    for chunk in _chunks(alias_ids):
        session.execute(delete(ClusterAlias).where(ClusterAlias.alias_id.in_(chunk)))
    for values in clusters:
        stmt = _insert(session, Cluster).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Cluster.id], set_={k: v for k, v in values.items() if k != "id"}
        )
        session.execute(stmt)
    if members:
        session.execute(_insert(session, ClusterMember), list(members))
    if aliases:
        session.execute(_insert(session, ClusterAlias), list(aliases))


def replace_issuer_purchases(
    session: Session,
    *,
    issuer_ciks: Sequence[str],
    purchases: Sequence[dict[str, Any]],
    since_rows: tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]],
) -> None:
    """Make the screener facts of these issuers' purchases exactly `purchases`, their monthly totals
    (PurchaseMonth, BuyerMonth) those of `purchases`, and their totals from each filing time on
    (PurchasesSince, BuyerSince) `since_rows` (app.services.since_totals of `purchases`)."""
    for chunk in _chunks(sorted(issuer_ciks)):
        session.execute(delete(EligiblePurchase).where(EligiblePurchase.issuer_cik.in_(chunk)))
        session.execute(delete(PurchaseMonth).where(PurchaseMonth.issuer_cik.in_(chunk)))
        session.execute(delete(BuyerMonth).where(BuyerMonth.issuer_cik.in_(chunk)))
    if purchases:
        session.execute(_insert(session, EligiblePurchase), list(purchases))
        session.execute(_insert(session, PurchaseMonth), month_totals(purchases))
        session.execute(_insert(session, BuyerMonth), buyer_month_totals(purchases))
    replace_since_totals(session, issuer_ciks=issuer_ciks, since_rows=since_rows)


def replace_since_totals(
    session: Session,
    *,
    issuer_ciks: Sequence[str],
    since_rows: tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]],
) -> None:
    """Make these issuers' PurchasesSince and BuyerSince rows exactly `since_rows`."""
    for chunk in _chunks(sorted(issuer_ciks)):
        session.execute(delete(PurchasesSince).where(PurchasesSince.issuer_cik.in_(chunk)))
        session.execute(delete(BuyerSince).where(BuyerSince.issuer_cik.in_(chunk)))
    issuer_rows, buyer_rows = since_rows
    if issuer_rows:
        session.execute(_insert(session, PurchasesSince), list(issuer_rows))
    if buyer_rows:
        session.execute(_insert(session, BuyerSince), list(buyer_rows))


def issuers_missing_since_totals(session: Session) -> list[str]:
    """Issuers with screener facts and no PurchasesSince rows (after migration 0013)."""
    stmt = (
        select(EligiblePurchase.issuer_cik)
        .outerjoin(PurchasesSince, PurchasesSince.issuer_cik == EligiblePurchase.issuer_cik)
        .where(PurchasesSince.issuer_cik.is_(None))
        .distinct()
    )
    return sorted(session.scalars(stmt))


def purchase_facts(session: Session, issuer_ciks: Sequence[str]) -> list[dict[str, Any]]:
    """These issuers' EligiblePurchase rows as dicts (what replace_issuer_purchases stores)."""
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(issuer_ciks)):
        stmt = select(*EligiblePurchase.__table__.c).where(EligiblePurchase.issuer_cik.in_(chunk))
        out.extend(dict(row._mapping) for row in session.execute(stmt))
    return out


# A PurchaseMonth row's totals, which it also holds from its month on (since_*).
TOTAL_KEYS = (
    "n_purchases",
    "value",
    "shares",
    "first_trade_date",
    "last_trade_date",
    "latest_known_at",
    "cluster_id",
)
# A BuyerMonth row's totals and first purchase, which it also holds from its month on (since_*).
GROUP_KEYS = ("issuer_cik", "buyer_key", "roles", "flags", "owner_names")
GROUP_TOTAL_KEYS = (
    "n_purchases",
    "value",
    "shares",
    "first_trade_date",
    "first_known_at",
    "first_purchase_known_at",
    "first_purchase_accession",
    "first_purchase_id",
    "before_first_purchase",
)


def _month_of(known_at: datetime) -> date:
    known_at = known_at.astimezone(UTC)
    return date(known_at.year, known_at.month, 1)


def month_totals(purchases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """PurchaseMonth rows of these EligiblePurchase rows: per issuer and UTC month of filing, the count,
    value and shares (chain copies of a block counted as 0), trade-date range, latest filing time and
    greatest cluster id, as the screener's SQL aggregates them; with the issuer's previous month and its
    totals from each month on (since_*)."""
    months: dict[tuple[Any, ...], dict[str, Any]] = {}
    for p in purchases:
        counted = not p["is_block_copy"]
        one = {
            "n_purchases": 1,
            "value": p["value"] if counted else Decimal(0),
            "shares": p["shares"] if counted else Decimal(0),
            "first_trade_date": p["trade_date"],
            "last_trade_date": p["trade_date"],
            "latest_known_at": p["known_at"].astimezone(UTC),
            "cluster_id": p["cluster_id"],
        }
        key = (p["issuer_cik"], _month_of(p["known_at"]))
        months[key] = _combined(months[key], one) if key in months else one
    return _with_since(months, ("issuer_cik",), TOTAL_KEYS, _combined)


def buyer_month_totals(purchases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """BuyerMonth rows of these EligiblePurchase rows: per buyer group (GROUP_KEYS) and UTC month of
    filing, the count, value and shares (chain copies of a block counted as 0), earliest trade date and
    filing time, and the first purchase with the holding before it; with the group's previous month and
    the same from each month on (since_*)."""
    months: dict[tuple[Any, ...], dict[str, Any]] = {}
    for p in purchases:
        counted = not p["is_block_copy"]
        known_at = p["known_at"].astimezone(UTC)
        one = {
            "n_purchases": 1,
            "value": p["value"] if counted else Decimal(0),
            "shares": p["shares"] if counted else Decimal(0),
            "first_trade_date": p["trade_date"],
            "first_known_at": known_at,
            "first_purchase_known_at": known_at,
            "first_purchase_accession": p["accession"],
            "first_purchase_id": p["transaction_id"],
            "before_first_purchase": p["shares_owned_before"],
        }
        key = (*(p[k] for k in GROUP_KEYS), _month_of(known_at))
        months[key] = combine_group_totals(months[key], one) if key in months else one
    return _with_since(months, GROUP_KEYS, GROUP_TOTAL_KEYS, combine_group_totals)


def _with_since(
    months: dict[tuple[Any, ...], dict[str, Any]],
    owner_keys: tuple[str, ...],
    total_keys: tuple[str, ...],
    combined: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of monthly totals keyed by (*owner, month): each with its owner's previous month and the
    totals of the owner's months from it on (since_*)."""
    rows = []
    for owner, owner_months in groupby(sorted(months.items()), key=lambda item: item[0][:-1]):
        own = [
            {**dict(zip(owner_keys, owner, strict=True)), "month": key[-1], **totals}
            for key, totals in owner_months
        ]
        since: dict[str, Any] | None = None  # the totals from the later month on
        for i in range(len(own) - 1, -1, -1):
            totals = {key: own[i][key] for key in total_keys}
            since = totals if since is None else combined(totals, since)
            own[i].update({f"since_{key}": value for key, value in since.items()})
            own[i]["previous_month"] = own[i - 1]["month"] if i else None
        rows.extend(own)
    return rows


def _combined(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The totals (TOTAL_KEYS) of two sets of purchases together."""
    clusters = [c for c in (a["cluster_id"], b["cluster_id"]) if c is not None]
    return {
        "n_purchases": a["n_purchases"] + b["n_purchases"],
        "value": a["value"] + b["value"],
        "shares": a["shares"] + b["shares"],
        "first_trade_date": min(a["first_trade_date"], b["first_trade_date"]),
        "last_trade_date": max(a["last_trade_date"], b["last_trade_date"]),
        "latest_known_at": max(a["latest_known_at"], b["latest_known_at"]),
        "cluster_id": max(clusters) if clusters else None,
    }


# A buyer's purchases in order (the first one's holding before it is ΔOwn's base): trade date, filing
# time, accession, row; as GROUP_TOTAL_KEYS of a set of purchases, where its first purchase stands.
FIRST_PURCHASE_ORDER = (
    "first_trade_date",
    "first_purchase_known_at",
    "first_purchase_accession",
    "first_purchase_id",
)


def _first_purchase_order(totals: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(totals[key] for key in FIRST_PURCHASE_ORDER)


def combine_group_totals(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The totals (GROUP_TOTAL_KEYS) of two sets of a buyer group's purchases together."""
    first = a if _first_purchase_order(a) <= _first_purchase_order(b) else b
    return {
        "n_purchases": a["n_purchases"] + b["n_purchases"],
        "value": a["value"] + b["value"],
        "shares": a["shares"] + b["shares"],
        "first_trade_date": first["first_trade_date"],
        "first_known_at": min(a["first_known_at"], b["first_known_at"]),
        "first_purchase_known_at": first["first_purchase_known_at"],
        "first_purchase_accession": first["first_purchase_accession"],
        "first_purchase_id": first["first_purchase_id"],
        "before_first_purchase": first["before_first_purchase"],
    }


def issuers_missing_purchase_facts(session: Session) -> list[str]:
    """Issuers with an eligible purchase that has no EligiblePurchase row."""
    stmt = (
        select(InsiderTransaction.issuer_cik)
        .outerjoin(EligiblePurchase, EligiblePurchase.transaction_id == InsiderTransaction.id)
        .where(InsiderTransaction.is_eligible_purchase.is_(True), EligiblePurchase.transaction_id.is_(None))
        .distinct()
    )
    return sorted(session.scalars(stmt))


def core_rows(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
    """Execute a column select on the session's connection (for thousands of rows)."""
    # Session.execute builds each row of a column select through the ORM's loading layer (about a
    # quarter of the fetch on a busy ticker); the Connection's result does it in C, and all() fetches
    # in one driver call where iterating fetches row by row. Flushing first is what Session.execute's
    # autoflush would have done.
    session.flush()
    return session.connection().execute(stmt, params).all()


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    # Bounded IN lists: SQLite caps bound parameters, and huge lists plan badly on PostgreSQL.
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]
