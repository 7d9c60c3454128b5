"""eligible_purchase: days since the issuer's previous eligible purchase (by trade date)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 17:30:00+00:00

Where a gap is longer than W days, a run of W-linked purchases starts: a rule computed on request finds
the start of the run that holds a company's first purchase filed in the window from this column, and
reads the company's purchases from there (the 90-day span is cut from a run's first purchase). NULL for
an issuer's first purchase. The upgrade computes it in SQL; the ingest writes it with the other facts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("eligible_purchase", sa.Column("days_after_previous", sa.Integer(), nullable=True))
    previous = "lag(trade_date) OVER (PARTITION BY issuer_cik ORDER BY trade_date, transaction_id)"
    if op.get_bind().dialect.name == "postgresql":
        gap = f"trade_date - {previous}"
    else:  # SQLite stores dates as ISO text
        gap = f"CAST(julianday(trade_date) - julianday({previous}) AS INTEGER)"
    op.execute(
        f"""
        UPDATE eligible_purchase
        SET days_after_previous = g.gap
        FROM (SELECT transaction_id, {gap} AS gap FROM eligible_purchase) AS g
        WHERE g.transaction_id = eligible_purchase.transaction_id
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("eligible_purchase") as batch:
        batch.drop_column("days_after_previous")
