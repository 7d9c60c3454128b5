"""The yfinance adapter on hand-built frames of the shapes yfinance returns, and its failure detection.

No network: `fetch_daily` runs against a stand-in for `yfinance.Ticker`. Shapes follow yfinance 1.7's
source (scrapers/history.py PriceHistory.history, multi.py download, utils.empty_df): see the comment in
`app/prices/yfinance_source.py::normalize_history`.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.prices.yfinance_source import (
    STANDARD_COLUMNS,
    PriceSourceError,
    fetch_daily,
    normalize_history,
    yahoo_symbol,
)

# AAPL around the 2020-08-31 4:1 split and the 2020-08-07 dividend, as Yahoo serves them today
# (split-adjusted OHLC; the same figures as the shared InsidersTradeMonitor AAPL CSV).
AAPL_ROWS = [
    # date, open, high, low, close, adj close, volume, dividends, stock splits
    ("2020-08-06", 110.404999, 114.412498, 109.797501, 113.902496, 111.984352, 202428800, 0.0, 0.0),
    ("2020-08-07", 113.205002, 113.675003, 110.292503, 111.112503, 109.438301, 198045600, 0.205, 0.0),
    ("2020-08-28", 126.012497, 126.442497, 124.577499, 124.807503, 122.926956, 187630000, 0.0, 0.0),
    ("2020-08-31", 127.580002, 131.0, 126.0, 129.039993, 127.09568, 225702700, 0.0, 4.0),
    ("2020-09-01", 132.759995, 134.800003, 130.529999, 134.179993, 132.158203, 151948100, 0.0, 0.0),
]
PRICE_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def ticker_history_frame(rows: list[tuple[Any, ...]] = AAPL_ROWS, *, etf: bool = False) -> pd.DataFrame:
    """What `yf.Ticker(sym).history(auto_adjust=False, actions=True)` returns for a daily interval."""
    index = pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]).tz_localize("America/New_York")
    index.name = "Date"
    df = pd.DataFrame(
        {
            "Open": [r[1] for r in rows],
            "High": [r[2] for r in rows],
            "Low": [r[3] for r in rows],
            "Close": [r[4] for r in rows],
            "Adj Close": [r[5] for r in rows],
            "Volume": np.array([r[6] for r in rows], dtype="int64"),
            "Dividends": [r[7] for r in rows],
            "Stock Splits": [r[8] for r in rows],
        },
        index=index,
    )
    if etf:
        df["Capital Gains"] = 0.0  # history() adds it for ETFs and mutual funds
    return df


def download_frame(frames: dict[str, pd.DataFrame], *, group_by: str = "column") -> pd.DataFrame:
    """What `yf.download(..., auto_adjust=False, actions=True)` returns: MultiIndex columns, naive index."""
    naive = {t: f.tz_localize(None) for t, f in frames.items()}  # ignore_tz=True for daily bars
    union = sorted(set().union(*(f.index for f in naive.values())))
    data = pd.concat(
        [f.reindex(union) for f in naive.values()], axis=1, keys=list(naive), names=["Ticker", "Price"]
    )
    if group_by == "column":
        data.columns = data.columns.swaplevel(0, 1)
        data = data.sort_index(level=0, axis=1)
    data.index.name = "Date"
    return data


def yf_empty_df() -> pd.DataFrame:
    """yfinance.utils.empty_df(): what history() returns after logging a failure."""
    empty = pd.DataFrame(index=[], data=dict.fromkeys(PRICE_COLUMNS, np.nan))
    empty.index.name = "Date"
    return empty


class TestNormalizeHistory:
    def test_ticker_history_shape(self) -> None:
        fetch = normalize_history(ticker_history_frame())
        bars = fetch.bars
        assert list(bars.columns) == list(STANDARD_COLUMNS)
        assert bars.index.name == "date"
        assert bars.index.tz is None
        # The exchange-local day survives: midnight -04:00 is not shifted to the previous UTC day.
        assert [d.date() for d in bars.index] == [date.fromisoformat(r[0]) for r in AAPL_ROWS]
        first = bars.loc["2020-08-28"]
        assert (first["close"], first["adj_close"], first["volume"]) == (124.807503, 122.926956, 187630000)
        assert fetch.splits == [(date(2020, 8, 31), Decimal("4.0"))]
        assert fetch.dividends == [(date(2020, 8, 7), Decimal("0.205"))]

    def test_etf_capital_gains_column_is_ignored(self) -> None:
        fetch = normalize_history(ticker_history_frame(etf=True))
        assert list(fetch.bars.columns) == list(STANDARD_COLUMNS)
        assert len(fetch.bars) == len(AAPL_ROWS)

    @pytest.mark.parametrize("group_by", ["column", "ticker"])
    def test_download_multiindex_single_ticker(self, group_by: str) -> None:
        frame = download_frame({"AAPL": ticker_history_frame()}, group_by=group_by)
        assert isinstance(frame.columns, pd.MultiIndex)
        fetch = normalize_history(frame)
        assert len(fetch.bars) == len(AAPL_ROWS)
        assert fetch.bars.loc["2020-08-31", "close"] == 129.039993
        assert fetch.splits == [(date(2020, 8, 31), Decimal("4.0"))]

    def test_download_several_tickers_needs_a_name_and_drops_reindexed_nan_rows(self) -> None:
        other = ticker_history_frame(
            [
                ("2020-08-06", 10, 11, 9, 10.5, 10.4, 1000, 0.0, 0.0),
                ("2020-08-10", 11, 12, 10, 11.5, 11.4, 2000, 0, 0),
            ]
        )
        frame = download_frame({"AAPL": ticker_history_frame(), "ZZZ": other})
        with pytest.raises(ValueError, match="several tickers"):
            normalize_history(frame)
        fetch = normalize_history(frame, ticker="ZZZ")
        # ZZZ has NaN rows on the AAPL-only days after the union reindex; they carry no bar.
        assert [d.date() for d in fetch.bars.index] == [date(2020, 8, 6), date(2020, 8, 10)]
        assert fetch.splits == []
        assert fetch.dividends == []

    def test_nan_rows_dropped_but_their_actions_kept(self) -> None:
        frame = ticker_history_frame()
        # keepna=True style: a dividend row whose prices Yahoo left empty.
        frame.loc[frame.index[1], ["Open", "High", "Low", "Close", "Adj Close"]] = np.nan
        fetch = normalize_history(frame)
        assert date(2020, 8, 7) not in {d.date() for d in fetch.bars.index}
        assert fetch.dividends == [(date(2020, 8, 7), Decimal("0.205"))]

    def test_unsorted_duplicated_index_is_sorted_and_deduplicated(self) -> None:
        frame = ticker_history_frame()
        frame = pd.concat([frame.iloc[[3]], frame.iloc[::-1]])
        bars = normalize_history(frame).bars
        assert bars.index.is_monotonic_increasing
        assert bars.index.is_unique

    def test_empty_frame_is_a_source_error(self) -> None:
        with pytest.raises(PriceSourceError, match="empty"):
            normalize_history(yf_empty_df())

    def test_all_nan_frame_is_a_source_error(self) -> None:
        frame = ticker_history_frame()
        frame[["Open", "High", "Low", "Close", "Adj Close"]] = np.nan
        with pytest.raises(PriceSourceError, match="no row"):
            normalize_history(frame)

    def test_auto_adjusted_frame_is_refused(self) -> None:
        frame = ticker_history_frame().drop(columns=["Adj Close"])
        with pytest.raises(ValueError, match="auto_adjust=False"):
            normalize_history(frame)


class FakeTicker:
    """Stands in for yfinance.Ticker: records the history() call and plays a scripted outcome."""

    calls: list[tuple[str, dict[str, Any]]] = []
    outcome: Any = None

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, **kwargs: Any) -> pd.DataFrame:
        FakeTicker.calls.append((self.symbol, kwargs))
        outcome = FakeTicker.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        if callable(outcome):
            return outcome(self.symbol)
        return outcome


@pytest.fixture
def fake_yf(monkeypatch: pytest.MonkeyPatch) -> type[FakeTicker]:
    FakeTicker.calls = []
    FakeTicker.outcome = None
    # The string form patches the attribute fetch_daily reads at call time; nothing leaves the machine.
    monkeypatch.setattr("yfinance.Ticker", FakeTicker)
    return FakeTicker


class YFRateLimitError(Exception):
    """Same name and message as yfinance.exceptions.YFRateLimitError (raised on HTTP 429)."""

    def __init__(self) -> None:
        super().__init__("Too Many Requests. Rate limited. Try after a while.")


class TestFetchDaily:
    def test_whole_history_asks_for_raw_and_adjusted_with_actions(self, fake_yf: type[FakeTicker]) -> None:
        fake_yf.outcome = ticker_history_frame()
        fetch = fetch_daily("aapl")
        ((symbol, kwargs),) = fake_yf.calls
        assert symbol == "AAPL"
        assert kwargs["period"] == "max"
        assert "start" not in kwargs
        assert kwargs["auto_adjust"] is False
        assert kwargs["actions"] is True
        assert kwargs["interval"] == "1d"
        assert len(fetch.bars) == len(AAPL_ROWS)

    def test_incremental_passes_an_inclusive_start(self, fake_yf: type[FakeTicker]) -> None:
        fake_yf.outcome = ticker_history_frame()
        fetch_daily("BRK.B", start=date(2020, 8, 20))
        ((symbol, kwargs),) = fake_yf.calls
        assert symbol == "BRK-B"
        assert kwargs["start"] == "2020-08-20"
        assert "period" not in kwargs

    def test_unknown_ticker_logged_and_empty_becomes_error_with_the_reason(
        self, fake_yf: type[FakeTicker]
    ) -> None:
        def delisted(symbol: str) -> pd.DataFrame:
            logging.getLogger("yfinance").error(f"${symbol}: possibly delisted; no price data found (1d)")
            return yf_empty_df()

        fake_yf.outcome = delisted
        with pytest.raises(PriceSourceError, match="possibly delisted") as info:
            fetch_daily("NOPE")
        assert info.value.ticker == "NOPE"
        assert info.value.rate_limited is False

    def test_rate_limit_reported_as_log_line_is_flagged(self, fake_yf: type[FakeTicker]) -> None:
        def limited(symbol: str) -> pd.DataFrame:
            logging.getLogger("yfinance").error(
                "1 Failed download:\n['%s']: YFRateLimitError('Too Many Requests. Rate limited.')", symbol
            )
            return yf_empty_df()

        fake_yf.outcome = limited
        with pytest.raises(PriceSourceError) as info:
            fetch_daily("AAPL")
        assert info.value.rate_limited is True

    def test_raised_rate_limit_is_wrapped(self, fake_yf: type[FakeTicker]) -> None:
        fake_yf.outcome = YFRateLimitError()
        with pytest.raises(PriceSourceError, match="Too Many Requests") as info:
            fetch_daily("AAPL")
        assert info.value.rate_limited is True
        assert isinstance(info.value.__cause__, YFRateLimitError)

    def test_network_exception_is_wrapped(self, fake_yf: type[FakeTicker]) -> None:
        fake_yf.outcome = ConnectionError("connection reset")
        with pytest.raises(PriceSourceError, match="ConnectionError: connection reset") as info:
            fetch_daily("AAPL")
        assert info.value.rate_limited is False

    def test_empty_without_a_log_line_still_fails(self, fake_yf: type[FakeTicker]) -> None:
        fake_yf.outcome = yf_empty_df()
        with pytest.raises(PriceSourceError, match="no reason given"):
            fetch_daily("AAPL")

    def test_capture_handler_is_removed(self, fake_yf: type[FakeTicker]) -> None:
        before = list(logging.getLogger("yfinance").handlers)
        fake_yf.outcome = yf_empty_df()
        with pytest.raises(PriceSourceError):
            fetch_daily("AAPL")
        assert logging.getLogger("yfinance").handlers == before


@pytest.mark.parametrize(("ticker", "symbol"), [("brk.b", "BRK-B"), (" SPY ", "SPY"), ("BF/B", "BF-B")])
def test_yahoo_symbol(ticker: str, symbol: str) -> None:
    assert yahoo_symbol(ticker) == symbol
