from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.types import Money, Price, Shares, UTCDateTime

OWNER_CIK_SEPARATOR = "+"
OWNER_NAME_SEPARATOR = "\n"  # names are stored cleaned (whitespace collapsed): never inside one
# What a rule computed on request reads of each purchase besides its issuer and trade date
# (app.repositories.screener.rule_purchases and the run starts).
RULE_READ_COLUMNS = ("days_after_previous", "known_at", "owner_ciks", "buyer_key")


class EligiblePurchase(Base):
    """One eligible purchase (DESIGN §2) with what the screener groups and filters by: its issuer-wide
    buyer, the roles of its filers, whether it repeats a chain's block, and its default-rule cluster.

    Maintained with the materialized clusters (app.services.clustering.refresh_issuers), so the
    screener aggregates in SQL instead of resolving buyers and roles row by row on every request.
    """

    __tablename__ = "eligible_purchase"
    __table_args__ = (
        Index("ix_eligible_purchase_known_at", "known_at"),
        # Also what a rule computed on request reads from a run's start (PostgreSQL reads it from the
        # index alone: ~40% less time for 90 days of every company).
        Index(
            "ix_eligible_purchase_issuer_trade_date",
            "issuer_cik",
            "trade_date",
            postgresql_include=RULE_READ_COLUMNS,
        ),
        # Every company's purchases traded in a date range (another rule's performance slices).
        Index("ix_eligible_purchase_trade_date", "trade_date"),
    )

    transaction_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("insider_transaction.id", ondelete="CASCADE"),
        primary_key=True,
    )
    issuer_cik: Mapped[str] = mapped_column(String(10))
    accession: Mapped[str] = mapped_column(String(20))
    known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trade_date: Mapped[date] = mapped_column(Date)
    # Owner CIKs of the buyer across the issuer's whole history ("+"-joined, bounded like cluster buyers).
    buyer_key: Mapped[str] = mapped_column(String(200))
    roles: Mapped[int] = mapped_column(Integer)  # bit set over app.services.roles.ROLE_ORDER
    # The same block already reported on another filing of the chain: one buyer, counted once in totals.
    is_block_copy: Mapped[bool] = mapped_column(Boolean)
    shares: Mapped[Decimal] = mapped_column(Shares)
    value: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Price)  # value ÷ shares: explicit or footnote-range price
    cluster_id: Mapped[str | None] = mapped_column(String(32))  # the default-rule cluster, if a member
    flags: Mapped[int] = mapped_column(Integer)  # bit set over app.services.clustering.PURCHASE_FLAGS
    shares_owned_before: Mapped[Decimal | None] = mapped_column(Shares)  # for ΔOwn
    # The filing's reporting owners: their CIKs sorted and joined by OWNER_CIK_SEPARATOR (what a rule
    # computed on request starts from), and their names as filed (CIK where none) in document order,
    # joined by OWNER_NAME_SEPARATOR (the screener's buyer names).
    owner_ciks: Mapped[str] = mapped_column(Text)
    owner_names: Mapped[str] = mapped_column(Text)
    # Days since the issuer's previous eligible purchase by trade date (NULL for its first): a gap longer
    # than W starts a run of W-linked purchases, where a rule computed on request starts reading.
    days_after_previous: Mapped[int | None] = mapped_column(Integer)


