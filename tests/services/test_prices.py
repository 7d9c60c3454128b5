"""Price service on SQLite and PostgreSQL: real CSV imports (service and CLI), refresh against a scripted
source (incremental, whole refetch after a split or dividend, failures), chart basis and freshness."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.analytics import market_calendar
from app.config import get_settings
from app.ingest import form4_parser
from app.ingest.store import store_filing
from app.models import PriceBar
from app.prices.yfinance_source import STANDARD_COLUMNS, PriceFetch, PriceSourceError
from app.repositories import prices as prices_repo
from app.services import price_refresh
from app.services.price_refresh import RefreshResult, refresh_for_scheduler, refresh_many, refresh_ticker
from app.services.prices import (
    chart_frame,
    import_csv,
    parse_splits,
    price_freshness,
    price_status,
    series_for_chart,
    split_factor_after,
    to_chart_basis,
)
from tests.factories import Owner, purchase_filing
from tests.prices.test_yfinance_source import ticker_history_frame, yf_empty_df

AAPL_2018 = "InsidersTradeMonitor__AAPL.daily.2018-2023.with-derived-cols.csv"
AAPL_2000 = "ml4t-Bill0412__AAPL.daily.2000-2012.csv"
NVDA = "ml4t-Drookoo__NVDA.daily.1999-01-22-2017-10-31.csv"
# AAPL's splits (ex-dates): 2:1 in 2000 and 2005, 7:1 in 2014, 4:1 in 2020.
AAPL_SPLITS = parse_splits("2020-08-31:4,2014-06-09:7,2005-02-28:2,2000-06-21:2")
D = Decimal


def csv_rows(path: Path) -> dict[date, dict[str, str]]:
    """The CSV's own text per date (read with the csv module, never through the importer)."""
    out: dict[date, dict[str, str]] = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            text = r["Date"]
            if "/" in text:
                m, d, y = text.split("/")
                day = date(int(y), int(m), int(d))
            else:
                day = date.fromisoformat(text)
            out[day] = r
    return out


def stored(session: Session, ticker: str) -> dict[date, PriceBar]:
    rows = session.scalars(select(PriceBar).where(PriceBar.ticker == ticker)).all()
    return {r.bar_date: r for r in rows}


def bar_count(session: Session, ticker: str) -> int:
    return session.scalar(select(func.count()).select_from(PriceBar).where(PriceBar.ticker == ticker)) or 0


# --- CSV import -----------------------------------------------------------------------------------------


