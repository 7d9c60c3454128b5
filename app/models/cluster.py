from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import Money, Price, Shares, UTCDateTime


class Cluster(Base):
    """A materialized default-rule cluster (N=3, W=14): the permalink, weekly and performance unit."""

    __tablename__ = "cluster"
    __table_args__ = (Index("ix_cluster_week_value", "trigger_week", "week_value"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # issuer CIK + first trade date
    issuer_cik: Mapped[str] = mapped_column(String(10), ForeignKey("issuer.cik"), index=True)
    rule_n: Mapped[int] = mapped_column(Integer)
    rule_w: Mapped[int] = mapped_column(Integer)
    first_trade_date: Mapped[date] = mapped_column(Date)
    last_trade_date: Mapped[date] = mapped_column(Date)
    trigger_accession: Mapped[str] = mapped_column(String(20))
    trigger_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    trigger_week: Mapped[str] = mapped_column(String(8))  # ISO week of trigger_at in US/Eastern, "2024-W10"
    n_buyers: Mapped[int] = mapped_column(Integer)
    n_buyers_at_trigger: Mapped[int] = mapped_column(Integer)
    total_value: Mapped[Decimal] = mapped_column(Money)
    total_shares: Mapped[Decimal] = mapped_column(Shares)
    avg_price: Mapped[Decimal] = mapped_column(Price)
    # DESIGN §2 weekly ranking: value of member purchases filed up to the end of the trigger week.
    week_value: Mapped[Decimal] = mapped_column(Money)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClusterMember(Base):
    __tablename__ = "cluster_member"

    cluster_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cluster.id", ondelete="CASCADE"), primary_key=True
    )
    transaction_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("insider_transaction.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    buyer_key: Mapped[str] = mapped_column(String(200))  # "+"-joined owner CIKs of the buyer
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    known_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClusterAlias(Base):
    """An id a cluster had before later purchases merged it into another; permalinks redirect."""

    __tablename__ = "cluster_alias"

    alias_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cluster.id", ondelete="CASCADE"), index=True
    )
