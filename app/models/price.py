from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import Price, UTCDateTime


class PriceBar(Base):
    """One daily bar: raw OHLC as traded, plus the split- and dividend-adjusted close."""

    __tablename__ = "price_bar"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    bar_date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[Decimal | None] = mapped_column(Price)
    high: Mapped[Decimal | None] = mapped_column(Price)
    low: Mapped[Decimal | None] = mapped_column(Price)
    close: Mapped[Decimal] = mapped_column(Price)
    adj_close: Mapped[Decimal] = mapped_column(Price)
    volume: Mapped[int | None] = mapped_column(BigInteger)


class StockSplit(Base):
    """A split (ratio new/old shares, 4 for a 4:1 split) used to put filed trade prices on the chart basis."""

    __tablename__ = "stock_split"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    ex_date: Mapped[date] = mapped_column(Date, primary_key=True)
    ratio: Mapped[Decimal] = mapped_column(Numeric(20, 10))


class PriceSeriesState(Base):
    """What we know about a ticker's stored price history: freshness, source, and failures."""

    __tablename__ = "price_series_state"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # yfinance | csv
    first_bar_date: Mapped[date | None] = mapped_column(Date)
    last_bar_date: Mapped[date | None] = mapped_column(Date)
    # Digest of the adjustment history (splits, dividends): a change means a whole refetch.
    adjustment_digest: Mapped[str | None] = mapped_column(String(64))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