class TestImportCsv:
    def test_aapl_2018_stored_as_traded_and_charted_exactly_as_the_csv(
        self, db_session: Session, samples_dir: Path
    ) -> None:
        path = samples_dir / "prices" / AAPL_2018
        report = import_csv(db_session, path, "aapl", AAPL_SPLITS)
        assert (report.ticker, report.bars, report.rows_dropped) == ("AAPL", 1259, 0)
        assert (report.first_date, report.last_date) == (date(2018, 4, 16), date(2023, 4, 14))
        # Yahoo's CSV closes do not jump at 2020-08-31: the file is split-adjusted.
        assert report.basis == "split_adjusted"
        assert report.basis_checked_at == [date(2020, 8, 31)]

        raw = csv_rows(path)
        bars = stored(db_session, "AAPL")
        assert len(bars) == 1259
        # 8/28/2020,126.012497,126.442497,124.577499,124.807503,122.926956,187630000: as traded ×4.
        b = bars[date(2020, 8, 28)]
        assert b.close == D(raw[date(2020, 8, 28)]["Close"]) * 4 == D("499.230012")
        assert b.open == D("504.049988")
        assert b.adj_close == D("122.926956")  # the adjusted close is kept as the source gave it
        assert b.volume == 187630000 // 4
        # On and after the ex-date the CSV is already as traded.
        assert bars[date(2020, 8, 31)].close == D("129.039993")
        assert bars[date(2018, 4, 16)].close == D("175.820008")  # 43.955002 × 4

        chart = {c.bar_date: c for c in series_for_chart(db_session, "AAPL")}
        for day in (
            date(2018, 4, 16),
            date(2019, 6, 3),
            date(2020, 8, 28),
            date(2020, 8, 31),
            date(2023, 4, 14),
        ):
            row, c = raw[day], chart[day]
            assert (c.open, c.high, c.low, c.close) == tuple(
                D(row[k]) for k in ("Open", "High", "Low", "Close")
            )
            assert c.adj_close == D(row["Adj Close"])
            assert c.volume == int(row["Volume"])

        state = prices_repo.get_state(db_session, "AAPL")
        assert state is not None
        assert (state.source, state.first_bar_date, state.last_bar_date, state.last_error) == (
            "csv",
            date(2018, 4, 16),
            date(2023, 4, 14),
            None,
        )
        assert [(d, r) for d, r in prices_repo.splits(db_session, "AAPL")] == AAPL_SPLITS

    def test_aapl_2000_file_detects_its_two_in_range_splits(
        self, db_session: Session, samples_dir: Path
    ) -> None:
        path = samples_dir / "prices" / AAPL_2000
        report = import_csv(db_session, path, "AAPL", AAPL_SPLITS)
        assert report.basis == "split_adjusted"
        assert report.basis_checked_at == [date(2000, 6, 21), date(2005, 2, 28)]
        bars = stored(db_session, "AAPL")
        # 2000-02-01,0.928571,0.937500,0.892857,0.895089,0.767418,318035200 — all four splits later: ×112.
        assert bars[date(2000, 2, 1)].close == D("0.895089") * 112 == D("100.249968")
        assert bars[date(2000, 2, 1)].volume == 318035200 // 112
        # 2005-02-25 (before the 2005 split: ×56) and 2005-02-28 (its ex-date: ×28).
        assert bars[date(2005, 2, 25)].close == D("1.589107") * 56
        assert bars[date(2005, 2, 28)].close == D("1.602143") * 28
        chart = {c.bar_date: c.close for c in series_for_chart(db_session, "AAPL")}
        assert chart[date(2000, 2, 1)] == D("0.895089")
        assert chart[date(2005, 2, 28)] == D("1.602143")

    def test_reimport_changes_nothing(self, db_session: Session, samples_dir: Path) -> None:
        path = samples_dir / "prices" / AAPL_2018
        import_csv(db_session, path, "AAPL", AAPL_SPLITS)
        before = {d: (b.open, b.close, b.adj_close, b.volume) for d, b in stored(db_session, "AAPL").items()}
        import_csv(db_session, path, "AAPL", AAPL_SPLITS)
        db_session.expire_all()
        after = {d: (b.open, b.close, b.adj_close, b.volume) for d, b in stored(db_session, "AAPL").items()}
        assert after == before

    def test_as_traded_csv_is_detected_and_stored_unchanged(self, db_session: Session) -> None:
        data = (
            b"Date,Open,High,Low,Close,Volume\n"
            b"2024-06-06,99,101,98,100,1000\n"
            b"2024-06-07,100,103,99,102,1200\n"
            b"2024-06-10,25,26.5,24.5,26,8000\n"  # the 4:1 ex-date: the as-traded close drops to a quarter
        )
        report = import_csv(db_session, data, "TTT", parse_splits("2024-06-10:4"))
        assert report.basis == "as_traded"
        bars = stored(db_session, "TTT")
        assert [bars[d].close for d in sorted(bars)] == [D(100), D(102), D(26)]
        chart = series_for_chart(db_session, "TTT")
        assert [c.close for c in chart] == [D(25), D("25.5"), D(26)]
        assert [c.volume for c in chart] == [4000, 4800, 8000]

    def test_replace_drops_bars_the_file_lacks(self, db_session: Session) -> None:
        import_csv(db_session, b"Date,Open,High,Low,Close\n2024-06-06,1,1,1,1\n2024-06-07,2,2,2,2\n", "TTT")
        import_csv(db_session, b"Date,Open,High,Low,Close\n2024-06-07,3,3,3,3\n", "TTT", replace=True)
        assert {d: b.close for d, b in stored(db_session, "TTT").items()} == {date(2024, 6, 7): D(3)}

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            pytest.param(b"a,b\n1,2\n", "missing the 'date'", id="no-price-columns"),
            pytest.param(b"Date,Open,High,Low,Close\nx,1,1,1,0\n", "no row", id="no-usable-row"),
        ],
    )
    def test_bad_csv_raises_value_error_and_stores_nothing(
        self, db_session: Session, data: bytes, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            import_csv(db_session, data, "TTT")
        assert bar_count(db_session, "TTT") == 0
        assert prices_repo.get_state(db_session, "TTT") is None


class TestImportPricesCli:
    @pytest.fixture
    def cli_env(self, db_url: str, clean_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
        monkeypatch.setenv("DATABASE_URL", db_url)
        get_settings.cache_clear()
        yield clean_engine
        get_settings.cache_clear()

    def test_imports_a_real_csv(self, cli_env: Engine, samples_dir: Path) -> None:
        from app.cli import cli

        path = samples_dir / "prices" / NVDA
        result = CliRunner().invoke(cli, ["import-prices", str(path), "--ticker", "nvda"])
        assert result.exit_code == 0, result.output
        assert "NVDA: stored 4726 bars 1999-01-22 → 2017-10-31" in " ".join(result.output.split())
        raw = csv_rows(path)
        with Session(cli_env) as session:
            bars = stored(session, "NVDA")
            assert len(bars) == 4726
            # No splits given: the file's figures are stored as they are.
            for day in (date(1999, 1, 22), date(2007, 9, 11), date(2017, 10, 31)):
                assert bars[day].close == D(raw[day]["Close"])
                assert bars[day].adj_close == D(raw[day]["Adj Close"])
                assert bars[day].volume == int(raw[day]["Volume"])

    def test_splits_option_reaches_the_chart_basis(self, cli_env: Engine, samples_dir: Path) -> None:
        from app.cli import cli

        path = samples_dir / "prices" / AAPL_2018
        args = ["import-prices", str(path), "--ticker", "AAPL", "--splits", "2020-08-31:4,2014-06-09:7"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "split-adjusted (detected at 2020-08-31)" in " ".join(result.output.split())
        with Session(cli_env) as session:
            assert stored(session, "AAPL")[date(2020, 8, 28)].close == D("499.230012")

    @pytest.mark.parametrize(
        ("content", "extra", "message"),
        [
            pytest.param(b"a,b\n1,2\n", [], "missing the 'date'", id="bad-header"),
            pytest.param(b"\xff\xfe\x00garbage", [], "cannot import", id="binary"),
            pytest.param(
                b"Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n",
                ["--splits", "soon:4"],
                "bad split",
                id="bad-splits",
            ),
        ],
    )
    def test_bad_input_is_a_clear_error_without_traceback(
        self, cli_env: Engine, tmp_path: Path, content: bytes, extra: list[str], message: str
    ) -> None:
        from app.cli import cli

        path = tmp_path / "prices.csv"
        path.write_bytes(content)
        result = CliRunner().invoke(cli, ["import-prices", str(path), "--ticker", "TTT", *extra])
        assert result.exit_code == 1
        assert message in " ".join(result.output.split())
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)
        with Session(cli_env) as session:
            assert bar_count(session, "TTT") == 0

    def test_missing_file(self, cli_env: Engine, tmp_path: Path) -> None:
        from app.cli import cli

        result = CliRunner().invoke(cli, ["import-prices", str(tmp_path / "none.csv"), "--ticker", "TTT"])
        assert result.exit_code == 1
        assert "no such file" in result.output


class TestPricesRefreshCli:
    @pytest.fixture
    def cli_env(self, db_url: str, clean_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
        monkeypatch.setenv("DATABASE_URL", db_url)
        get_settings.cache_clear()
        yield clean_engine
        get_settings.cache_clear()

    @pytest.fixture
    def fake_yahoo_ticker(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Stand in for yfinance.Ticker through the real adapter: AAA has bars, anything else is unknown."""
        asked: list[str] = []

        class Ticker:
            def __init__(self, symbol: str) -> None:
                self.symbol = symbol

            def history(self, **_: object) -> pd.DataFrame:
                asked.append(self.symbol)
                if self.symbol == "AAA":
                    return ticker_history_frame()
                logging.getLogger("yfinance").error(f"${self.symbol}: possibly delisted; no price data found")
                return yf_empty_df()

        monkeypatch.setattr("yfinance.Ticker", Ticker)
        return asked

    def test_refresh_named_tickers(self, cli_env: Engine, fake_yahoo_ticker: list[str]) -> None:
        from app.cli import cli

        result = CliRunner().invoke(cli, ["prices", "refresh", "aaa", "NOPE", "--pause", "0"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert "created 1, failed 1" in text
        assert "possibly delisted" in text
        assert fake_yahoo_ticker == ["AAA", "NOPE"]
        with Session(cli_env) as session:
            # Yahoo's split-adjusted 2020-08-28 close, back to as traded across the 4:1 split.
            assert stored(session, "AAA")[date(2020, 8, 28)].close == D("499.230012")
            assert prices_repo.splits(session, "AAA") == [(date(2020, 8, 31), D(4))]
            state = prices_repo.get_state(session, "NOPE")
            assert state is not None
            assert "possibly delisted" in (state.last_error or "")

    def test_default_tickers_include_spy_and_all_failed_exits_1(
        self, cli_env: Engine, fake_yahoo_ticker: list[str]
    ) -> None:
        from app.cli import cli

        result = CliRunner().invoke(cli, ["prices", "refresh", "--pause", "0"])
        assert result.exit_code == 1
        assert fake_yahoo_ticker == ["SPY"]  # no purchases stored: the benchmark alone


# --- chart basis ----------------------------------------------------------------------------------------


class TestChartBasis:
    @pytest.mark.parametrize(
        ("trade_date", "factor"),
        [
            pytest.param(date(2000, 6, 20), D(112), id="before-all-four"),
            pytest.param(date(2000, 6, 21), D(56), id="2000-ex-date"),
            pytest.param(date(2005, 2, 25), D(56), id="day-before-2005"),
            pytest.param(date(2005, 2, 28), D(28), id="2005-ex-date"),
            pytest.param(date(2014, 6, 6), D(28), id="day-before-2014"),
            pytest.param(date(2014, 6, 9), D(4), id="2014-ex-date"),
            pytest.param(date(2019, 6, 3), D(4), id="2019"),
            pytest.param(date(2020, 8, 28), D(4), id="day-before-2020"),
            pytest.param(date(2020, 8, 31), D(1), id="2020-ex-date"),
            pytest.param(date(2024, 1, 2), D(1), id="after-all"),
        ],
    )
    def test_split_factor_after_real_aapl_splits(self, trade_date: date, factor: Decimal) -> None:
        assert split_factor_after(AAPL_SPLITS, trade_date) == factor

    def test_2019_trade_at_200_sits_at_50(self) -> None:
        assert to_chart_basis(D("200"), date(2019, 6, 3), AAPL_SPLITS) == D("50")
        assert to_chart_basis(D("200.00"), date(2020, 8, 31), AAPL_SPLITS) == D("200.00")
        assert to_chart_basis(D("100"), date(2005, 2, 25), AAPL_SPLITS) == D("1.785714")  # 100 / 56

    def test_a_trade_at_the_days_as_traded_close_lands_on_the_chart_line(
        self, db_session: Session, samples_dir: Path
    ) -> None:
        import_csv(db_session, samples_dir / "prices" / AAPL_2018, "AAPL", AAPL_SPLITS)
        splits = prices_repo.splits(db_session, "AAPL")
        chart = {c.bar_date: c.close for c in series_for_chart(db_session, "AAPL")}
        for day in (date(2019, 6, 3), date(2020, 8, 28), date(2020, 8, 31), date(2022, 1, 3)):
            filed = stored(db_session, "AAPL")[day].close  # what an insider filed that day, as traded
            assert to_chart_basis(filed, day, splits) == chart[day]

    def test_chart_frame_is_the_float_twin_of_series_for_chart(
        self, db_session: Session, samples_dir: Path
    ) -> None:
        import_csv(db_session, samples_dir / "prices" / AAPL_2000, "AAPL", AAPL_SPLITS)
        start, end = date(2000, 6, 1), date(2005, 3, 31)
        frame = chart_frame(db_session, "AAPL", start, end)
        exact = series_for_chart(db_session, "AAPL", start, end)
        assert [d.date() for d in frame.index] == [c.bar_date for c in exact]
        for col in ("open", "high", "low", "close", "adj_close", "volume"):
            expected = [float(getattr(c, col)) for c in exact]
            assert frame[col].tolist() == pytest.approx(expected, rel=1e-9)
        assert frame.loc["2000-06-20", "close"] == pytest.approx(0.904018)  # the CSV's own figure

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2020-08-31:4", [(date(2020, 8, 31), D(4))]),
            ("2021-05-03:3/2, 2020-08-31:4:1", [(date(2020, 8, 31), D(4)), (date(2021, 5, 3), D("1.5"))]),
            ("2019-01-02:1/10", [(date(2019, 1, 2), D("0.1"))]),
            ("", []),
        ],
    )
    def test_parse_splits(self, text: str, expected: list[tuple[date, Decimal]]) -> None:
        assert parse_splits(text) == expected

    @pytest.mark.parametrize("text", ["2020-08-31", "2020-08-31:0", "2020-08-31:1", "2020-02-30:2", "x:4"])
    def test_parse_splits_rejects(self, text: str) -> None:
        with pytest.raises(ValueError, match="split"):
            parse_splits(text)


# --- refresh --------------------------------------------------------------------------------------------

SESSIONS = market_calendar.sessions_between(date(2024, 1, 2), date(2024, 12, 31))


@dataclass
class FakeYahoo:
    """A scripted price source: an as-traded world served the way Yahoo serves it.

    Closes come back split-adjusted for every split so far and Adj Close also dividend-adjusted (the
    multiplicative factor Yahoo uses), with the actions inside the requested window.
    """

    n: int = 40  # sessions available so far
    splits: dict[date, Decimal] = field(default_factory=dict)
    dividends: dict[date, float] = field(default_factory=dict)
    adj_override: dict[date, float] = field(default_factory=dict)
    fail: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, date | None]] = field(default_factory=list)

    def raw_close(self, i: int) -> float:
        factor = 1.0
        for ex, ratio in self.splits.items():
            if SESSIONS[i] >= ex:
                factor /= float(ratio)
        return round((100 + 0.5 * i) * factor, 4)

    @property
    def last_day(self) -> date:
        return SESSIONS[self.n - 1]

    def __call__(self, ticker: str, start: date | None) -> PriceFetch:
        self.calls.append((ticker, start))
        if ticker in self.fail:
            raise self.fail[ticker]
        days = SESSIONS[: self.n]
        split_f = [float(split_factor_after(self.splits.items(), d)) for d in days]
        close = [self.raw_close(i) / split_f[i] for i in range(self.n)]
        adj = []
        for i, d in enumerate(days):
            f = 1.0
            for ex, amount in self.dividends.items():
                if ex > d and ex <= self.last_day:
                    prev = close[days.index(ex) - 1]
                    f *= 1 - amount / prev
            adj.append(self.adj_override.get(d, close[i] * f))
        frame = pd.DataFrame(
            {
                "open": [c - 0.25 for c in close],
                "high": [c + 1 for c in close],
                "low": [c - 1 for c in close],
                "close": close,
                "adj_close": adj,
                "volume": [float((1_000_000 + i) * split_f[i]) for i in range(self.n)],
            },
            index=pd.DatetimeIndex(pd.to_datetime(days), name="date"),
        )[list(STANDARD_COLUMNS)]
        lo = pd.Timestamp(start) if start else frame.index[0]
        frame = frame.loc[frame.index >= lo]
        window = [d for d in days if d >= lo.date()]
        return PriceFetch(
            bars=frame,
            splits=sorted((d, r) for d, r in self.splits.items() if d in window),
            dividends=sorted((d, Decimal(str(a))) for d, a in self.dividends.items() if d in window),
        )


def evening(day: date) -> datetime:
    """18:00 New York on `day`: after the close, when the scheduled refresh runs."""
    return datetime.combine(day, time(18, 0), tzinfo=market_calendar.ET).astimezone(UTC)


def run(session: Session, yahoo: FakeYahoo, ticker: str = "ZZZ") -> RefreshResult:
    day = yahoo.last_day
    return refresh_ticker(session, ticker, source=yahoo, today=day, now=evening(day))


class TestRefresh:
    def test_first_refresh_fetches_the_whole_history(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        result = run(db_session, yahoo)
        assert (result.status, result.bars_written, result.last_bar_date) == ("created", 40, SESSIONS[39])
        assert yahoo.calls == [("ZZZ", None)]
        state = prices_repo.get_state(db_session, "ZZZ")
        assert state is not None
        assert (state.source, state.first_bar_date, state.last_bar_date) == (
            "yfinance",
            SESSIONS[0],
            SESSIONS[39],
        )
        assert state.adjustment_digest
        assert state.last_success_at == evening(SESSIONS[39])
        assert bar_count(db_session, "ZZZ") == 40

    def test_incremental_append_from_the_last_stored_bar(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        digest = prices_repo.get_state(db_session, "ZZZ").adjustment_digest  # type: ignore[union-attr]
        yahoo.n = 43
        result = run(db_session, yahoo)
        assert (result.status, result.bars_written) == ("appended", 3)
        assert yahoo.calls[-1] == ("ZZZ", SESSIONS[39] - timedelta(days=10))
        assert bar_count(db_session, "ZZZ") == 43
        assert stored(db_session, "ZZZ")[SESSIONS[42]].close == D(str(yahoo.raw_close(42)))
        state = prices_repo.get_state(db_session, "ZZZ")
        assert state is not None
        assert (state.last_bar_date, state.adjustment_digest) == (SESSIONS[42], digest)

        again = run(db_session, yahoo)
        assert (again.status, again.bars_written) == ("unchanged", 0)

    def test_new_split_refetches_and_replaces_the_whole_series(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        before = {d: b.close for d, b in stored(db_session, "ZZZ").items()}
        digest = prices_repo.get_state(db_session, "ZZZ").adjustment_digest  # type: ignore[union-attr]
        ex = SESSIONS[40]
        yahoo.splits[ex] = D(4)
        yahoo.n = 42
        result = run(db_session, yahoo)
        assert result.status == "refetched"
        assert result.reason is not None
        assert "new split" in result.reason
        assert yahoo.calls[-2:] == [("ZZZ", SESSIONS[39] - timedelta(days=10)), ("ZZZ", None)]
        bars = stored(db_session, "ZZZ")
        assert len(bars) == 42
        # As-traded history does not move; the new bars trade at a quarter.
        assert {d: bars[d].close for d in before} == before
        assert bars[ex].close == D(str(yahoo.raw_close(40)))
        assert prices_repo.splits(db_session, "ZZZ") == [(ex, D(4))]
        state = prices_repo.get_state(db_session, "ZZZ")
        assert state is not None
        assert state.adjustment_digest != digest
        # The chart divides the old bars by 4, so they join the post-split line.
        chart = {c.bar_date: c for c in series_for_chart(db_session, "ZZZ")}
        assert chart[SESSIONS[39]].close == (before[SESSIONS[39]] / 4).quantize(D("0.000001"))
        assert chart[SESSIONS[39]].volume == (1_000_000 + 39) * 4
        assert chart[ex].close == bars[ex].close

    def test_new_dividend_refetches_the_adjusted_history(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        old_adj = stored(db_session, "ZZZ")[SESSIONS[0]].adj_close
        ex = SESSIONS[40]
        yahoo.dividends[ex] = 1.0
        yahoo.n = 41
        result = run(db_session, yahoo)
        assert result.status == "refetched"
        assert "new dividend" in (result.reason or "")
        bars = stored(db_session, "ZZZ")
        assert bars[SESSIONS[0]].adj_close < old_adj  # rewritten backwards
        assert bars[SESSIONS[0]].close == D("100")  # the traded close is untouched
        assert bars[ex].adj_close == bars[ex].close

    def test_a_rewritten_overlap_day_triggers_a_whole_refetch(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        yahoo.adj_override[SESSIONS[37]] = 50.0  # a late correction on a day we hold
        yahoo.n = 41
        result = run(db_session, yahoo)
        assert result.status == "refetched"
        assert "adjusted close" in (result.reason or "")
        assert stored(db_session, "ZZZ")[SESSIONS[37]].adj_close == D(50)

    def test_failure_keeps_the_stored_bars_and_records_the_error(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        ok_at = evening(SESSIONS[39])
        yahoo.n = 45
        yahoo.fail["ZZZ"] = PriceSourceError(
            "ZZZ: Yahoo returned no bars (Too Many Requests)", ticker="ZZZ", rate_limited=True
        )
        result = run(db_session, yahoo)
        assert (result.status, result.rate_limited, result.last_bar_date) == ("failed", True, SESSIONS[39])
        assert bar_count(db_session, "ZZZ") == 40
        state = prices_repo.get_state(db_session, "ZZZ")
        assert state is not None
        assert state.last_error == "ZZZ: Yahoo returned no bars (Too Many Requests)"
        assert state.last_success_at == ok_at
        assert state.last_attempt_at == evening(SESSIONS[44])
        assert state.last_bar_date == SESSIONS[39]
        assert price_status(db_session, "ZZZ", SESSIONS[45]) == "stale"

        del yahoo.fail["ZZZ"]
        assert run(db_session, yahoo).status == "appended"
        state = prices_repo.get_state(db_session, "ZZZ")
        assert state is not None
        assert state.last_error is None

    def test_any_source_exception_is_a_recorded_failure(self, db_session: Session) -> None:
        yahoo = FakeYahoo(fail={"ZZZ": RuntimeError("boom")})
        result = run(db_session, yahoo)
        assert result.status == "failed"
        assert result.error == "ZZZ: RuntimeError: boom"
        freshness = price_freshness(db_session, "ZZZ", SESSIONS[40])
        assert (freshness.status, freshness.last_error, freshness.last_bar_date) == (
            "missing",
            "ZZZ: RuntimeError: boom",
            None,
        )

    def test_a_failed_whole_refetch_keeps_the_old_series(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        run(db_session, yahoo)
        yahoo.splits[SESSIONS[40]] = D(2)
        yahoo.n = 41
        original = yahoo.__call__

        def incremental_only(ticker: str, start: date | None) -> PriceFetch:
            if start is None:
                raise PriceSourceError("ZZZ: Yahoo returned no bars", ticker="ZZZ")
            return original(ticker, start)

        result = refresh_ticker(
            db_session, "ZZZ", source=incremental_only, today=SESSIONS[40], now=evening(SESSIONS[40])
        )
        assert result.status == "failed"
        assert bar_count(db_session, "ZZZ") == 40
        assert prices_repo.splits(db_session, "ZZZ") == []

    def test_todays_bar_waits_for_the_close(self, db_session: Session) -> None:
        yahoo = FakeYahoo()
        today = yahoo.last_day
        lunch = datetime.combine(today, time(12, 0), tzinfo=market_calendar.ET)
        result = refresh_ticker(db_session, "ZZZ", source=yahoo, today=today, now=lunch)
        assert result.last_bar_date == SESSIONS[38]
        yahoo.n = 40
        result = refresh_ticker(db_session, "ZZZ", source=yahoo, today=today, now=evening(today))
        assert (result.status, result.last_bar_date) == ("appended", today)

    def test_a_csv_series_is_replaced_by_the_source_on_refresh(self, db_session: Session) -> None:
        import_csv(db_session, b"Date,Open,High,Low,Close\n2023-12-29,1,1,1,1\n", "ZZZ")
        yahoo = FakeYahoo()
        result = run(db_session, yahoo)
        assert result.status == "refetched"
        assert "csv" in (result.reason or "")
        assert min(stored(db_session, "ZZZ")) == SESSIONS[0]


class TestRefreshMany:
    def test_rate_limit_stops_the_run(self, db_session: Session) -> None:
        yahoo = FakeYahoo(fail={"BBB": PriceSourceError("BBB: Too Many Requests", rate_limited=True)})
        seen: list[RefreshResult] = []
        summary = refresh_many(
            db_session,
            ["aaa", "BBB", "CCC", "AAA"],
            source=yahoo,
            today=yahoo.last_day,
            now=evening(yahoo.last_day),
            on_result=seen.append,
        )
        assert [(r.ticker, r.status) for r in summary.results] == [
            ("AAA", "created"),
            ("BBB", "failed"),
            ("CCC", "skipped"),
        ]
        assert seen == summary.results
        assert summary.stopped is not None
        assert "rate limited" in summary.stopped
        assert [t for t, _ in yahoo.calls] == ["AAA", "BBB"]
        assert summary.counts() == {"created": 1, "failed": 1, "skipped": 1}

    def test_a_run_of_failures_stops_the_run(self, db_session: Session) -> None:
        boom = RuntimeError("connection reset")
        yahoo = FakeYahoo(fail={"AAA": boom, "BBB": boom, "CCC": boom})
        summary = refresh_many(
            db_session, ["AAA", "BBB", "CCC", "bad ticker!"], source=yahoo, max_consecutive_failures=2
        )
        assert [r.status for r in summary.results] == ["failed", "failed", "failed", "skipped"]
        assert summary.results[0].ticker == "bad ticker!"

    def test_scheduler_refreshes_recent_purchase_tickers_and_spy(self, db_session: Session) -> None:
        for accession, ticker, cik, trade_date in [
            ("0000000101-24-000001", "EXMP", "0000001234", "2024-03-04"),
            ("0000000101-20-000001", "OLDC", "0000005678", "2020-01-06"),
        ]:
            data = purchase_filing(
                accession,
                f"{trade_date}T18:00:00",
                owners=[Owner("0000000101")],
                trade_date=trade_date,
                ticker=ticker,
                issuer_cik=cik,
            )
            store_filing(db_session, form4_parser.parse(data), source="submission", source_ref=None)
        assert price_refresh.tickers_in_view(db_session) == ["SPY", "EXMP", "OLDC"]
        yahoo = FakeYahoo()
        summary = refresh_for_scheduler(db_session, yahoo.last_day, source=yahoo, pause_s=0)
        assert [(r.ticker, r.status) for r in summary.results] == [("SPY", "created"), ("EXMP", "created")]
        assert prices_repo.tickers_with_prices(db_session) == ["EXMP", "SPY"]


# --- freshness ------------------------------------------------------------------------------------------


class TestPriceStatus:
    @pytest.mark.parametrize(
        ("last_bar", "today", "status"),
        [
            pytest.param(date(2024, 3, 11), date(2024, 3, 12), "fresh", id="previous-session"),
            pytest.param(date(2024, 3, 12), date(2024, 3, 12), "fresh", id="today-after-close"),
            pytest.param(date(2024, 3, 8), date(2024, 3, 11), "fresh", id="friday-seen-on-monday"),
            pytest.param(date(2024, 3, 8), date(2024, 3, 12), "stale", id="missed-monday"),
            pytest.param(date(2024, 3, 28), date(2024, 4, 1), "fresh", id="good-friday-closed"),
            pytest.param(date(2024, 3, 27), date(2024, 4, 1), "stale", id="before-good-friday"),
        ],
    )
    def test_fresh_and_stale(self, db_session: Session, last_bar: date, today: date, status: str) -> None:
        import_csv(db_session, f"Date,Open,High,Low,Close\n{last_bar},1,1,1,1\n".encode(), "TTT")
        assert price_status(db_session, "TTT", today) == status

    def test_missing(self, db_session: Session) -> None:
        assert price_status(db_session, "NONE", date(2024, 3, 12)) == "missing"