class PurchaseMonth(Base):
    """One issuer's eligible purchases filed in one calendar month (UTC), totalled as the screener totals
    them (the chain copies of a block counted once). A long window's company totals add up the whole
    months it covers from here and read only the partial months at its edges from EligiblePurchase
    (app.repositories.screener): 10 years are ~72,000 of these against ~263,000 purchases.

    Each row also holds the totals of the issuer's months from it on (`since_*`) and the issuer's previous
    month with purchases: a window with no end (the last D days) adds the months from its first whole one
    on as the one row per issuer whose month is at or after that month and whose previous month is before
    it (10 years of ~4,800 companies: ~4,800 rows instead of ~51,000).

    Rewritten with the issuer's EligiblePurchase rows (app.repositories.clusters.replace_issuer_purchases).
    """

    __tablename__ = "purchase_month"
    __table_args__ = (
        Index("ix_purchase_month_month", "month"),
        Index("ix_purchase_month_previous_month", "previous_month"),
    )

    issuer_cik: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    n_purchases: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money)
    shares: Mapped[Decimal] = mapped_column(Shares)
    first_trade_date: Mapped[date] = mapped_column(Date)
    last_trade_date: Mapped[date] = mapped_column(Date)
    latest_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cluster_id: Mapped[str | None] = mapped_column(String(32))  # the greatest, as max() over the purchases
    previous_month: Mapped[date | None] = mapped_column(Date)  # the issuer's latest earlier month
    # This month and the issuer's later ones, totalled as above.
    since_n_purchases: Mapped[int] = mapped_column(Integer)
    since_value: Mapped[Decimal] = mapped_column(Money)
    since_shares: Mapped[Decimal] = mapped_column(Shares)
    since_first_trade_date: Mapped[date] = mapped_column(Date)
    since_last_trade_date: Mapped[date] = mapped_column(Date)
    since_latest_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    since_cluster_id: Mapped[str | None] = mapped_column(String(32))


class BuyerMonth(Base):
    """One buyer group's eligible purchases of one issuer filed in one calendar month (UTC): a buyer's
    purchases that share one set of filer roles, flags and filer names (the screener's buyer groups,
    app.repositories.screener.BuyerGroup), totalled as the screener totals them, with the group's first
    purchase (by trade date, filing time, accession, row) and the holding before it (for ΔOwn).

    Each row also holds the same from its month on (`since_*`) and the group's previous month with
    purchases, as PurchaseMonth does for companies: a window with no end reads one row per buyer group
    for its whole months (10 years of the 100 companies a page shows: ~3,200 rows instead of ~28,000
    purchases), and only its partial first month purchase by purchase.

    Rewritten with the issuer's EligiblePurchase rows (app.repositories.clusters.replace_issuer_purchases).
    """

    __tablename__ = "buyer_month"
    __table_args__ = (
        Index("ix_buyer_month_issuer_month", "issuer_cik", "month"),
        Index("ix_buyer_month_month", "month"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    issuer_cik: Mapped[str] = mapped_column(String(10))
    buyer_key: Mapped[str] = mapped_column(String(200))
    roles: Mapped[int] = mapped_column(Integer)
    flags: Mapped[int] = mapped_column(Integer)
    owner_names: Mapped[str] = mapped_column(Text)
    month: Mapped[date] = mapped_column(Date)  # its first day
    n_purchases: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money)  # chain copies of a block counted as 0
    shares: Mapped[Decimal] = mapped_column(Shares)
    first_trade_date: Mapped[date] = mapped_column(Date)  # also the first purchase's trade date
    first_known_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the earliest filing time
    first_purchase_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_purchase_accession: Mapped[str] = mapped_column(String(20))
    # An insider_transaction id with no foreign key: the rows are rewritten with their issuer's facts,
    # and a key would make every deleted transaction scan this table.
    first_purchase_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), info={"references": "insider_transaction.id"}
    )
    before_first_purchase: Mapped[Decimal | None] = mapped_column(Shares)  # its shares_owned_before
    previous_month: Mapped[date | None] = mapped_column(Date)  # the group's latest earlier month
    # This month and the group's later ones, as above.
    since_n_purchases: Mapped[int] = mapped_column(Integer)
    since_value: Mapped[Decimal] = mapped_column(Money)
    since_shares: Mapped[Decimal] = mapped_column(Shares)
    since_first_trade_date: Mapped[date] = mapped_column(Date)
    since_first_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    since_first_purchase_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    since_first_purchase_accession: Mapped[str] = mapped_column(String(20))
    since_first_purchase_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), info={"references": "insider_transaction.id"}
    )
    since_before_first_purchase: Mapped[Decimal | None] = mapped_column(Shares)


