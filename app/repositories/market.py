"""SQL behind the market pulse: open-market purchases and sales per (period, insider, issuer), summed in
the database so the page reads one row per pair and period instead of one per transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from sqlalchemy import Date, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from app.models import FilingOwner, InsiderTransaction, Issuer

Freq = Literal["W", "M"]


def _period(session: Session, freq: Freq, column: Any) -> Any:
    """The period start of a date: Monday of its ISO week, or the 1st of its month."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week" if freq == "W" else "month", column), Date)
    if freq == "W":
        # SQLite: forward to Sunday (same day if Sunday), then back six days = the ISO Monday.
        return func.date(column, "weekday 0", "-6 days")
    return func.date(column, "start of month")


def pair_periods(session: Session, freq: Freq) -> Sequence[Any]:
    """Rows (period, code, insider, issuer, sector, is_10b5_1, officer_title, other_text, value, n)."""
    tx = InsiderTransaction
    # DESIGN §2: P = eligible purchases; S = open-market sales: non-derivative, disposed, not superseded.
    is_p = tx.is_eligible_purchase.is_(True)
    is_s = and_(
        tx.code == "S",
        tx.tx_table == "non_derivative",
        tx.acquired_disposed == "D",
        tx.superseded_by.is_(None),
    )
    # The filing's first reporting owner stands for its joint filers (one filing = one buyer or seller).
    owner = (
        select(
            FilingOwner.accession, FilingOwner.owner_cik, FilingOwner.officer_title, FilingOwner.other_text
        )
        .where(FilingOwner.position == 0)
        .subquery()
    )
    period = _period(session, freq, tx.transaction_date).label("period")
    code = case((is_p, literal("P")), else_=literal("S")).label("code")
    plan = func.coalesce(tx.is_10b5_1, False).label("is_10b5_1")
    keys: tuple[Any, ...] = (period, code, owner.c.owner_cik, tx.issuer_cik, Issuer.sector, plan)
    keys += (owner.c.officer_title, owner.c.other_text)
    stmt = (
        select(*keys, func.sum(cast(tx.value, Float)), func.count())
        .join(owner, owner.c.accession == tx.accession)
        .outerjoin(Issuer, Issuer.cik == tx.issuer_cik)
        .where(or_(is_p, is_s), tx.transaction_date.is_not(None))
        .group_by(*keys)
    )
    rows = session.execute(stmt).all()
    if rows and isinstance(rows[0][0], str):  # SQLite returns date() as text
        return [(date.fromisoformat(r[0]), *r[1:]) for r in rows]
    return rows


def max_transaction_id(session: Session) -> int:
    """The newest transaction row id (0 when empty): a new filing always raises it."""
    return int(session.execute(select(func.max(InsiderTransaction.id))).scalar() or 0)
