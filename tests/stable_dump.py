"""canonical_dump with cluster members, and any other row that references a transaction by its id (a
foreign key to insider_transaction.id, or a column whose info names it), keyed by the transaction's
natural key (accession, table, row) instead of its surrogate id, which differs between two runs that
stored the same rows in another order (a resumed run, a retried filing, a PostgreSQL sequence that
advanced in a rolled-back transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Engine, Table, select
from sqlalchemy.orm import aliased

from app.db import Base
from app.models import ClusterMember, InsiderTransaction
from tests.dbdump import VOLATILE, _norm, canonical_dump

TRANSACTION_ID = "insider_transaction.id"


def stable_dump(
    engine: Engine, *, skip_tables: frozenset[str] = frozenset()
) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, with no surrogate id left in any column."""
    by_tx = {
        t.name: t
        for t in Base.metadata.sorted_tables
        if t.name not in skip_tables and t.name != "cluster_member" and _tx_refs(t)
    }
    out = canonical_dump(engine, skip_tables=skip_tables | {"cluster_member"} | by_tx.keys())
    for name, table in by_tx.items():
        out[name] = _dump_by_transaction_key(engine, table)
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


def _tx_refs(table: Table) -> list[Column[object]]:
    """Columns holding a transaction id: by a foreign key, or by their info (BuyerMonth's first purchase)."""
    return [
        c
        for c in table.columns
        if any(fk.target_fullname == TRANSACTION_ID for fk in c.foreign_keys)
        or c.info.get("references") == TRANSACTION_ID
    ]


def _dump_by_transaction_key(engine: Engine, table: Table) -> list[tuple[object, ...]]:
    """The table's rows with each transaction id replaced by that transaction's natural key."""
    tx_table = InsiderTransaction.__table__
    refs = _tx_refs(table)
    cols: list[object] = []
    source = table
    for col in table.columns:
        if col.name in VOLATILE:
            continue
        if col in refs:
            tx = tx_table.alias(f"tx_{col.name}")
            source = source.outerjoin(tx, tx.c.id == col)  # type: ignore[assignment]
            cols += [tx.c.accession, tx.c.tx_table, tx.c.doc_index]
        else:
            cols.append(col)
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).select_from(source)).all()  # type: ignore[call-overload]
    return sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)
