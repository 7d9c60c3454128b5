"""Performance service on SQLite and PostgreSQL: clusters made through the real ingest path, real AAPL,
SPY and (cut) NVDA prices imported from the shared CSVs; materialized returns equal the CSV arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import Cluster, ClusterReturn, IngestCheckpoint, PriceBar, StoredPerformanceView
from app.schemas.performance import RoleMix, ValueBucket
from app.services import performance as performance_service
from app.services import performance_refresh as performance_refresh_service
from tests.conftest import require_samples, truncate_all
from tests.perf_setup import (
    AAPL_CSV,
    NVDA_CSV,
    SPECS,
    SPY_CSV,
    XYZ_LAST_DAY,
    csv_rows,
    import_prices,
    ingest_specs,
)

HORIZON_DAYS = {"1w": 5, "1m": 21, "3m": 63, "6m": 126, "1y": 252}
TOL = 2e-6  # stored returns are rounded to 6 places


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Six clusters and the real prices, refreshed once; read-only tests share it per backend."""
    prices_dir = require_samples() / "prices"
    truncate_all(engine)
    folder = tmp_path_factory.mktemp("perf")
    ingest_specs(engine, folder, list(SPECS.values()))
    import_prices(engine, prices_dir, folder)
    with session_scope(engine, write=True) as session:
        performance_refresh_service.refresh(session)
    yield engine
    truncate_all(engine)


def _rows(engine: Engine, cluster_id: str) -> dict[str, ClusterReturn]:
    with session_scope(engine) as s:
        stmt = select(ClusterReturn).where(ClusterReturn.cluster_id == cluster_id)
        return {r.horizon: r for r in s.scalars(stmt)}


def _expected(stock_csv: Path, spy_csv: Path, entry: date, h: int) -> tuple[date, float, float]:
    """Exit date, stock and SPY returns from the CSV rows: adjusted open at entry, adjusted close at exit."""
    days, stock = csv_rows(stock_csv)
    _, spy = csv_rows(spy_csv)
    exit_day = days[days.index(entry) + h]
    s0, s1, b0, b1 = stock[entry], stock[exit_day], spy[entry], spy[exit_day]
    stock_ret = s1["adj"] / (s0["open"] * s0["adj"] / s0["close"]) - 1
    spy_ret = b1["adj"] / (b0["open"] * b0["adj"] / b0["close"]) - 1
    return exit_day, stock_ret, spy_ret


