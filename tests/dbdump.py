"""A canonical dump of the database: every table's rows, sorted, without volatile columns.

Two runs that should leave the same state (re-ingest, other arrival order, crash and resume) must
produce equal dumps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

import app.models  # noqa: F401
from app.db import Base

VOLATILE = {
    "id",
    "ingested_at",
    "updated_at",
    "first_seen_at",
    "last_seen_at",
    "occurrences",
    "source_ref",
    "fetched_at",
    "started_at",
    "finished_at",
}


def canonical_dump(
    engine: Engine, *, skip_tables: frozenset[str] = frozenset()
) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in skip_tables:
                continue
            cols = [c for c in table.columns if c.name not in VOLATILE]
            rows = conn.execute(select(*cols)).all()
            out[table.name] = sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)
    return out


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    return value
