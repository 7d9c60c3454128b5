"""Migrations build the schema on both backends and match the models exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

import app.models  # noqa: F401
from app.db import Base, make_engine
from app.migrate import alembic_config, upgrade
from app.models import IngestCheckpoint, StoredPerformanceView
from tests.conftest import BACKENDS, create_database


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path):
    url, drop = create_database(request.param, tmp_path)
    yield url
    drop()


def test_upgrade_head_from_empty_matches_models(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    # `alembic check` raises when autogenerate finds any difference between models and schema.
    command.check(alembic_config(empty_db_url))


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    engine = make_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(empty_db_url)


def test_revision_chain_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert all(not isinstance(r.down_revision, tuple) for r in revisions)


def test_0006_moves_stored_performance_views_out_of_checkpoints_and_back(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0005")
    built = datetime(2026, 1, 2, 12, 0, 0, 123456, tzinfo=UTC)
    newest = datetime(2026, 1, 2, 11, 59, 30, 654321, tzinfo=UTC)
    whole = {"summaries": [{"horizon": "1w", "n": 4, "mean": 0.0125}], "coverage": {"clusters": 6}}
    views = {
        "performance.view": {"version": [20, newest.isoformat()], "as_of": "2012-09-11", "view": whole},
        "performance.view.role=ceo_cfo": {
            "version": [20, newest.isoformat()],
            "as_of": "2012-09-11",
            "view": {"summaries": []},
        },
        "performance.view.value=10m_plus": {"version": [0, None], "as_of": "2012-09-10", "view": {}},
    }
    broken = {"performance.view.role=other": {"as_of": "2012-09-11"}}  # never served: no view, no version
    others = {"performance.insider": {"as_of": "2012-09-11", "clusters": {}}, "edgar.health": {"ok": True}}
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                IngestCheckpoint.__table__.insert(),
                [
                    {"name": k, "value": v, "updated_at": built}
                    for k, v in {**views, **broken, **others}.items()
                ],
            )

        upgrade(empty_db_url)
        with engine.connect() as conn:
            moved = {r.key: r for r in conn.execute(select(StoredPerformanceView.__table__))}
            left = set(conn.scalars(select(IngestCheckpoint.name)))
        assert set(moved) == {"all", "role=ceo_cfo", "value=10m_plus"}
        assert left == set(others)
        row = moved["all"]
        assert (row.rule_n, row.rule_w, row.params, row.payload) == (3, 14, {}, whole)
        assert (row.data_through, row.returns_count, row.returns_computed_at) == (
            date(2012, 9, 11),
            20,
            newest,
        )
        assert row.computed_at == built
        assert moved["role=ceo_cfo"].params == {"role": "ceo_cfo"}
        assert (moved["value=10m_plus"].params, moved["value=10m_plus"].returns_computed_at) == (
            {"value": "10m_plus"},
            None,
        )

        command.downgrade(alembic_config(empty_db_url), "0005")
        with engine.connect() as conn:
            back = {r.name: r for r in conn.execute(select(IngestCheckpoint.__table__))}
        assert {name: r.value for name, r in back.items()} == {**views, **others}
        assert back["performance.view"].updated_at == built
    finally:
        engine.dispose()


def test_0008_fills_owner_sets_and_names_as_the_ingest_writes_them(empty_db_url: str, tmp_path: Path) -> None:
    from app.ingest.files import ingest_files
    from app.models import EligiblePurchase
    from tests.factories import Owner, purchase_filing

    upgrade(empty_db_url)
    fund, gp = Owner("0000009001", "FUND LP", ten_percent=True), Owner("0000009002", "", ten_percent=True)
    files = {
        "a.txt": purchase_filing(
            "0000009001-24-000001", "2024-03-05T16:30:00", owners=[gp, fund], trade_date="2024-03-04"
        ),
        "b.txt": purchase_filing(
            "0000000101-24-000001",
            "2024-03-06T16:30:00",
            owners=[Owner("0000000101", "ALICE A", director=True)],
            trade_date="2024-03-05",
        ),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    engine = make_engine(empty_db_url)
    try:
        assert ingest_files(paths, engine=engine, max_bytes=5_000_000).rejected == 0
        columns = (EligiblePurchase.transaction_id, EligiblePurchase.owner_ciks, EligiblePurchase.owner_names)
        with engine.connect() as conn:
            written = sorted(conn.execute(select(*columns)).all())
        assert [row[1:] for row in written] == [
            ("0000009001+0000009002", "0000009002\nFUND LP"),  # sorted CIKs; names in filing order
            ("0000000101", "ALICE A"),
        ]
        command.downgrade(alembic_config(empty_db_url), "0007")
        upgrade(empty_db_url)
        with engine.connect() as conn:
            assert sorted(conn.execute(select(*columns)).all()) == written
    finally:
        engine.dispose()


def test_0009_fills_days_after_previous_as_the_ingest_writes_them(empty_db_url: str, tmp_path: Path) -> None:
    from app.models import EligiblePurchase
    from tests.factories import Owner, ingest_submissions, purchase_filing

    upgrade(empty_db_url)
    alice, bob = Owner("0000000101", "ALICE A", director=True), Owner("0000000102", "BOB B", director=True)
    trades = [  # (issuer, buyer, trade date): filed out of date order
        ("0000001234", alice, "2024-03-20"),
        ("0000001234", bob, "2024-03-04"),
        ("0000001234", alice, "2024-03-04"),
        ("0000001234", bob, "2024-06-01"),
        ("0000005678", alice, "2024-03-10"),
    ]
    files = {
        f"{k}.txt": purchase_filing(
            f"0000000101-24-00000{k}",
            f"2024-06-1{k}T16:30:00",
            owners=[owner],
            trade_date=day,
            issuer_cik=issuer,
            ticker=f"T{issuer[-1]}",
        )
        for k, (issuer, owner, day) in enumerate(trades)
    }
    engine = make_engine(empty_db_url)
    try:
        ingest_submissions(engine, tmp_path, files)
        columns = (
            EligiblePurchase.issuer_cik,
            EligiblePurchase.trade_date,
            EligiblePurchase.days_after_previous,
        )
        with engine.connect() as conn:
            written = sorted(conn.execute(select(*columns)).all(), key=lambda r: (r[0], r[1], r[2] or 0))
        assert [(cik, day.isoformat(), gap) for cik, day, gap in written] == [
            ("0000001234", "2024-03-04", None),  # the issuer's first purchase (either of the two)
            ("0000001234", "2024-03-04", 0),
            ("0000001234", "2024-03-20", 16),
            ("0000001234", "2024-06-01", 73),
            ("0000005678", "2024-03-10", None),
        ]
        command.downgrade(alembic_config(empty_db_url), "0008")
        upgrade(empty_db_url)
        with engine.connect() as conn:
            again = sorted(conn.execute(select(*columns)).all(), key=lambda r: (r[0], r[1], r[2] or 0))
        assert again == written
    finally:
        engine.dispose()


@pytest.mark.parametrize("before", ["0009", "0010"])
def test_0010_and_0011_fill_month_totals_as_the_ingest_writes_them(
    empty_db_url: str, tmp_path: Path, before: str
) -> None:
    """0010 fills the month rows, 0011 their totals from each month on and previous month."""
    from app.models import PurchaseMonth
    from tests.factories import ingest_submissions, random_purchase_filings

    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        ingest_submissions(engine, tmp_path, random_purchase_filings(6))
        stmt = select(PurchaseMonth.__table__).order_by(PurchaseMonth.issuer_cik, PurchaseMonth.month)
        with engine.connect() as conn:
            written = conn.execute(stmt).all()
        assert len(written) > 30
        command.downgrade(alembic_config(empty_db_url), before)
        upgrade(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(stmt).all() == written
    finally:
        engine.dispose()


def test_0012_fills_buyer_months_as_the_ingest_writes_them(empty_db_url: str, tmp_path: Path) -> None:
    """0012's SQL fill (each month's first purchase, and the first from each month on) equals the rows
    the ingest computes in Python."""
    from app.models import BuyerMonth
    from tests.factories import edge_case_purchases, ingest_submissions, random_purchase_filings

    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        ingest_submissions(engine, tmp_path, random_purchase_filings(6) | edge_case_purchases())
        columns = [c for c in BuyerMonth.__table__.columns if c.key != "id"]
        stmt = select(*columns).order_by(*columns[:6])
        with engine.connect() as conn:
            written = conn.execute(stmt).all()
        # Groups whose first purchase from a month on lies in a later month.
        assert sum(r.since_first_purchase_id != r.first_purchase_id for r in written) >= 4
        assert len(written) > 100
        command.downgrade(alembic_config(empty_db_url), "0011")
        upgrade(empty_db_url)
        with engine.connect() as conn:
            assert conn.execute(stmt).all() == written
    finally:
        engine.dispose()


def test_0013_tables_fill_on_upgrade_as_the_ingest_writes_them(empty_db_url: str, tmp_path: Path) -> None:
    """0013 adds the totals from each filing time on empty; `clusterbuy db upgrade` fills them
    (refresh_missing_facts, from the stored screener facts) with the rows the ingest writes."""
    from app.db import session_scope
    from app.models import BuyerSince, PurchasesSince
    from app.services.clustering import refresh_missing_facts
    from tests.factories import delta_own_filings, ingest_submissions

    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        ingest_submissions(engine, tmp_path, delta_own_filings(2))
        statements = [
            select(*m.__table__.columns).order_by(*m.__table__.primary_key)
            for m in (PurchasesSince, BuyerSince)
        ]
        with engine.connect() as conn:
            written = [conn.execute(stmt).all() for stmt in statements]
        assert all(len(rows) > 50 for rows in written)
        command.downgrade(alembic_config(empty_db_url), "0012")
        upgrade(empty_db_url)
        with engine.connect() as conn:
            assert all(not conn.execute(stmt).all() for stmt in statements)
        with session_scope(engine, write=True) as session:
            assert refresh_missing_facts(session) == len({row.issuer_cik for row in written[0]})
        with engine.connect() as conn:
            assert [conn.execute(stmt).all() for stmt in statements] == written
    finally:
        engine.dispose()