class TestMaterializedReturns:
    def test_after_close_trigger_enters_next_open_across_a_split(self, loaded: Engine) -> None:
        # A: accepted 2005-02-16 18:00 ET (after the close) -> entry at the open of 2005-02-17.
        # AAPL rows (split-adjusted CSV): 2005-02-17 open 1.618750 close 1.568036 adj 1.344379
        #   adjusted open = 1.618750 × 1.344379 / 1.568036 = 1.387887...
        # 21 sessions later (Presidents' Day skipped) is 2005-03-21: adj close 1.338102
        #   stock = 1.338102 / 1.387887 − 1 = −3.585 %
        # SPY 2005-02-17 open 121.230003 close 120.230003 adj 86.220848 -> adjusted open 86.937976...
        # The 2:1 split of 2005-02-28 sits inside the window: stored closes halve there, adjusted do not.
        adj_open = 1.618750 * 1.344379 / 1.568036
        assert 1.338102 / adj_open - 1 == pytest.approx(-0.035852, abs=TOL)
        rows = _rows(loaded, SPECS["A"].cluster_id)
        prices = require_samples() / "prices"
        for label, h in HORIZON_DAYS.items():
            exit_day, stock_ret, spy_ret = _expected(
                prices / AAPL_CSV, prices / SPY_CSV, date(2005, 2, 17), h
            )
            r = rows[label]
            assert (r.status, r.entry_date, r.exit_date) == ("done", date(2005, 2, 17), exit_day), label
            assert r.stock_return == pytest.approx(stock_ret, abs=TOL), label
            assert r.spy_return == pytest.approx(spy_ret, abs=TOL), label
            assert r.excess_return == pytest.approx(stock_ret - spy_ret, abs=2 * TOL), label
            assert float(r.entry_price) == pytest.approx(adj_open, abs=1e-6)
        assert rows["1m"].exit_date == date(2005, 3, 21)
        with session_scope(loaded) as s:
            raw = {
                b.bar_date: float(b.close)
                for b in s.scalars(
                    select(PriceBar).where(
                        PriceBar.ticker == "AAPL",
                        PriceBar.bar_date.in_([date(2005, 2, 25), date(2005, 2, 28)]),
                    )
                )
            }
        assert raw[date(2005, 2, 28)] < 0.6 * raw[date(2005, 2, 25)]  # the as-traded halving

    def test_after_early_close_before_holiday_enters_next_session(self, loaded: Engine) -> None:
        # B: accepted 14:00 on 2008-12-24 (13:00 early close), Christmas closed -> entry 2008-12-26 open.
        rows = _rows(loaded, SPECS["B"].cluster_id)
        prices = require_samples() / "prices"
        exit_day, stock_ret, spy_ret = _expected(prices / AAPL_CSV, prices / SPY_CSV, date(2008, 12, 26), 21)
        assert rows["1m"].entry_date == date(2008, 12, 26)
        assert rows["1m"].exit_date == exit_day == date(2009, 1, 28)
        assert rows["1m"].stock_return == pytest.approx(stock_ret, abs=TOL)
        assert rows["1m"].spy_return == pytest.approx(spy_ret, abs=TOL)

    def test_during_session_trigger_and_immature_horizons_are_open(self, loaded: Engine) -> None:
        # C: accepted 10:00 on 2012-08-20 (the session had opened) -> entry 2012-08-21 open.
        # AAPL 2012-08-21 open 23.957857 close 23.430714 adj 20.174925; 2012-08-28 adj 20.751213
        #   stock = 20.751213 / (23.957857 × 20.174925 / 23.430714) − 1
        # SPY 2012-08-21 open 142.539993 close 141.759995 adj 118.172752; 2012-08-28 adj 117.872597
        stock = 20.751213 / (23.957857 * 20.174925 / 23.430714) - 1
        spy = 117.872597 / (142.539993 * 118.172752 / 141.759995) - 1
        rows = _rows(loaded, SPECS["C"].cluster_id)
        w1 = rows["1w"]
        assert (w1.status, w1.entry_date, w1.exit_date) == ("done", date(2012, 8, 21), date(2012, 8, 28))
        assert w1.stock_return == pytest.approx(stock, abs=TOL)
        assert w1.spy_return == pytest.approx(spy, abs=TOL)
        # SPY's last bar is 2012-09-11 (as_of): 21 sessions after 2012-08-21 have not closed yet.
        for label in ("1m", "3m", "6m", "1y"):
            assert rows[label].status == "open"
            assert rows[label].stock_return is None

    def test_series_ending_early_is_counted_not_dropped(self, loaded: Engine) -> None:
        # D: Friday 19:00 -> Monday 2009-05-04 open; XYZ (NVDA rows) stops on 2009-06-30.
        rows = _rows(loaded, SPECS["D"].cluster_id)
        prices = require_samples() / "prices"
        _, nvda = csv_rows(prices / NVDA_CSV)
        assert rows["1m"].status == "done"
        for label in ("3m", "6m", "1y"):
            r = rows[label]
            assert (r.status, r.exit_date) == ("ended_early", XYZ_LAST_DAY)
            e, last = nvda[date(2009, 5, 4)], nvda[XYZ_LAST_DAY]
            assert r.stock_return == pytest.approx(
                last["adj"] / (e["open"] * e["adj"] / e["close"]) - 1, abs=TOL
            )
        with session_scope(loaded) as s:
            page = performance_service.build_performance_page(s, performance_service.PerformanceFilters())
        by_h = {x.horizon: x for x in page.view.summaries}
        assert by_h["3m"].n_ended_early == 1
        assert by_h["1m"].n_open == 1
        assert by_h["1w"].n == 4

    def test_clusters_without_ticker_or_prices_are_reported(self, loaded: Engine) -> None:
        assert _rows(loaded, SPECS["E"].cluster_id) == {}
        assert _rows(loaded, SPECS["F"].cluster_id) == {}
        with session_scope(loaded) as s:
            cov = performance_service.build_performance_page(
                s, performance_service.PerformanceFilters()
            ).view.coverage
        assert (cov.clusters, cov.with_returns, cov.no_ticker, cov.no_prices) == (6, 4, 1, 1)
        assert cov.as_of == date(2012, 9, 11)

    def test_returns_for_clusters_for_other_pages(self, loaded: Engine) -> None:
        ids = [SPECS["C"].cluster_id, SPECS["F"].cluster_id, "0000000000-2001-01-01"]
        with session_scope(loaded) as s:
            out = performance_service.returns_for_clusters(s, ids)
        assert list(out) == ids
        assert [r.horizon for r in out[ids[0]]] == ["1w", "1m", "3m", "6m", "1y"]
        assert out[ids[0]][0].status == "done"
        assert out[ids[0]][0].days == 5
        assert out[ids[1]] == []
        assert out[ids[2]] == []

    def test_insider_return_starts_at_last_trade_close(self, loaded: Engine) -> None:
        # The insider's (not achievable) return: adjusted close of 2005-02-14 to the 21st session after.
        prices = require_samples() / "prices"
        days, aapl = csv_rows(prices / AAPL_CSV)
        _, spy = csv_rows(prices / SPY_CSV)
        start = date(2005, 2, 14)
        end = days[days.index(start) + 21]
        expected = (aapl[end]["adj"] / aapl[start]["adj"] - 1) - (spy[end]["adj"] / spy[start]["adj"] - 1)
        with session_scope(loaded) as s:
            page = performance_service.build_performance_page(
                s, performance_service.PerformanceFilters(to=date(2005, 12, 31))
            )
        m1 = next(x for x in page.view.insider if x.horizon == "1m")
        assert m1.n == 1
        assert m1.mean == pytest.approx(expected, abs=2 * TOL)


