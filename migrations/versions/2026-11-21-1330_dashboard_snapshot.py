"""dashboard_snapshot: the history-wide part of each ticker dashboard, built once per change of its data

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 13:30:00+00:00

Empty after the upgrade: a dashboard builds its snapshot on first view (and whenever the issuer's
filings, prices or splits change). The downgrade drops the table; nothing else reads it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_snapshot",
        sa.Column("issuer_cik", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("series_json", sa.Text(), nullable=False),
        sa.Column("trades_json", sa.Text(), nullable=False),
        sa.Column("codes_json", sa.Text(), nullable=False),
        sa.Column("history_json", sa.Text(), nullable=False),
        sa.Column("built_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_cik"], ["issuer.cik"], name=op.f("fk_dashboard_snapshot_issuer_cik_issuer")
        ),
        sa.PrimaryKeyConstraint("issuer_cik", name=op.f("pk_dashboard_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_snapshot")
