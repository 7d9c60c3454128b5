"""purchases_since, buyer_since: each issuer's and each buyer's purchases totalled from each of their
filing times on

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 12:00:00+00:00

A window with no end (the last D days) reads one row per company and per buyer, with the buyer counts
and the median ΔOwn already computed. Derived from eligible_purchase: the tables are created empty and
`clusterbuy db upgrade` fills them (app.services.clustering.refresh_missing_facts, in Python: the
medians); the ingest rewrites an issuer's rows with its purchases' facts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, app.models.types.UTCDateTime(timezone=True), nullable=nullable)


def _amount(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(precision=28, scale=6), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "purchases_since",
        sa.Column("issuer_cik", sa.String(length=10), nullable=False),
        _time("known_at"),
        _time("previous_known_at", nullable=True),
        sa.Column("n_purchases", sa.Integer(), nullable=False),
        sa.Column("n_buyers", sa.Integer(), nullable=False),
        _amount("value"),
        _amount("shares"),
        sa.Column("first_trade_date", sa.Date(), nullable=False),
        sa.Column("last_trade_date", sa.Date(), nullable=False),
        _time("latest_known_at"),
        sa.Column("cluster_id", sa.String(length=32), nullable=True),
        sa.Column("ten_percent_only", sa.Boolean(), nullable=False),
        sa.Column("delta_own_new", sa.Boolean(), nullable=False),
        sa.Column("delta_own_median", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("issuer_cik", "known_at", name=op.f("pk_purchases_since")),
    )
    op.create_index("ix_purchases_since_known_at", "purchases_since", ["known_at", "previous_known_at"])
    op.create_index(
        "ix_purchases_since_previous_known_at", "purchases_since", ["previous_known_at", "known_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        # A text search's thousands of companies are a list of CIKs: with the default statistics, planning
        # weighs each against the most common values (~18 ms for ~4,800 CIKs; ~2 ms with ten).
        op.execute("ALTER TABLE purchases_since ALTER COLUMN issuer_cik SET STATISTICS 10")
    op.create_table(
        "buyer_since",
        sa.Column("issuer_cik", sa.String(length=10), nullable=False),
        sa.Column("buyer_key", sa.String(length=200), nullable=False),
        _time("known_at"),
        _time("previous_known_at", nullable=True),
        _amount("value"),
        _amount("shares"),
        _amount("before_first_purchase", nullable=True),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.Column("owner_names", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("issuer_cik", "buyer_key", "known_at", name=op.f("pk_buyer_since")),
    )
    op.create_index(
        "ix_buyer_since_issuer_known_at", "buyer_since", ["issuer_cik", "known_at", "previous_known_at"]
    )
    op.create_index(
        "ix_buyer_since_issuer_previous_known_at",
        "buyer_since",
        ["issuer_cik", "previous_known_at", "known_at"],
    )


def downgrade() -> None:
    op.drop_table("buyer_since")
    op.drop_table("purchases_since")
