"""SQL behind the weekly, cluster and filing pages and the cluster feed (read-only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.models import (
    Cluster,
    ClusterAlias,
    ClusterMember,
    ClusterReturn,
    Filing,
    FilingOwner,
    Footnote,
    Holding,
    InsiderTransaction,
)
from app.repositories.clusters import _chunks
from app.services.clustering_core import DEFAULT_N, DEFAULT_W

_DEFAULT_RULE = (Cluster.rule_n == DEFAULT_N, Cluster.rule_w == DEFAULT_W)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- clusters -------------------------------------------------------------------------------------------


def get_cluster(session: Session, cluster_id: str) -> Cluster | None:
    """The materialized cluster with this id."""
    return session.get(Cluster, cluster_id)


def alias_target(session: Session, alias_id: str) -> str | None:
    """The id a merged cluster's old id now points to."""
    return session.scalar(select(ClusterAlias.cluster_id).where(ClusterAlias.alias_id == alias_id))


def clusters_in_week(session: Session, week: str) -> list[Cluster]:
    """Default-rule clusters triggered in an ISO week ("2024-W11"), biggest week value first."""
    stmt = (
        select(Cluster)
        .where(Cluster.trigger_week == week, *_DEFAULT_RULE)
        .order_by(Cluster.week_value.desc(), Cluster.trigger_at, Cluster.id)
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class WeekSummary:
    week: str
    n_clusters: int
    total_value: Decimal


def week_summaries(session: Session) -> list[WeekSummary]:
    """Every ISO week with default-rule clusters: how many and their summed week value, newest first."""
    stmt = (
        select(Cluster.trigger_week, func.count(), func.sum(Cluster.week_value))
        .where(*_DEFAULT_RULE)
        .group_by(Cluster.trigger_week)
        .order_by(Cluster.trigger_week.desc())
    )
    return [WeekSummary(w, n, Decimal(total or 0)) for w, n, total in session.execute(stmt)]


def latest_week_with_data(session: Session, *, at_or_before: str) -> str | None:
    """The newest ISO week label ≤ `at_or_before` holding a cluster ("YYYY-Www" sorts as text)."""
    stmt = select(func.max(Cluster.trigger_week)).where(*_DEFAULT_RULE, Cluster.trigger_week <= at_or_before)
    return session.scalar(stmt)


def newest_clusters(session: Session, *, limit: int) -> list[Cluster]:
    """The most recently triggered default-rule clusters."""
    stmt = select(Cluster).where(*_DEFAULT_RULE).order_by(Cluster.trigger_at.desc(), Cluster.id).limit(limit)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member purchase of a cluster with the transaction and filing facts pages show."""

    cluster_id: str
    transaction_id: int
    buyer_key: str
    duplicate_of: int | None
    known_at: datetime
    accession: str
    trade_date: date | None
    shares: Decimal | None
    price: Decimal | None
    price_low: Decimal | None
    price_high: Decimal | None
    price_source: str | None
    value: Decimal | None
    shares_owned_after: Decimal | None
    shares_owned_before: Decimal | None
    is_10b5_1: bool | None
    timeliness: str | None
    footnote_ids: dict[str, list[str]]
    is_amendment: bool


def members_of(session: Session, cluster_ids: Sequence[str]) -> list[MemberRow]:
    """Members of these clusters in trade-date, filing-time order."""
    out: list[MemberRow] = []
    for chunk in _chunks(sorted(set(cluster_ids))):
        stmt: Select[*tuple[Any, ...]] = (
            select(
                ClusterMember.cluster_id,
                ClusterMember.transaction_id,
                ClusterMember.buyer_key,
                ClusterMember.duplicate_of,
                ClusterMember.known_at,
                InsiderTransaction.accession,
                InsiderTransaction.transaction_date,
                InsiderTransaction.shares,
                InsiderTransaction.price,
                InsiderTransaction.price_low,
                InsiderTransaction.price_high,
                InsiderTransaction.price_source,
                InsiderTransaction.value,
                InsiderTransaction.shares_owned_after,
                InsiderTransaction.shares_owned_before,
                InsiderTransaction.is_10b5_1,
                InsiderTransaction.timeliness,
                InsiderTransaction.footnote_ids,
                Filing.is_amendment,
            )
            .join(InsiderTransaction, InsiderTransaction.id == ClusterMember.transaction_id)
            .join(Filing, Filing.accession == InsiderTransaction.accession)
            .where(ClusterMember.cluster_id.in_(chunk))
        )
        out.extend(MemberRow(*row) for row in session.execute(stmt))
    out.sort(
        key=lambda m: (m.cluster_id, m.trade_date or date.min, m.known_at, m.accession, m.transaction_id)
    )
    return out


def returns_of(session: Session, cluster_ids: Sequence[str]) -> dict[str, list[ClusterReturn]]:
    """Materialized returns per cluster (empty until prices arrive)."""
    out: dict[str, list[ClusterReturn]] = defaultdict(list)
    for chunk in _chunks(sorted(set(cluster_ids))):
        for row in session.scalars(select(ClusterReturn).where(ClusterReturn.cluster_id.in_(chunk))):
            out[row.cluster_id].append(row)
    return out


def footnotes_of(session: Session, accessions: Sequence[str]) -> dict[tuple[str, str], str]:
    """Footnote texts keyed by (accession, footnote id)."""
    out: dict[tuple[str, str], str] = {}
    for chunk in _chunks(sorted(set(accessions))):
        for fn in session.scalars(select(Footnote).where(Footnote.accession.in_(chunk))):
            out[(fn.accession, fn.footnote_id)] = fn.text
    return out


# --- filings --------------------------------------------------------------------------------------------


def get_filing(session: Session, accession: str) -> Filing | None:
    return session.get(Filing, accession)


def filing_owners(session: Session, accession: str) -> list[FilingOwner]:
    stmt = select(FilingOwner).where(FilingOwner.accession == accession).order_by(FilingOwner.position)
    return list(session.scalars(stmt))


def filing_transactions(session: Session, accession: str) -> list[InsiderTransaction]:
    """Rows of both tables, non-derivative first, in document order."""
    stmt = (
        select(InsiderTransaction)
        .where(InsiderTransaction.accession == accession)
        .order_by(InsiderTransaction.tx_table.desc(), InsiderTransaction.doc_index)
    )
    return list(session.scalars(stmt))


def filing_holdings(session: Session, accession: str) -> list[Holding]:
    stmt = (
        select(Holding)
        .where(Holding.accession == accession)
        .order_by(Holding.tx_table.desc(), Holding.doc_index)
    )
    return list(session.scalars(stmt))


def amendment_family(session: Session, original_accession: str) -> list[Filing]:
    """An original filing and every amendment linked to it, oldest known first."""
    stmt = select(Filing).where(
        or_(Filing.accession == original_accession, Filing.amends_accession == original_accession)
    )
    return sorted(
        session.scalars(stmt),
        key=lambda f: (f.is_amendment, f.known_at or _EPOCH, f.accession),
    )


@dataclass(frozen=True, slots=True)
class SectionState:
    accession: str
    section: str  # non_derivative_transactions | derivative_holdings | ...
    rows: int
    superseded_by: str | None


def section_states(session: Session, accessions: Sequence[str]) -> list[SectionState]:
    """Per filing and section: how many rows, and which filing supersedes them (None: live)."""
    out: list[SectionState] = []
    for model, kind in ((InsiderTransaction, "transactions"), (Holding, "holdings")):
        stmt = (
            select(model.accession, model.tx_table, func.count(), func.max(model.superseded_by))
            .where(model.accession.in_(list(accessions)))
            .group_by(model.accession, model.tx_table)
        )
        out.extend(
            SectionState(acc, f"{table}_{kind}", n, sup) for acc, table, n, sup in session.execute(stmt)
        )
    return out
