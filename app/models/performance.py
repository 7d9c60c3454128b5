from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import Price, UTCDateTime


class ClusterReturn(Base):
    """A default-rule cluster's return at one horizon vs SPY (DESIGN §2), materialized for pages.

    Returns are ratios, not money, so they are floats.
    """

    __tablename__ = "cluster_return"

    cluster_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("cluster.id", ondelete="CASCADE"), primary_key=True
    )
    horizon: Mapped[str] = mapped_column(String(4), primary_key=True)  # 1w 1m 3m 6m 1y
    status: Mapped[str] = mapped_column(String(16))  # done | open | ended_early | no_entry
    entry_date: Mapped[date | None] = mapped_column(Date)
    entry_price: Mapped[Decimal | None] = mapped_column(Price)  # adjusted open
    exit_date: Mapped[date | None] = mapped_column(Date)
    stock_return: Mapped[float | None] = mapped_column(Float)
    spy_return: Mapped[float | None] = mapped_column(Float)
    excess_return: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StoredPerformanceView(Base):
    """A precomputed /performance view: the whole default-rule set, or one role mix or value bucket of it.

    Every performance refresh rewrites them (DESIGN §5: the page renders from one stored document). A view
    answers a request only while the stored returns are the ones it was built from (returns_count and
    returns_computed_at equal cluster_return's row count and newest computed_at).
    """

    __tablename__ = "performance_view"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # all | role=<mix> | value=<bucket>
    rule_n: Mapped[int] = mapped_column(Integer)  # the cluster rule (N buyers within W days) measured
    rule_w: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # filters beyond the rule, e.g. {"role": "ceo_cfo"}
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the PerformanceView schema, JSON mode
    data_through: Mapped[date] = mapped_column(Date)  # the last SPY bar the returns were measured to
    returns_count: Mapped[int] = mapped_column(Integer)
    returns_computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
