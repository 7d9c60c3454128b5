from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import Money, Price, Shares, UTCDateTime


class InsiderTransaction(Base):
    """One row of a filing's non-derivative or derivative table, identified by document order."""

    __tablename__ = "insider_transaction"
    __table_args__ = (
        UniqueConstraint("accession", "tx_table", "doc_index"),
        Index("ix_insider_transaction_eligible_date", "is_eligible_purchase", "transaction_date"),
        Index("ix_insider_transaction_issuer_date", "issuer_cik", "transaction_date"),
        Index("ix_insider_transaction_code_date", "code", "transaction_date"),
        # The screener reads eligible purchases by filing time: a partial index on the copy below.
        Index(
            "ix_insider_transaction_eligible_known_at",
            "known_at",
            postgresql_where=text("is_eligible_purchase"),
            sqlite_where=text("is_eligible_purchase"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    accession: Mapped[str] = mapped_column(String(20), ForeignKey("filing.accession", ondelete="CASCADE"))
    tx_table: Mapped[str] = mapped_column(String(16))  # non_derivative | derivative
    doc_index: Mapped[int] = mapped_column(Integer)
    issuer_cik: Mapped[str] = mapped_column(String(10))
    security_title: Mapped[str | None] = mapped_column(Text)
    transaction_date: Mapped[date | None] = mapped_column(Date)
    deemed_execution_date: Mapped[date | None] = mapped_column(Date)
    form_type: Mapped[str | None] = mapped_column(String(8))
    code: Mapped[str | None] = mapped_column(String(8))
    acquired_disposed: Mapped[str | None] = mapped_column(String(1))
    shares: Mapped[Decimal | None] = mapped_column(Shares)
    total_value: Mapped[Decimal | None] = mapped_column(Money)
    price: Mapped[Decimal | None] = mapped_column(Price)
    price_low: Mapped[Decimal | None] = mapped_column(Price)
    price_high: Mapped[Decimal | None] = mapped_column(Price)
    price_source: Mapped[str | None] = mapped_column(String(16))  # explicit | footnote_range
    value: Mapped[Decimal | None] = mapped_column(Money)  # shares x price when both are known
    shares_owned_after: Mapped[Decimal | None] = mapped_column(Shares)
    value_owned_after: Mapped[Decimal | None] = mapped_column(Money)
    # Holdings before this row along its (security, D/I, nature) chain: the ΔOwn denominator.
    shares_owned_before: Mapped[Decimal | None] = mapped_column(Shares)
    direct_indirect: Mapped[str | None] = mapped_column(String(1))
    nature_of_ownership: Mapped[str | None] = mapped_column(Text)
    equity_swap_involved: Mapped[bool | None] = mapped_column(Boolean)
    timeliness: Mapped[str | None] = mapped_column(String(1))
    conversion_or_exercise_price: Mapped[Decimal | None] = mapped_column(Price)
    exercise_date: Mapped[date | None] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date)
    underlying_security_title: Mapped[str | None] = mapped_column(Text)
    underlying_shares: Mapped[Decimal | None] = mapped_column(Shares)
    underlying_value: Mapped[Decimal | None] = mapped_column(Money)
    footnote_ids: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_10b5_1: Mapped[bool | None] = mapped_column(Boolean)
    superseded_by: Mapped[str | None] = mapped_column(String(20))
    # The filing's known_at, copied here so window queries need no join (a filing's known_at is fixed).
    known_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # DESIGN §2 "eligible purchase", kept current when an amendment supersedes the row.
    is_eligible_purchase: Mapped[bool] = mapped_column(Boolean, default=False)


class Holding(Base):
    """A position reported without a transaction (nonDerivativeHolding / derivativeHolding)."""

    __tablename__ = "holding"
    __table_args__ = (UniqueConstraint("accession", "tx_table", "doc_index"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    accession: Mapped[str] = mapped_column(String(20), ForeignKey("filing.accession", ondelete="CASCADE"))
    tx_table: Mapped[str] = mapped_column(String(16))
    doc_index: Mapped[int] = mapped_column(Integer)
    issuer_cik: Mapped[str] = mapped_column(String(10), index=True)
    security_title: Mapped[str | None] = mapped_column(Text)
    shares_owned: Mapped[Decimal | None] = mapped_column(Shares)
    value_owned: Mapped[Decimal | None] = mapped_column(Money)
    direct_indirect: Mapped[str | None] = mapped_column(String(1))
    nature_of_ownership: Mapped[str | None] = mapped_column(Text)
    conversion_or_exercise_price: Mapped[Decimal | None] = mapped_column(Price)
    exercise_date: Mapped[date | None] = mapped_column(Date)
    expiration_date: Mapped[date | None] = mapped_column(Date)
    underlying_security_title: Mapped[str | None] = mapped_column(Text)
    underlying_shares: Mapped[Decimal | None] = mapped_column(Shares)
    underlying_value: Mapped[Decimal | None] = mapped_column(Money)
    footnote_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    superseded_by: Mapped[str | None] = mapped_column(String(20))
