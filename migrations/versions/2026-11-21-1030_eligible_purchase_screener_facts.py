"""eligible_purchase: per-purchase screener facts (issuer-wide buyer, roles, flags, block copy, cluster)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 10:30:00+00:00

The table starts empty; `clusterbuy db upgrade` fills it (it recomputes the materialized clusters of
every issuer whose purchases have no facts yet), as does every later ingest for the issuers it touches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eligible_purchase",
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issuer_cik", sa.String(length=10), nullable=False),
        sa.Column("accession", sa.String(length=20), nullable=False),
        sa.Column("known_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("buyer_key", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("is_block_copy", sa.Boolean(), nullable=False),
        sa.Column("shares", sa.Numeric(precision=28, scale=6), nullable=False),
        sa.Column("value", sa.Numeric(precision=28, scale=6), nullable=False),
        sa.Column("price", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("cluster_id", sa.String(length=32), nullable=True),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("shares_owned_before", sa.Numeric(precision=28, scale=6), nullable=True),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["insider_transaction.id"],
            name=op.f("fk_eligible_purchase_transaction_id_insider_transaction"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_eligible_purchase")),
    )
    op.create_index("ix_eligible_purchase_known_at", "eligible_purchase", ["known_at"], unique=False)
    op.create_index(
        "ix_eligible_purchase_issuer_trade_date",
        "eligible_purchase",
        ["issuer_cik", "trade_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_eligible_purchase_issuer_trade_date", table_name="eligible_purchase")
    op.drop_index("ix_eligible_purchase_known_at", table_name="eligible_purchase")
    op.drop_table("eligible_purchase")