class TestStoredViews:
    def test_refresh_stores_each_view_in_performance_view(self, loaded: Engine) -> None:
        with session_scope(loaded) as s:
            views = {v.key: v for v in s.scalars(select(StoredPerformanceView))}
            checkpoints = set(s.scalars(select(IngestCheckpoint.name)))
            n, newest = s.execute(select(func.count(), func.max(ClusterReturn.computed_at))).one()
        roles = {f"role={r.value}" for r in RoleMix if r is not RoleMix.any}
        values = {f"value={v.value}" for v in ValueBucket if v is not ValueBucket.any}
        assert set(views) == {"all"} | roles | values
        assert not any(name.startswith("performance.view") for name in checkpoints)
        whole = views["all"]
        assert (whole.rule_n, whole.rule_w, whole.params) == (3, 14, {})
        assert views["role=ceo_cfo"].params == {"role": "ceo_cfo"}
        assert views["value=under_100k"].params == {"value": "under_100k"}
        assert whole.data_through == date(2012, 9, 11)
        assert (whole.returns_count, whole.returns_computed_at) == (n, newest)
        assert whole.computed_at.tzinfo is not None
        assert whole.payload["coverage"]["with_returns"] == 4

    def test_page_serves_the_stored_view_until_returns_change(self, loaded: Engine) -> None:
        conn = loaded.connect()
        outer = conn.begin()  # rolled back: the module's data stays as loaded
        s = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            stored = s.scalars(select(StoredPerformanceView).where(StoredPerformanceView.key == "all")).one()
            payload = dict(stored.payload, histograms=[])  # a mark only the stored document carries
            s.execute(
                update(StoredPerformanceView)
                .where(StoredPerformanceView.key == "all")
                .values(payload=payload)
            )
            filters = performance_service.PerformanceFilters()
            assert performance_service.build_performance_page(s, filters).view.histograms == []
            # One cluster's returns gone: the stored view is stale and the page is computed again.
            s.execute(delete(ClusterReturn).where(ClusterReturn.cluster_id == SPECS["A"].cluster_id))
            page = performance_service.build_performance_page(s, filters)
            assert page.view.histograms != []
            assert page.view.coverage.with_returns == 3
        finally:
            s.close()
            outer.rollback()
            conn.close()


