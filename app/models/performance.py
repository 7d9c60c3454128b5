from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Float, ForeignKey, String
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