class PurchasesSince(Base):
    """One issuer's eligible purchases filed at or after one of its filing times (`known_at`, a time it
    filed a purchase at), totalled as the screener shows a company: count, value and shares (chain copies
    of a block counted once), trade-date range, latest filing time, greatest default-rule cluster id,
    distinct buyers, whether every buyer is a 10% owner only, and the median of its buyers' ΔOwn.

    A window with no end (the last D days) is one row per company: the one whose time is in the window
    and whose previous time is not. 10 years of every company: ~6,600 rows read, not ~262,000 purchases,
    and no buyer's first purchase to find on request.

    Computed by app.services.since_totals; rewritten with the issuer's EligiblePurchase rows
    (app.repositories.clusters.replace_issuer_purchases).
    """

    __tablename__ = "purchases_since"
    __table_args__ = (
        # Which of the two bounds picks fewer rows depends on how far back the window starts.
        Index("ix_purchases_since_known_at", "known_at", "previous_known_at"),
        Index("ix_purchases_since_previous_known_at", "previous_known_at", "known_at"),
    )

    issuer_cik: Mapped[str] = mapped_column(String(10), primary_key=True)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    previous_known_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the issuer's latest earlier
    n_purchases: Mapped[int] = mapped_column(Integer)
    n_buyers: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money)
    shares: Mapped[Decimal] = mapped_column(Shares)
    first_trade_date: Mapped[date] = mapped_column(Date)
    last_trade_date: Mapped[date] = mapped_column(Date)
    latest_known_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cluster_id: Mapped[str | None] = mapped_column(String(32))  # the greatest, as max() over the purchases
    # Every buyer holds the 10% owner role and none an officer's or director's.
    ten_percent_only: Mapped[bool] = mapped_column(Boolean)
    # The median of the buyers' ΔOwn whose holding before is known: a new position (nothing held before)
    # counts above any ratio, and a median that is one is `delta_own_new`; NULL median: none known.
    delta_own_new: Mapped[bool] = mapped_column(Boolean)
    delta_own_median: Mapped[float | None] = mapped_column(Float)


class BuyerSince(Base):
    """One buyer's eligible purchases of one issuer filed at or after one of the buyer's filing times, as
    the screener shows a buyer under its company: value and shares (chain copies of a block counted
    once), the holding before its first purchase (trade date, filing time, accession, row) for ΔOwn, the
    union of its filers' roles and its purchases' flags, and its filers' names, first named first.

    A window with no end is one row per buyer, picked as PurchasesSince's rows are. Computed and rewritten
    with PurchasesSince.
    """

    __tablename__ = "buyer_since"
    __table_args__ = (
        Index("ix_buyer_since_issuer_known_at", "issuer_cik", "known_at", "previous_known_at"),
        Index("ix_buyer_since_issuer_previous_known_at", "issuer_cik", "previous_known_at", "known_at"),
    )

    issuer_cik: Mapped[str] = mapped_column(String(10), primary_key=True)
    buyer_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    known_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    previous_known_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the buyer's latest earlier
    value: Mapped[Decimal] = mapped_column(Money)
    shares: Mapped[Decimal] = mapped_column(Shares)
    before_first_purchase: Mapped[Decimal | None] = mapped_column(Shares)  # its shares_owned_before
    roles: Mapped[int] = mapped_column(Integer)  # bits, as EligiblePurchase.roles
    flags: Mapped[int] = mapped_column(Integer)  # bits, as EligiblePurchase.flags
    # The names its filers gave (CIK where none), joined by OWNER_NAME_SEPARATOR: ordered by the earliest
    # trade date of a purchase naming them, then the earliest filing time, then place on a filing.
    owner_names: Mapped[str] = mapped_column(Text)
