"""purchase_month: each month row also totals the issuer's months from it on, and names its previous month

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 23:30:00+00:00

A window with no end (the screener's last D days) adds its whole months as one row per issuer: the row
whose month is at or after the window's first whole month and whose previous month is before it. The
table is derived from eligible_purchase, so the upgrade empties it, adds the columns and fills it again
in SQL; the ingest rewrites an issuer's rows with its purchases' facts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    sa.Column("previous_month", sa.Date(), nullable=True),
    sa.Column("since_n_purchases", sa.Integer(), nullable=False),
    sa.Column("since_value", sa.Numeric(precision=28, scale=6), nullable=False),
    sa.Column("since_shares", sa.Numeric(precision=28, scale=6), nullable=False),
    sa.Column("since_first_trade_date", sa.Date(), nullable=False),
    sa.Column("since_last_trade_date", sa.Date(), nullable=False),
    sa.Column("since_latest_known_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("since_cluster_id", sa.String(length=32), nullable=True),
)


def upgrade() -> None:
    op.execute("DELETE FROM purchase_month")  # refilled below: NOT NULL columns go onto an empty table
    with op.batch_alter_table("purchase_month") as batch:
        for column in NEW_COLUMNS:
            batch.add_column(column)
    op.create_index("ix_purchase_month_previous_month", "purchase_month", ["previous_month"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', known_at AT TIME ZONE 'UTC')::date"
    else:  # SQLite stores times as ISO text in UTC
        month = "date(known_at, 'start of month')"
    op.execute(
        f"""
        INSERT INTO purchase_month (issuer_cik, month, n_purchases, value, shares, first_trade_date,
                                    last_trade_date, latest_known_at, cluster_id, previous_month,
                                    since_n_purchases, since_value, since_shares, since_first_trade_date,
                                    since_last_trade_date, since_latest_known_at, since_cluster_id)
        SELECT issuer_cik, month, n, value, shares, first_trade, last_trade, latest, cluster_id,
               lag(month) OVER (PARTITION BY issuer_cik ORDER BY month),
               sum(n) OVER later, sum(value) OVER later, sum(shares) OVER later,
               min(first_trade) OVER later, max(last_trade) OVER later, max(latest) OVER later,
               max(cluster_id) OVER later
        FROM (
            SELECT issuer_cik, {month} AS month, count(*) AS n,
                   sum(CASE WHEN is_block_copy THEN 0 ELSE value END) AS value,
                   sum(CASE WHEN is_block_copy THEN 0 ELSE shares END) AS shares,
                   min(trade_date) AS first_trade, max(trade_date) AS last_trade, max(known_at) AS latest,
                   max(cluster_id) AS cluster_id
            FROM eligible_purchase
            GROUP BY issuer_cik, {month}
        ) AS months
        WINDOW later AS (PARTITION BY issuer_cik ORDER BY month
                         ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
        """
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE purchase_month")


def downgrade() -> None:
    op.drop_index("ix_purchase_month_previous_month", table_name="purchase_month")
    with op.batch_alter_table("purchase_month") as batch:
        for column in reversed(NEW_COLUMNS):
            batch.drop_column(column.name)
