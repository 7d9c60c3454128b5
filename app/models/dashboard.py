from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class DashboardSnapshot(Base):
    """The part of one issuer's ticker dashboard that reads its whole history, built once per change.

    Trade markers, the price series, the insider roster and the history-wide signals read every filing and
    bar of the issuer (a busy ticker: thousands of rows); they depend neither on the day nor on the
    period asked for. A page uses the snapshot only while `fingerprint` equals the one computed from the
    issuer's filings, prices and splits at request time, and rebuilds it otherwise.
    """

    __tablename__ = "dashboard_snapshot"

    issuer_cik: Mapped[str] = mapped_column(String(10), ForeignKey("issuer.cik"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of what the snapshot was built from
    # JSON texts, stored as served (already escaped for an HTML <script> data island).
    series_json: Mapped[str] = mapped_column(Text)  # PriceSeries or null
    trades_json: Mapped[str] = mapped_column(Text)  # list of TradeMarker
    codes_json: Mapped[str] = mapped_column(Text)  # transaction code -> meaning
    history_json: Mapped[str] = mapped_column(Text)  # the IssuerHistory schema
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
