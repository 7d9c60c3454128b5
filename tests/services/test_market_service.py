"""Market pulse on SQLite and PostgreSQL: a small set of filings written for the tests, ingested through the
real path, with the buy/sell pair ratios worked out by hand (weekly, monthly, CEO-only, discretionary)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from app.db import session_scope
from app.ingest.files import ingest_files
from app.models import Issuer
from app.schemas.market import MarketFilters, MarketFreq
from app.services import market as market_service
from tests.conftest import truncate_all
from tests.factories import Doc, Owner, Tx, form4_xml, submission_txt

X, Y = "0000001111", "0000002222"
ALICE = Owner("0000000201", "ALICE A", officer=True, title="President and CEO")
BOB = Owner("0000000202", "BOB B", director=True)
CAROL = Owner("0000000203", "CAROL C", officer=True, title="Chief Financial Officer")
DAVE = Owner("0000000204", "DAVE D", director=True)


def _filing(n: int, owner: Owner, issuer: str, txs: list[Tx], *, plan: str = "0") -> tuple[str, bytes]:
    accession = f"{owner.cik}-24-{n:06d}"
    doc = Doc(
        issuer_cik=issuer,
        issuer_name=f"ISSUER {issuer[-4:]}",
        ticker="XXXX" if issuer == X else "YYYY",
        owners=[owner],
        transactions=txs,
        period=txs[0].trade_date,
        aff10b5one=plan,
    )
    day = txs[0].trade_date
    return f"{accession}.txt", submission_txt(
        form4_xml(doc), accession=accession, accepted_at_et=f"{day}T18:00:00"
    )


def _sale(day: str, shares: str, price: str, **kw: object) -> Tx:
    return Tx(
        code="S", acquired_disposed="D", trade_date=day, shares=shares, price=price, after="100000", **kw
    )  # type: ignore[arg-type]


# Week of Mon 2024-03-04: buyers ALICE-X (two rows, one pair) and BOB-X; sellers CAROL-X (10b5-1 plan)
# and DAVE-Y. Not counted: DAVE's code-F tax withholding and a derivative-table sale.
# Week of Mon 2024-03-11: BOB-X buys again; ALICE-X sells (a CEO sale).
FILINGS = [
    _filing(
        1, ALICE, X, [Tx(trade_date="2024-03-04", shares="1000"), Tx(trade_date="2024-03-04", shares="500")]
    ),
    _filing(2, BOB, X, [Tx(trade_date="2024-03-05", shares="2000", price="10.50")]),
    _filing(3, CAROL, X, [_sale("2024-03-06", "300", "12.00")], plan="1"),
    _filing(4, DAVE, Y, [_sale("2024-03-07", "1000", "20.00")]),
    _filing(5, DAVE, Y, [Tx(code="F", acquired_disposed="D", trade_date="2024-03-07", shares="50")]),
    _filing(6, DAVE, Y, [_sale("2024-03-08", "10", "20.00", table="derivative")]),
    _filing(7, ALICE, X, [_sale("2024-03-12", "100", "11.00")]),
    _filing(8, BOB, X, [Tx(trade_date="2024-03-13", shares="100", price="11.00")]),
]
W1, W2, M = date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 1)


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    truncate_all(engine)
    folder = tmp_path_factory.mktemp("market")
    paths = []
    for name, data in FILINGS:
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    report = ingest_files(paths, engine=engine, max_bytes=5_000_000)
    assert report.rejected == 0, report.rejections
    with session_scope(engine, write=True) as s:  # what reference data would set
        s.execute(update(Issuer).where(Issuer.cik == X).values(sector="Technology"))
        s.execute(update(Issuer).where(Issuer.cik == Y).values(sector="Energy"))
    yield engine
    truncate_all(engine)


def _points(engine: Engine, **kw: object) -> dict[date, object]:
    with session_scope(engine) as s:
        page = market_service.build_market_page(s, MarketFilters(**kw), today=date(2024, 6, 1))
    return {p.period: p for p in page.view.points}


class TestMarketRatios:
    def test_weekly_pairs_buying_over_selling(self, loaded: Engine) -> None:
        points = _points(loaded, freq=MarketFreq.week)
        w1, w2 = points[W1], points[W2]
        # Week 1: pairs buying {ALICE-X, BOB-X} = 2; selling {CAROL-X, DAVE-Y} = 2 -> 2 / 2 = 1.0
        assert (w1.buy_pairs, w1.sell_pairs, w1.ratio) == (2, 2, 1.0)
        # Dollars: 1,500 × 10.00 + 2,000 × 10.50 = 36,000 bought; 300 × 12 + 1,000 × 20 = 23,600 sold.
        assert (w1.buy_value, w1.sell_value) == (36_000.0, 23_600.0)
        assert w1.dollar_ratio == pytest.approx(36_000 / 23_600, abs=1e-6)
        assert w1.net_purchase_ratio == 0.0  # (2 − 2) / (2 + 2)
        # CEO-only: ALICE bought, no CEO sold -> undefined, not infinite.
        assert (w1.ceo_buy_pairs, w1.ceo_sell_pairs, w1.ceo_ratio) == (1, 0, None)
        # Week 2: {BOB-X} buying ÷ {ALICE-X} selling = 1.0; CEO-only 0 ÷ 1 = 0.0.
        assert (w2.buy_pairs, w2.sell_pairs, w2.ratio) == (1, 1, 1.0)
        assert (w2.ceo_buy_pairs, w2.ceo_sell_pairs, w2.ceo_ratio) == (0, 1, 0.0)

    def test_monthly_counts_each_pair_once(self, loaded: Engine) -> None:
        m = _points(loaded, freq=MarketFreq.month)[M]
        # March: buying {ALICE-X, BOB-X} = 2 (BOB's second buy is the same pair); selling {CAROL-X,
        # DAVE-Y, ALICE-X} = 3 -> 2 / 3. Net purchase ratio (2 − 3) / (2 + 3) = −0.2.
        assert (m.buy_pairs, m.sell_pairs) == (2, 3)
        assert m.ratio == pytest.approx(2 / 3, abs=1e-6)
        assert m.net_purchase_ratio == pytest.approx(-0.2, abs=1e-9)
        # CEO-only: ALICE bought and sold X in March -> 1 / 1.
        assert (m.ceo_buy_pairs, m.ceo_sell_pairs, m.ceo_ratio) == (1, 1, 1.0)
        assert m.buy_value == 36_000.0 + 1_100.0

    def test_discretionary_drops_10b5_1_sales(self, loaded: Engine) -> None:
        w1 = _points(loaded, freq=MarketFreq.week, discretionary=True)[W1]
        # CAROL's plan sale goes: 2 buying ÷ 1 selling (DAVE-Y).
        assert (w1.buy_pairs, w1.sell_pairs, w1.ratio) == (2, 1, 2.0)
        m = _points(loaded, freq=MarketFreq.month, discretionary=True)[M]
        assert (m.sell_pairs, m.ratio) == (2, 1.0)

    def test_by_sector_latest_period(self, loaded: Engine) -> None:
        with session_scope(loaded) as s:
            page = market_service.build_market_page(s, MarketFilters(freq=MarketFreq.month))
        assert page.view.sector_period == M
        sectors = {r.sector: r for r in page.view.sectors}
        assert (sectors["Technology"].buy_pairs, sectors["Technology"].sell_pairs) == (2, 2)
        assert (sectors["Energy"].buy_pairs, sectors["Energy"].sell_pairs, sectors["Energy"].ratio) == (
            0,
            1,
            0.0,
        )

    def test_snapshot_serves_the_same_numbers_until_new_filings(self, loaded: Engine) -> None:
        live = _points(loaded, freq=MarketFreq.week)
        with session_scope(loaded, write=True) as s:
            market_service.refresh_snapshot(s)
        with session_scope(loaded) as s:
            page = market_service.build_market_page(s, MarketFilters(freq=MarketFreq.week))
        assert page.source == "snapshot"
        assert {p.period: p for p in page.view.points} == live

    def test_display_range_keeps_percentiles_from_all_history(self, loaded: Engine) -> None:
        points = _points(loaded, freq=MarketFreq.week, **{"from": W2})
        assert list(points) == [W2]


class TestSnapshotAge:
    # Last in the module: it adds a filing to the shared data.
    def test_young_snapshot_is_served_behind_new_filings(self, loaded: Engine, tmp_path: Path) -> None:
        with session_scope(loaded, write=True) as s:
            market_service.refresh_snapshot(s)
        name, data = _filing(9, DAVE, X, [Tx(trade_date="2024-03-14", shares="10", price="11.00")])
        (tmp_path / name).write_bytes(data)
        assert ingest_files([tmp_path / name], engine=loaded, max_bytes=5_000_000).rejected == 0
        with session_scope(loaded) as s:
            page = market_service.build_market_page(s, MarketFilters(freq=MarketFreq.week))
        assert page.source == "snapshot_behind"
        assert {p.period: p for p in page.view.points}[W2].buy_pairs == 1  # DAVE-X not in it yet
        with session_scope(loaded, write=True) as s:
            market_service.refresh_snapshot(s)
            page = market_service.build_market_page(s, MarketFilters(freq=MarketFreq.week))
        assert page.source == "snapshot"
        assert {p.period: p for p in page.view.points}[W2].buy_pairs == 2
