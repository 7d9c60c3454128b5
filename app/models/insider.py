from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import UTCDateTime


class ReportingOwner(Base):
    """An insider (person or entity) that files Forms 3/4/5, keyed by CIK."""

    __tablename__ = "reporting_owner"

    cik: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FilingOwner(Base):
    """One reporting owner of one filing, with the relationship it declared on that filing."""

    __tablename__ = "filing_owner"

    accession: Mapped[str] = mapped_column(
        String(20), ForeignKey("filing.accession", ondelete="CASCADE"), primary_key=True
    )
    owner_cik: Mapped[str] = mapped_column(
        String(10), ForeignKey("reporting_owner.cik"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name_as_filed: Mapped[str | None] = mapped_column(String(200))
    is_director: Mapped[bool] = mapped_column(Boolean, default=False)
    is_officer: Mapped[bool] = mapped_column(Boolean, default=False)
    officer_title: Mapped[str | None] = mapped_column(String(200))
    is_ten_percent_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_other: Mapped[bool] = mapped_column(Boolean, default=False)
    other_text: Mapped[str | None] = mapped_column(String(200))
