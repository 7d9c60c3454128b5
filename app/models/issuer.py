from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class Issuer(Base):
    """A company whose securities insiders trade, keyed by its EDGAR CIK (10 digits)."""

    __tablename__ = "issuer"

    cik: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    ticker: Mapped[str | None] = mapped_column(String(16), index=True)
    exchange: Mapped[str | None] = mapped_column(String(32))
    sic: Mapped[int | None] = mapped_column(Integer)
    sic_description: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
