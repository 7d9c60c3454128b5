"""transaction known_at copy with partial index for window queries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 08:50:23.537802+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("insider_transaction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("known_at", app.models.types.UTCDateTime(timezone=True), nullable=True))
    # Copy each row's filing time (fixed once a filing is stored) from its filing.
    op.execute(
        "UPDATE insider_transaction SET known_at = "
        "(SELECT filing.known_at FROM filing WHERE filing.accession = insider_transaction.accession)"
    )
    with op.batch_alter_table("insider_transaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insider_transaction_eligible_known_at",
            ["known_at"],
            unique=False,
            postgresql_where=sa.text("is_eligible_purchase"),
            sqlite_where=sa.text("is_eligible_purchase"),
        )


def downgrade() -> None:
    with op.batch_alter_table("insider_transaction", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_insider_transaction_eligible_known_at",
            postgresql_where=sa.text("is_eligible_purchase"),
            sqlite_where=sa.text("is_eligible_purchase"),
        )
        batch_op.drop_column("known_at")
