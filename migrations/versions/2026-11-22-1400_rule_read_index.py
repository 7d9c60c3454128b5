"""eligible_purchase (issuer_cik, trade_date) index includes what a rule computed on request reads

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 14:00:00+00:00

Another N/W rule reads each company's purchases from a run's start by this index; on PostgreSQL the index
now carries the columns it reads (days since the previous purchase, filing time, owner CIKs, buyer), so
the read touches no table page. SQLite has no included columns: its index is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_eligible_purchase_issuer_trade_date"
INCLUDED = ["days_after_previous", "known_at", "owner_ciks", "buyer_key"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="eligible_purchase")
    op.create_index(NAME, "eligible_purchase", ["issuer_cik", "trade_date"], postgresql_include=INCLUDED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="eligible_purchase")
    op.create_index(NAME, "eligible_purchase", ["issuer_cik", "trade_date"])
