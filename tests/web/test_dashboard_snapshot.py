"""The stored dashboard snapshot (dashboard_snapshot): built on a dashboard's first view, read by the next
ones, rebuilt whenever the issuer's filings, prices or splits change (by the ingest or price job for a
dashboard opened before, else by the next view), and never a reason for a page to fail (SQLite and
PostgreSQL, real AAPL prices and filings written for the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from app.config import Settings
from app.db import session_scope
from app.ingest.files import ingest_files, refresh_dashboards
from app.main import create_app
from app.models import DashboardSnapshot
from app.repositories import prices as prices_repo
from app.repositories import ticker_pages as ticker_pages_repo
from app.schemas.ticker import Period, TickerView
from app.services import ticker_history
from app.services import ticker_page as ticker_page_service
from tests.conftest import truncate_all
from tests.web.test_ticker_page import AAPL_CIK, ALICE, _buy, _filing, load_dashboard


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    load_dashboard(engine, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url))) as test_client:
        yield test_client
    truncate_all(engine)


def _stored(engine: Engine) -> dict[str, tuple[str, datetime]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(DashboardSnapshot.issuer_cik, DashboardSnapshot.fingerprint, DashboardSnapshot.built_at)
        )
        return {cik: (fingerprint, built_at) for cik, fingerprint, built_at in rows}


def _api(client: TestClient, symbol: str = "AAPL") -> dict:
    resp = client.get(f"/api/ticker/{symbol}?period=all")
    assert resp.status_code == 200, resp.text[:300]
    return resp.json()


def _buy_dates(page: dict) -> list[str]:
    return [m["date"] for m in page["markers"]["trades"] if m["kind"] == "buy"]


def test_first_view_stores_a_snapshot_that_later_views_read(engine: Engine, client: TestClient) -> None:
    assert _stored(engine) == {}
    html_built = client.get("/ticker/AAPL?period=all").text
    first = _stored(engine)
    assert set(first) == {AAPL_CIK}

    # Read back, not rebuilt: same fingerprint and build time, same page and JSON as when it was built.
    assert client.get("/ticker/AAPL?period=all").text == html_built
    page = _api(client)
    assert _stored(engine) == first
    with session_scope(engine) as s:
        first_bar, last_bar = prices_repo.bar_date_range(s, "AAPL")
    assert (page["series"]["dates"][0], page["series"]["dates"][-1]) == (str(first_bar), str(last_bar))
    assert "2019-06-03" in _buy_dates(page)
    with session_scope(engine) as s:
        fresh = ticker_page_service.build_ticker_page(s, "AAPL", Period.all)
        issuer = ticker_pages_repo.issuer_by_cik(s, AAPL_CIK)
        assert issuer is not None
        rebuilt = ticker_history.build(s, issuer, "AAPL")
    assert (
        fresh.chart_data()
        == TickerView(
            page=fresh.page,
            news=fresh.news,
            series_json=rebuilt.series_json,
            trades_json=rebuilt.trades_json,
            codes_json=rebuilt.codes_json,
        ).chart_data()
    )
    assert fresh.page.roster == rebuilt.history.roster
    assert fresh.page.signals.sell_clusters == rebuilt.history.sell_clusters


def test_an_ingest_rebuilds_the_snapshot_of_a_dashboard_opened_before(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    before = _api(client)
    assert "2022-06-01" not in _buy_dates(before)
    (old_fingerprint, old_built) = _stored(engine)[AAPL_CIK]

    folder = tmp_path / "new"
    folder.mkdir()
    name, data = _filing(9, ALICE, "2022-06-02T10:00:00", [_buy("2022-06-01", "100", "148.71", "3960")])
    (folder / name).write_bytes(data)
    assert ingest_files([folder], engine=engine, max_bytes=5_000_000).stored == 1

    # The ingest rebuilt it already (the dashboard had been opened): the next view reads it as stored.
    (fingerprint, built) = _stored(engine)[AAPL_CIK]
    assert fingerprint != old_fingerprint
    assert built > old_built
    after = _api(client)
    assert _stored(engine)[AAPL_CIK] == (fingerprint, built)
    assert "2022-06-01" in _buy_dates(after)
    alice = next(r for r in after["roster"] if r["owner_cik"] == ALICE.cik)
    assert alice["last_trade_date"] == "2022-06-01"


def test_an_ingest_builds_the_snapshots_of_the_default_screeners_companies(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    # Nobody opened these dashboards: the one with a purchase filed in the screener's last 30 days is
    # built by the ingest (its readers open it next), the one with only an old purchase is not.
    today = datetime.now(UTC).date()
    recent = _filing(
        1,
        ALICE,
        f"{today.isoformat()}T10:00:00",
        [_buy(str(today), "100", "20.00", "1100")],
        issuer="0000888881",
        ticker="RCNT",
        name="RECENT CO",
    )
    old = _filing(
        2,
        ALICE,
        "2019-03-05T10:00:00",
        [_buy("2019-03-04", "100", "20.00", "1000")],
        issuer="0000888882",
        ticker="OLDC",
        name="OLD CO",
    )
    folder = tmp_path / "screener"
    folder.mkdir()
    for name, data in (recent, old):
        (folder / name).write_bytes(data)
    assert ingest_files([folder], engine=engine, max_bytes=5_000_000).stored == 2
    assert set(_stored(engine)) == {"0000888881"}
    (fingerprint, built) = _stored(engine)["0000888881"]
    page = _api(client, "RCNT")
    assert _stored(engine)["0000888881"] == (fingerprint, built)  # read as stored
    assert _buy_dates(page) == [str(today)]
    assert [r["trade_date"] for r in page["purchases"]] == [str(today)]


def test_new_bars_or_splits_outdate_the_snapshot(engine: Engine, client: TestClient) -> None:
    closes = _api(client)["series"]["close"]
    (old_fingerprint, _) = _stored(engine)[AAPL_CIK]

    # A bar written straight to the table (no series state change): its count and last date tell.
    with session_scope(engine) as s:
        prices_repo.upsert_bars(
            s,
            [
                {
                    "ticker": "AAPL",
                    "bar_date": date(2024, 1, 2),
                    "open": Decimal("187.15"),
                    "high": Decimal("188.44"),
                    "low": Decimal("183.89"),
                    "close": Decimal("185.64"),
                    "adj_close": Decimal("185.64"),
                    "volume": 82488700,
                }
            ],
        )
    page = _api(client)
    assert page["series"]["dates"][-1] == "2024-01-02"
    assert len(page["series"]["close"]) == len(closes) + 1
    (fingerprint, _) = _stored(engine)[AAPL_CIK]
    assert fingerprint != old_fingerprint

    # A split on a date before the first bar changes no bar but every marker's basis.
    y_before = {m["accession"]: m["y"] for m in page["markers"]["trades"] if m["kind"] == "buy"}
    with session_scope(engine) as s:
        prices_repo.upsert_splits(s, "AAPL", [(date(2024, 1, 3), Decimal(2))])
    page = _api(client)
    y_after = {m["accession"]: m["y"] for m in page["markers"]["trades"] if m["kind"] == "buy"}
    assert y_after.keys() == y_before.keys()
    assert all(y_after[a] == pytest.approx(y_before[a] / 2, abs=1e-4) for a in y_before if y_before[a])
    assert _stored(engine)[AAPL_CIK][0] != fingerprint


def test_the_refresh_after_a_price_job_rebuilds_only_outdated_snapshots(
    engine: Engine, client: TestClient
) -> None:
    _api(client)
    _api(client, "NOPX")
    assert refresh_dashboards(engine) == 0  # both current
    with session_scope(engine) as s:
        prices_repo.upsert_splits(s, "AAPL", [(date(2024, 1, 3), Decimal(2))])
    assert refresh_dashboards(engine) == 1  # AAPL only: NOPX has no prices
    assert refresh_dashboards(engine) == 0


def test_a_snapshot_that_cannot_be_stored_does_not_break_the_page(engine: Engine, client: TestClient) -> None:
    # A read-only transaction (a replica, a locked or read-only SQLite file) refuses the write.
    read_only = (
        "SET TRANSACTION READ ONLY" if engine.dialect.name == "postgresql" else "PRAGMA query_only = ON"
    )
    with session_scope(engine) as s:
        s.execute(text(read_only))
        try:
            view = ticker_page_service.build_ticker_page(s, "AAPL", now=datetime(2022, 6, 1, 15, tzinfo=UTC))
        finally:
            if engine.dialect.name == "sqlite":  # a connection setting: the pool would keep it
                s.execute(text("PRAGMA query_only = OFF"))
    assert view.page.header.ticker == "AAPL"
    assert view.has_series
    assert view.page.roster
    assert view.page.period_start == date(2021, 6, 1)
    assert _stored(engine) == {}
    _api(client)
    assert set(_stored(engine)) == {AAPL_CIK}
