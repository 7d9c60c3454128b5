"""eligible_purchase: the owner CIKs and the owner names of each purchase's filing; index by trade date

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 16:00:00+00:00

A rule computed on request reads its input, and the screener its buyer names, from eligible_purchase
alone instead of joining filing_owner. The upgrade fills both columns from filing_owner; a fact row
whose filing has no owner rows (none should) is dropped, and `clusterbuy db upgrade` recomputes it.
The trade-date index serves the look-back read of a rule computed on request.
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_SEPARATOR = "\n"  # stored names are cleaned text: a line break never occurs inside one


def upgrade() -> None:
    op.add_column("eligible_purchase", sa.Column("owner_ciks", sa.Text(), nullable=True))
    op.add_column("eligible_purchase", sa.Column("owner_names", sa.Text(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            UPDATE eligible_purchase AS ep
            SET owner_ciks = o.ciks, owner_names = o.names
            FROM (
                SELECT accession,
                       string_agg(owner_cik, '+' ORDER BY owner_cik) AS ciks,
                       string_agg(coalesce(name_as_filed, owner_cik), E'\\n' ORDER BY position) AS names
                FROM filing_owner
                WHERE accession IN (SELECT accession FROM eligible_purchase)
                GROUP BY accession
            ) AS o
            WHERE o.accession = ep.accession
            """
        )
    else:  # SQLite before 3.44 cannot order inside an aggregate: fill it from Python (small databases)
        owners: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        rows = bind.execute(
            sa.text(
                "SELECT accession, position, owner_cik, coalesce(name_as_filed, owner_cik) FROM filing_owner "
                "WHERE accession IN (SELECT accession FROM eligible_purchase)"
            )
        )
        for accession, position, cik, name in rows:
            owners[accession].append((position, cik, name))
        update = sa.text(
            "UPDATE eligible_purchase SET owner_ciks = :ciks, owner_names = :names WHERE accession = :a"
        )
        params = [
            {
                "a": accession,
                "ciks": "+".join(sorted(cik for _, cik, _ in filers)),
                "names": NAME_SEPARATOR.join(name for _, _, name in sorted(filers)),
            }
            for accession, filers in owners.items()
        ]
        if params:
            bind.execute(update, params)
    op.execute("DELETE FROM eligible_purchase WHERE owner_ciks IS NULL")
    with op.batch_alter_table("eligible_purchase") as batch:
        batch.alter_column("owner_ciks", existing_type=sa.Text(), nullable=False)
        batch.alter_column("owner_names", existing_type=sa.Text(), nullable=False)
    op.create_index("ix_eligible_purchase_trade_date", "eligible_purchase", ["trade_date"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_eligible_purchase_trade_date", table_name="eligible_purchase")
    with op.batch_alter_table("eligible_purchase") as batch:
        batch.drop_column("owner_names")
        batch.drop_column("owner_ciks")