class TestIncrementalRefresh:
    def test_touches_only_what_changed(self, clean_engine: Engine, tmp_path: Path) -> None:
        prices_dir = require_samples() / "prices"
        ingest_specs(clean_engine, tmp_path, [SPECS["A"], SPECS["C"], SPECS["D"]])
        import_prices(clean_engine, prices_dir, tmp_path)
        a, c, _d = SPECS["A"].cluster_id, SPECS["C"].cluster_id, SPECS["D"].cluster_id
        t0 = datetime.now(UTC) + timedelta(seconds=1)  # after the clusters were materialized

        # as_of cut to 2012-08-24: C's 1w window (exit 2012-08-28) is still open.
        with session_scope(clean_engine, write=True) as s:
            first = performance_refresh_service.refresh(s, today=date(2012, 8, 24), now=t0)
        assert (first.as_of, first.computed, dict(first.reasons)) == (date(2012, 8, 24), 3, {"missing": 3})
        assert _rows(clean_engine, c)["1w"].status == "open"

        # Nothing changed but as_of moved on: only clusters with rows not final (C open, D ended early).
        t1 = t0 + timedelta(days=1)
        with session_scope(clean_engine, write=True) as s:
            second = performance_refresh_service.refresh(s, now=t1)
        assert dict(second.reasons) == {"not_final": 2}
        assert (second.computed, second.unchanged) == (2, 1)
        assert _rows(clean_engine, c)["1w"].status == "done"
        assert {r.computed_at for r in _rows(clean_engine, a).values()} == {t0}
        assert {r.computed_at for r in _rows(clean_engine, c).values()} == {t1}

        # A corrected bar inside A's 1m window (its exit close) makes exactly A stale.
        with session_scope(clean_engine, write=True) as s:
            s.execute(
                update(PriceBar)
                .where(PriceBar.ticker == "AAPL", PriceBar.bar_date == date(2005, 3, 21))
                .values(adj_close=PriceBar.adj_close * 1.01)
            )
        t2 = t1 + timedelta(days=1)
        with session_scope(clean_engine, write=True) as s:
            third = performance_refresh_service.refresh(s, now=t2)
        assert dict(third.reasons) == {"prices_changed": 1, "not_final": 2}
        assert {r.computed_at for r in _rows(clean_engine, a).values()} == {t2}

        # A re-materialized cluster (updated_at after computed_at) is measured again.
        with session_scope(clean_engine, write=True) as s:
            s.execute(update(Cluster).where(Cluster.id == a).values(updated_at=t2 + timedelta(hours=1)))
        with session_scope(clean_engine, write=True) as s:
            fourth = performance_refresh_service.refresh(s, now=t2 + timedelta(days=1))
        assert fourth.reasons["cluster_updated"] == 1

        # --all recomputes everything.
        with session_scope(clean_engine, write=True) as s:
            full = performance_refresh_service.recompute_all(s, now=t2 + timedelta(days=2))
        assert (full.computed, dict(full.reasons)) == (3, {"full": 3})

    def test_no_spy_prices_is_reported(self, clean_engine: Engine, tmp_path: Path) -> None:
        ingest_specs(clean_engine, tmp_path, [SPECS["A"]])
        with session_scope(clean_engine, write=True) as s:
            report = performance_refresh_service.refresh(s)
        assert report.error
        assert "SPY" in report.error
        assert report.computed == 0
