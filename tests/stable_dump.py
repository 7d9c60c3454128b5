"""canonical_dump with cluster members keyed by their transaction's natural key (accession, table, row)
instead of its surrogate id, which differs between two runs that stored the same rows in another order
(a resumed run, a retried filing, a PostgreSQL sequence that advanced in a rolled-back transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from app.models import ClusterMember, InsiderTransaction
from tests.dbdump import canonical_dump


def stable_dump(
    engine: Engine, *, skip_tables: frozenset[str] = frozenset()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, with no surrogate id left in any column."""
    out = canonical_dump(engine, skip_tables=skip_tables | {"cluster_member"})
    tx, dup = aliased(InsiderTransaction), aliased(InsiderTransaction)
    query = (
        select(
            ClusterMember.cluster_id,
            tx.accession,
            tx.tx_table,
            tx.doc_index,
            ClusterMember.buyer_key,
            dup.accession,
            dup.tx_table,
            dup.doc_index,
            ClusterMember.known_at,
        )
        .join(tx, tx.id == ClusterMember.transaction_id)
        .outerjoin(dup, dup.id == ClusterMember.duplicate_of)
    )
    with engine.connect() as conn:
        out["cluster_member"] = sorted((tuple(row) for row in conn.execute(query)), key=repr)
    return out
