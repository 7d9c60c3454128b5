"""performance_view: the precomputed /performance views, moved out of ingest_checkpoint

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 10:51:29+00:00

Until 0005 each view was an ingest_checkpoint row named performance.view (the whole set) or
performance.view.role=<mix> / performance.view.value=<bucket>, its value a JSON document
{"version": [returns count, newest returns computed_at], "as_of": date, "view": {...}}. The upgrade moves
those rows into performance_view (keys all, role=<mix>, value=<bucket>) and the downgrade moves them back.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PREFIX = "performance.view"
DEFAULT_RULE = (3, 14)  # the only rule whose views were ever stored

checkpoint = sa.table(
    "ingest_checkpoint",
    sa.column("name", sa.String(64)),
    sa.column("value", sa.JSON()),
    sa.column("updated_at", app.models.types.UTCDateTime(timezone=True)),
)
performance_view = sa.table(
    "performance_view",
    sa.column("key", sa.String(64)),
    sa.column("rule_n", sa.Integer()),
    sa.column("rule_w", sa.Integer()),
    sa.column("params", sa.JSON()),
    sa.column("payload", sa.JSON()),
    sa.column("data_through", sa.Date()),
    sa.column("returns_count", sa.Integer()),
    sa.column("returns_computed_at", app.models.types.UTCDateTime(timezone=True)),
    sa.column("computed_at", app.models.types.UTCDateTime(timezone=True)),
)
_OLD_NAMES = sa.or_(checkpoint.c.name == OLD_PREFIX, checkpoint.c.name.like(f"{OLD_PREFIX}.%"))


def upgrade() -> None:
    op.create_table(
        "performance_view",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("rule_n", sa.Integer(), nullable=False),
        sa.Column("rule_w", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("data_through", sa.Date(), nullable=False),
        sa.Column("returns_count", sa.Integer(), nullable=False),
        sa.Column("returns_computed_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("computed_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_performance_view")),
    )
    bind = op.get_bind()
    rows = [
        row
        for name, value, updated_at in bind.execute(sa.select(checkpoint).where(_OLD_NAMES))
        if (row := _view_row(name, value, updated_at)) is not None
    ]
    if rows:
        bind.execute(performance_view.insert(), rows)
    # A document without a view or version was never served (always stale): it goes too.
    bind.execute(checkpoint.delete().where(_OLD_NAMES))


def downgrade() -> None:
    bind = op.get_bind()
    rows = [_checkpoint_row(row) for row in bind.execute(sa.select(performance_view))]
    bind.execute(checkpoint.delete().where(_OLD_NAMES))
    if rows:
        bind.execute(checkpoint.insert(), rows)
    op.drop_table("performance_view")


def _view_row(name: str, value: Any, updated_at: datetime) -> dict[str, Any] | None:
    """The performance_view row for one old checkpoint row, or None when its document is incomplete."""
    if not isinstance(value, dict) or not isinstance(value.get("view"), dict):
        return None
    version, as_of = value.get("version"), value.get("as_of")
    if not isinstance(version, list) or len(version) != 2 or not isinstance(as_of, str):
        return None
    key = name.removeprefix(OLD_PREFIX).removeprefix(".") or "all"
    field, _, choice = key.partition("=")
    params = {} if key == "all" else {field: choice}
    newest = datetime.fromisoformat(version[1]) if version[1] else None
    return {
        "key": key,
        "rule_n": DEFAULT_RULE[0],
        "rule_w": DEFAULT_RULE[1],
        "params": params,
        "payload": value["view"],
        "data_through": date.fromisoformat(as_of),
        "returns_count": int(version[0]),
        "returns_computed_at": newest.replace(tzinfo=newest.tzinfo or UTC) if newest else None,
        "computed_at": updated_at,
    }


def _checkpoint_row(row: Any) -> dict[str, Any]:
    """The old checkpoint row (name, JSON document, updated_at) for one performance_view row."""
    newest = row.returns_computed_at
    return {
        "name": OLD_PREFIX if row.key == "all" else f"{OLD_PREFIX}.{row.key}",
        "value": {
            "version": [row.returns_count, newest.isoformat() if newest else None],
            "as_of": row.data_through.isoformat(),
            "view": row.payload,
        },
        "updated_at": row.computed_at,
    }
