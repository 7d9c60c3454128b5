"""SQL behind the screener and purchases views: eligible purchases filed in a window, with context."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ClusterMember, Filing, InsiderTransaction, Issuer
from app.repositories.clusters import _chunks

WINDOW_COLUMNS = (
    InsiderTransaction.id,
    InsiderTransaction.issuer_cik,
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
    InsiderTransaction.security_title,
    InsiderTransaction.direct_indirect,
    InsiderTransaction.is_10b5_1,
    InsiderTransaction.timeliness,
    InsiderTransaction.doc_index,
    Filing.known_at,
    Filing.is_amendment,
)


def purchases_known_between(session: Session, since: datetime, until: datetime | None) -> list[Any]:
    """Eligible purchases whose filing became known in [since, until)."""
    # Filter on the row's copy of known_at so the partial index (eligible rows only) drives the plan.
    stmt = (
        select(*WINDOW_COLUMNS)
        .join(Filing, Filing.accession == InsiderTransaction.accession)
        .where(InsiderTransaction.known_at >= since, InsiderTransaction.is_eligible_purchase)
    )
    if until is not None:
        stmt = stmt.where(InsiderTransaction.known_at < until)
    return list(session.execute(stmt))


def issuers(session: Session, ciks: Sequence[str]) -> dict[str, Issuer]:
    out: dict[str, Issuer] = {}
    for chunk in _chunks(sorted(ciks)):
        for issuer in session.scalars(select(Issuer).where(Issuer.cik.in_(chunk))):
            out[issuer.cik] = issuer
    return out


def sectors(session: Session) -> list[str]:
    stmt = select(Issuer.sector).where(Issuer.sector.is_not(None)).distinct().order_by(Issuer.sector)
    return [s for s in session.scalars(stmt) if s]


def default_cluster_of(session: Session, transaction_ids: Sequence[int]) -> dict[int, str]:
    """The materialized default-rule cluster each purchase belongs to, if any."""
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(transaction_ids)):
        stmt = select(ClusterMember.transaction_id, ClusterMember.cluster_id).where(
            ClusterMember.transaction_id.in_(chunk)
        )
        out.update(dict(session.execute(stmt).all()))
    return out
