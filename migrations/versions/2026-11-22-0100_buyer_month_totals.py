"""buyer_month: each buyer group's purchases per issuer and UTC month of filing, totalled, with the
group's first purchase, and the same from each month on

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 01:00:00+00:00

A window with no end reads the screener's buyer groups (and the ΔOwn sort's buyers) as one row per
group for its whole months. The table is derived from eligible_purchase: the upgrade fills it in SQL,
the ingest rewrites an issuer's rows with its purchases' facts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUP = "issuer_cik, buyer_key, roles, flags, owner_names"


def _totals(prefix: str) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{prefix}n_purchases", sa.Integer(), nullable=False),
        sa.Column(f"{prefix}value", sa.Numeric(precision=28, scale=6), nullable=False),
        sa.Column(f"{prefix}shares", sa.Numeric(precision=28, scale=6), nullable=False),
        sa.Column(f"{prefix}first_trade_date", sa.Date(), nullable=False),
        sa.Column(f"{prefix}first_known_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            f"{prefix}first_purchase_known_at", app.models.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(f"{prefix}first_purchase_accession", sa.String(length=20), nullable=False),
        sa.Column(
            f"{prefix}first_purchase_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(f"{prefix}before_first_purchase", sa.Numeric(precision=28, scale=6), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "buyer_month",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issuer_cik", sa.String(length=10), nullable=False),
        sa.Column("buyer_key", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("owner_names", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *_totals(""),
        sa.Column("previous_month", sa.Date(), nullable=True),
        *_totals("since_"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_month")),
    )
    op.create_index("ix_buyer_month_issuer_month", "buyer_month", ["issuer_cik", "month"], unique=False)
    op.create_index("ix_buyer_month_month", "buyer_month", ["month"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', known_at AT TIME ZONE 'UTC')::date"
    else:  # SQLite stores times as ISO text in UTC
        month = "date(known_at, 'start of month')"
    # Per group and month: totals and the month's first purchase (place 1); then each month's first
    # purchase ranked among the group's months' (first_rank), so that the first purchase from a month on
    # is the month from there on with the lowest rank.
    op.execute(
        f"""
        INSERT INTO buyer_month ({GROUP}, month, n_purchases, value, shares, first_trade_date,
                                 first_known_at, first_purchase_known_at, first_purchase_accession,
                                 first_purchase_id, before_first_purchase, previous_month,
                                 since_n_purchases, since_value, since_shares, since_first_trade_date,
                                 since_first_known_at, since_first_purchase_known_at,
                                 since_first_purchase_accession, since_first_purchase_id,
                                 since_before_first_purchase)
        WITH per_purchase AS (
            SELECT {GROUP}, {month} AS month, known_at, trade_date, accession, transaction_id,
                   shares_owned_before,
                   CASE WHEN is_block_copy THEN 0 ELSE value END AS value,
                   CASE WHEN is_block_copy THEN 0 ELSE shares END AS shares,
                   row_number() OVER (PARTITION BY {GROUP}, {month}
                                      ORDER BY trade_date, known_at, accession, transaction_id) AS place
            FROM eligible_purchase
        ), months AS (
            SELECT {GROUP}, month, count(*) AS n, sum(value) AS value, sum(shares) AS shares,
                   min(trade_date) AS first_trade, min(known_at) AS first_known,
                   max(CASE WHEN place = 1 THEN known_at END) AS fp_known,
                   max(CASE WHEN place = 1 THEN accession END) AS fp_accession,
                   max(CASE WHEN place = 1 THEN transaction_id END) AS fp_id,
                   max(CASE WHEN place = 1 THEN shares_owned_before END) AS fp_before
            FROM per_purchase
            GROUP BY {GROUP}, month
        ), ranked AS (
            SELECT months.*,
                   row_number() OVER (PARTITION BY {GROUP}
                                      ORDER BY first_trade, fp_known, fp_accession, fp_id) AS first_rank
            FROM months
        ), since AS (
            SELECT ranked.*,
                   lag(month) OVER (PARTITION BY {GROUP} ORDER BY month) AS previous_month,
                   sum(n) OVER later AS since_n, sum(value) OVER later AS since_value,
                   sum(shares) OVER later AS since_shares, min(first_known) OVER later AS since_first_known,
                   min(first_rank) OVER later AS since_rank
            FROM ranked
            WINDOW later AS (PARTITION BY {GROUP} ORDER BY month
                             ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
        )
        SELECT s.issuer_cik, s.buyer_key, s.roles, s.flags, s.owner_names, s.month, s.n, s.value, s.shares,
               s.first_trade, s.first_known, s.fp_known, s.fp_accession, s.fp_id, s.fp_before,
               s.previous_month, s.since_n, s.since_value, s.since_shares, f.first_trade,
               s.since_first_known, f.fp_known, f.fp_accession, f.fp_id, f.fp_before
        FROM since AS s
        JOIN ranked AS f
          ON f.issuer_cik = s.issuer_cik AND f.buyer_key = s.buyer_key AND f.roles = s.roles
         AND f.flags = s.flags AND f.owner_names = s.owner_names AND f.first_rank = s.since_rank
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE buyer_month")


def downgrade() -> None:
    op.drop_index("ix_buyer_month_month", table_name="buyer_month")
    op.drop_index("ix_buyer_month_issuer_month", table_name="buyer_month")
    op.drop_table("buyer_month")
