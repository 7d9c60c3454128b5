"""Cluster returns vs SPY on real prices: every expected figure is recomputed here from the raw CSV rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from app.analytics import performance as pf
from tests.analytics.conftest import AAPL_2000, AMD, NVDA, SPY_1993, SPY_2000, F, Row

ET = ZoneInfo("America/New_York")
AS_OF_1993_FILE = date(2017, 10, 27)  # last SPY row of the 1993-2017 file


def adj_open(row: Row) -> float:
    """DESIGN §2: adjusted open = open × adj_close / close, on the same day."""
    return row["open"] * row["adj"] / row["close"]


def open_to_close(rows: dict[date, Row], entry: date, exit_: date) -> float:
    """Return from the adjusted open of the entry day to the adjusted close of the exit day."""
    return rows[exit_]["adj"] / adj_open(rows[entry]) - 1


def by_horizon(results: list[pf.HorizonResult]) -> dict[str, pf.HorizonResult]:
    return {r.horizon: r for r in results}


def poison_after(df: pd.DataFrame, day: date, value: float) -> pd.DataFrame:
    out = df.copy()
    out.loc[out.index > pd.Timestamp(day), ["open", "high", "low", "close", "adj_close"]] = value
    return out


class TestEntryTimingOnRealPrices:
    """Entry at the first open strictly after the trigger; exits 5 and 21 sessions later (DESIGN §2)."""

    @pytest.mark.parametrize(
        ("stock", "trigger", "entry", "exit_1w", "exit_1m"),
        [
            pytest.param(
                NVDA, datetime(2015, 3, 10, 8, 0, tzinfo=ET), date(2015, 3, 10), date(2015, 3, 17),
                date(2015, 4, 9),  # 1m skips Good Friday 2015-04-03
                id="before-open-0800-same-day",
            ),
            pytest.param(
                AMD, datetime(2016, 6, 15, 11, 0, tzinfo=ET), date(2016, 6, 16), date(2016, 6, 23),
                date(2016, 7, 18),  # skips July 4
                id="during-session-1100-next-day",
            ),
            pytest.param(
                F, datetime(2014, 10, 1, 17, 30, tzinfo=ET), date(2014, 10, 2), date(2014, 10, 9),
                date(2014, 10, 31),
                id="after-close-1730-next-day",
            ),
            pytest.param(
                NVDA, datetime(2016, 11, 4, 19, 0, tzinfo=ET), date(2016, 11, 7), date(2016, 11, 14),
                date(2016, 12, 7),  # skips Thanksgiving
                id="friday-evening-monday",
            ),
            pytest.param(
                AMD, datetime(2016, 3, 24, 18, 0, tzinfo=ET), date(2016, 3, 28), date(2016, 4, 4),
                date(2016, 4, 26),
                id="evening-before-good-friday",
            ),
            pytest.param(
                F, datetime(2015, 7, 2, 20, 15, tzinfo=ET), date(2015, 7, 6), date(2015, 7, 13),
                date(2015, 8, 4),  # July 4 2015 was a Saturday: closed Friday July 3
                id="evening-before-july-4th-observed",
            ),
        ],
    )  # fmt: skip
    def test_returns_match_raw_rows(
        self, frame, raw, stock: str, trigger: datetime, entry: date, exit_1w: date, exit_1m: date
    ) -> None:
        results = by_horizon(
            pf.cluster_returns(trigger, frame(stock), frame(SPY_1993), as_of=AS_OF_1993_FILE)
        )
        rows, spy = raw(stock), raw(SPY_1993)
        for label, exit_ in (("1w", exit_1w), ("1m", exit_1m)):
            r = results[label]
            stock_ret = open_to_close(rows, entry, exit_)
            spy_ret = open_to_close(spy, entry, exit_)
            assert (r.status, r.entry_session, r.entry_date, r.exit_date) == ("done", entry, entry, exit_)
            assert r.entry_shifted is False
            assert r.entry_price == round(adj_open(rows[entry]), 6)
            assert r.exit_price == round(rows[exit_]["adj"], 6)
            assert r.stock_return == round(stock_ret, 6)
            assert r.spy_return == round(spy_ret, 6)
            assert r.excess == round(stock_ret - spy_ret, 6)

    def test_nvda_before_open_pinned(self, frame) -> None:
        # NVDA 2015-03-10: open 22.709999, close 23.000000, adj close 22.423876
        #   adjusted open = 22.709999 × 22.423876 / 23.000000 = 22.141139
        # NVDA 2015-03-17 adj close 22.667614 → 22.667614 / 22.141139 − 1 = +2.3778 %
        # SPY 2015-03-10: 206.710007 × 193.849762 / 204.979996 = 195.487...; 2015-03-17 adj close 196.669...
        r = pf.cluster_returns(
            datetime(2015, 3, 10, 12, 0, tzinfo=UTC), frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE
        )[0]
        assert (r.entry_price, r.exit_price, r.stock_return) == (22.141139, 22.667614, 0.023778)
        assert (r.spy_return, r.excess) == (0.006047, 0.017731)

    def test_trigger_exactly_at_the_open_enters_next_session(self, frame) -> None:
        at_open = datetime(2015, 3, 10, 9, 30, tzinfo=ET)
        r = pf.cluster_returns(at_open, frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE)[0]
        assert r.entry_date == date(2015, 3, 11)

    def test_all_five_horizons_in_order(self, frame) -> None:
        results = pf.cluster_returns(
            datetime(2010, 5, 3, 18, 0, tzinfo=ET), frame(F), frame(SPY_1993), as_of=AS_OF_1993_FILE
        )
        assert [(r.horizon, r.days, r.status) for r in results] == [
            ("1w", 5, "done"),
            ("1m", 21, "done"),
            ("3m", 63, "done"),
            ("6m", 126, "done"),
            ("1y", 252, "done"),
        ]
        # Day 0 is 2010-05-04; 252 sessions later is 2011-05-03.
        assert results[-1].exit_date == date(2011, 5, 3)

    def test_naive_trigger_is_refused(self, frame) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            pf.cluster_returns(
                datetime(2015, 3, 10, 8, 0),  # noqa: DTZ001 - the point of the test
                frame(NVDA),
                frame(SPY_1993),
                as_of=AS_OF_1993_FILE,
            )


class TestAdjustedPrices:
    # AAPL split 2:1 on 2005-02-28 (also 2:1 on 2000-06-21, 7:1 in 2014, 4:1 in 2020). The 2000-2012 file's
    # Close is already split-adjusted (no jump: 2005-02-25 close 1.589107, 2005-02-28 close 1.602143),
    # so the raw tape is rebuilt from the split factors: ×112 before 2000-06-21, ×56 before 2005-02-28,
    # ×28 after (2012-09-12: 23.921070 × 28 = 669.79, AAPL's actual close that day).
    TRIGGER = datetime(2005, 2, 22, 18, 0, tzinfo=ET)  # Tuesday evening → entry Wednesday 2005-02-23

    @staticmethod
    def raw_tape(df: pd.DataFrame) -> pd.DataFrame:
        factor = np.where(
            df.index < pd.Timestamp("2000-06-21"),
            112.0,
            np.where(df.index < pd.Timestamp("2005-02-28"), 56.0, 28.0),
        )
        out = df.copy()
        for col in ("open", "high", "low", "close"):
            out[col] = df[col] * factor
        return out

    def test_split_inside_the_window(self, frame, raw) -> None:
        rows = raw(AAPL_2000)
        entry, exit_1w = date(2005, 2, 23), date(2005, 3, 2)
        expected = open_to_close(rows, entry, exit_1w)
        # The unadjusted tape shows a halving: 1.575714×28 / (1.548571×56) − 1 ≈ −49 %.
        naive = rows[exit_1w]["close"] * 28 / (rows[entry]["open"] * 56) - 1
        assert naive < -0.49

        on_file = pf.cluster_returns(self.TRIGGER, frame(AAPL_2000), frame(SPY_2000), as_of=date(2012, 9, 11))
        on_raw = pf.cluster_returns(
            self.TRIGGER, self.raw_tape(frame(AAPL_2000)), frame(SPY_2000), as_of=date(2012, 9, 11)
        )
        assert on_file[0].exit_date == exit_1w
        assert on_file[0].stock_return == round(expected, 6) == 0.017528
        for a, b in zip(on_file, on_raw, strict=True):
            assert a.stock_return == pytest.approx(b.stock_return, abs=1e-6)
            assert a.excess == pytest.approx(b.excess, abs=1e-6)

    def test_benchmark_is_total_return(self, frame, raw) -> None:
        # SPY went ex-dividend on 2015-03-20 (adj/close factor 0.945701 → 0.949922) inside this 1m window.
        spy = raw(SPY_1993)
        entry, exit_ = date(2015, 3, 10), date(2015, 4, 9)
        price_only = spy[exit_]["close"] / spy[entry]["open"] - 1  # 208.899994 / 206.710007 − 1 = 1.0595 %
        total = open_to_close(spy, entry, exit_)  # dividends included: 1.5105 %
        r = pf.cluster_returns(
            datetime(2015, 3, 10, 8, 0, tzinfo=ET), frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE
        )[1]
        assert r.spy_return == round(total, 6) == 0.015105
        assert 0.004 < total - price_only < 0.005

    def test_auto_adjusted_frame_gives_the_same_return(self, frame) -> None:
        # yfinance auto_adjust=True: OHLC already adjusted and no Adj Close (adj_close = close).
        df = frame(NVDA)
        factor = df["adj_close"] / df["close"]
        auto = df.assign(open=df["open"] * factor, close=df["adj_close"])
        trigger = datetime(2015, 3, 10, 8, 0, tzinfo=ET)
        a = pf.cluster_returns(trigger, df, frame(SPY_1993), as_of=AS_OF_1993_FILE)
        b = pf.cluster_returns(trigger, auto, frame(SPY_1993), as_of=AS_OF_1993_FILE)
        assert [r.stock_return for r in a] == pytest.approx([r.stock_return for r in b], abs=1e-6)


class TestStatuses:
    TRIGGER = datetime(2015, 3, 10, 8, 0, tzinfo=ET)

    def test_as_of_cut_leaves_longer_horizons_open(self, frame) -> None:
        spy = frame(SPY_1993)
        full = by_horizon(pf.cluster_returns(self.TRIGGER, frame(NVDA), spy, as_of=AS_OF_1993_FILE))
        cut = by_horizon(pf.cluster_returns(self.TRIGGER, frame(NVDA), spy, as_of=date(2015, 3, 20)))
        assert cut["1w"] == full["1w"]
        for label in ("1m", "3m", "6m", "1y"):
            assert cut[label].status == "open"
            assert cut[label].entry_date == date(2015, 3, 10)
            assert cut[label].stock_return is None

    def test_exit_on_as_of_is_done(self, frame) -> None:
        r = pf.cluster_returns(self.TRIGGER, frame(NVDA), frame(SPY_1993), as_of=date(2015, 3, 17))[0]
        assert (r.status, r.exit_date) == ("done", date(2015, 3, 17))

    def test_real_file_end_leaves_recent_cluster_open(self, frame) -> None:
        # Friday 2017-09-29 evening → entry Monday 2017-10-02; the file ends 2017-10-27.
        results = by_horizon(
            pf.cluster_returns(
                datetime(2017, 9, 29, 18, 0, tzinfo=ET), frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE
            )
        )
        assert (results["1w"].status, results["1w"].exit_date) == ("done", date(2017, 10, 9))
        assert [results[h].status for h in ("1m", "3m", "6m", "1y")] == ["open"] * 4

    def test_entry_after_as_of_is_open_without_entry(self, frame) -> None:
        results = pf.cluster_returns(self.TRIGGER, frame(NVDA), frame(SPY_1993), as_of=date(2015, 3, 9))
        assert {(r.status, r.entry_date) for r in results} == {("open", None)}

    def test_series_ending_early(self, frame, raw) -> None:
        # NVDA cut after 2017-03-01 (as if delisted) while as_of is 2017-10-27.
        stock = frame(NVDA).loc[:"2017-03-01"]
        results = by_horizon(
            pf.cluster_returns(
                datetime(2017, 1, 3, 18, 0, tzinfo=ET), stock, frame(SPY_1993), as_of=AS_OF_1993_FILE
            )
        )
        rows, spy = raw(NVDA), raw(SPY_1993)
        entry, last = date(2017, 1, 4), date(2017, 3, 1)
        assert [results[h].status for h in ("1w", "1m")] == ["done", "done"]
        for label in ("3m", "6m"):
            r = results[label]
            assert r.status == "ended_early"
            assert (r.last_date, r.exit_date, r.stock_return) == (last, None, None)
            assert r.last_return == round(rows[last]["adj"] / adj_open(rows[entry]) - 1, 6)
            assert r.last_spy_return == round(open_to_close(spy, entry, last), 6)
        # 252 sessions from 2017-01-04 is January 2018, after as_of: still open, not ended.
        assert results["1y"].status == "open"

    def test_ended_early_is_counted_in_the_summary(self, frame) -> None:
        spy = frame(SPY_1993)
        trigger = datetime(2017, 1, 3, 18, 0, tzinfo=ET)
        cut, full = frame(NVDA).loc[:"2017-03-01"], frame(NVDA)
        runs = [
            (
                {"cluster_id": cid, "trigger_at": trigger},
                pf.cluster_returns(trigger, df, spy, as_of=AS_OF_1993_FILE),
            )
            for cid, df in (("cut", cut), ("full", full))
        ]
        s = pf.summarize(pf.results_frame(runs), horizon="3m", seed=0)
        assert (s.n, s.n_ended_early, s.n_open) == (1, 1, 0)
        assert pf.summarize(pf.results_frame(runs), horizon="1y", seed=0).n_open == 2

    def test_frame_without_needed_columns(self, frame) -> None:
        with pytest.raises(ValueError, match="adj_close"):
            pf.cluster_returns(
                self.TRIGGER, frame(NVDA).drop(columns=["adj_close"]), frame(SPY_1993), as_of=AS_OF_1993_FILE
            )

    def test_missing_entry_bar_uses_next_bar_and_flags_it(self, frame, raw) -> None:
        stock = frame(NVDA).drop(pd.Timestamp("2015-03-10"))
        r = pf.cluster_returns(self.TRIGGER, stock, frame(SPY_1993), as_of=AS_OF_1993_FILE)[0]
        rows, spy = raw(NVDA), raw(SPY_1993)
        # Day 0 is the 2015-03-11 bar; five of the stock's own bars later is 2015-03-18.
        assert (r.entry_session, r.entry_date) == (date(2015, 3, 10), date(2015, 3, 11))
        assert r.entry_shifted is True
        assert r.exit_date == date(2015, 3, 18)
        assert r.stock_return == round(open_to_close(rows, date(2015, 3, 11), date(2015, 3, 18)), 6)
        assert r.spy_return == round(open_to_close(spy, date(2015, 3, 11), date(2015, 3, 18)), 6)

    def test_no_price_at_or_after_entry(self, frame) -> None:
        stock = frame(NVDA).loc[:"2015-03-06"]
        results = pf.cluster_returns(self.TRIGGER, stock, frame(SPY_1993), as_of=AS_OF_1993_FILE)
        assert {r.status for r in results} == {"no_entry"}

    def test_missing_benchmark_bar_leaves_excess_empty(self, frame) -> None:
        spy = frame(SPY_1993).drop(pd.Timestamp("2015-03-17"))
        r = pf.cluster_returns(self.TRIGGER, frame(NVDA), spy, as_of=AS_OF_1993_FILE)[0]
        assert (r.status, r.stock_return, r.spy_return, r.excess) == ("done", 0.023778, None, None)


class TestNoLookAhead:
    TRIGGER = datetime(2015, 3, 10, 8, 0, tzinfo=ET)

    @pytest.mark.parametrize("poison", [np.nan, 1e9, -1.0], ids=["nan", "huge", "negative"])
    def test_bars_after_each_exit_are_never_read(self, frame, poison: float) -> None:
        clean = pf.cluster_returns(self.TRIGGER, frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE)
        for r in clean:
            stock = poison_after(frame(NVDA), r.exit_date, poison)
            spy = poison_after(frame(SPY_1993), r.exit_date, poison)
            again = by_horizon(pf.cluster_returns(self.TRIGGER, stock, spy, as_of=AS_OF_1993_FILE))
            assert again[r.horizon] == r

    @pytest.mark.parametrize("poison", [np.nan, 1e9, -1.0], ids=["nan", "huge", "negative"])
    def test_nothing_after_as_of_is_read(self, frame, poison: float) -> None:
        as_of = date(2015, 6, 30)  # 1w, 1m, 3m done; 6m, 1y open
        clean = pf.cluster_returns(self.TRIGGER, frame(NVDA), frame(SPY_1993), as_of=as_of)
        stock = poison_after(frame(NVDA), as_of, poison)
        spy = poison_after(frame(SPY_1993), as_of, poison)
        assert pf.cluster_returns(self.TRIGGER, stock, spy, as_of=as_of) == clean
        # Dropping the future entirely changes nothing either.
        truncated = pf.cluster_returns(
            self.TRIGGER, frame(NVDA).loc[:"2015-06-30"], frame(SPY_1993).loc[:"2015-06-30"], as_of=as_of
        )
        assert truncated == clean
        assert [r.status for r in clean] == ["done", "done", "done", "open", "open"]

    def test_an_ended_series_is_judged_only_up_to_as_of(self, frame) -> None:
        # Real bars after as_of must not turn an "open" horizon into "done" or "ended_early".
        as_of = date(2015, 6, 30)
        cut = frame(NVDA).loc[:"2015-06-30"]
        a = pf.cluster_returns(self.TRIGGER, cut, frame(SPY_1993), as_of=as_of)
        b = pf.cluster_returns(self.TRIGGER, frame(NVDA), frame(SPY_1993), as_of=as_of)
        assert a == b


class TestInsiderReturn:
    def test_from_last_trade_date_close(self, frame, raw) -> None:
        # Not achievable (evidence §2.2): measured from the close of the insider's own trade date.
        rows, spy = raw(NVDA), raw(SPY_1993)
        trade, exit_ = date(2015, 3, 9), date(2015, 3, 16)
        r = pf.insider_returns(trade, frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE)[0]
        stock_ret = rows[exit_]["adj"] / rows[trade]["adj"] - 1
        spy_ret = spy[exit_]["adj"] / spy[trade]["adj"] - 1
        assert (r.entry_date, r.exit_date, r.entry_price) == (trade, exit_, round(rows[trade]["adj"], 6))
        assert (r.stock_return, r.spy_return) == (round(stock_ret, 6), round(spy_ret, 6))
        assert r.excess == round(stock_ret - spy_ret, 6)


@pytest.fixture(scope="module")
def real_results(frame) -> pd.DataFrame:
    """Triggers every 15th session 2005-2016 at 18:00 ET on NVDA, AMD and F: a few hundred real 'clusters'."""
    spy = frame(SPY_1993)
    days = spy.loc["2005-01-01":"2016-12-31"].index[::15]
    runs = []
    for ticker, name in (("NVDA", NVDA), ("AMD", AMD), ("F", F)):
        stock = frame(name)
        for day in days:
            trigger = datetime(day.year, day.month, day.day, 18, 0, tzinfo=ET)
            fields = {"cluster_id": f"{ticker}-{day.date()}", "ticker": ticker, "trigger_at": trigger}
            runs.append((fields, pf.cluster_returns(trigger, stock, spy, as_of=AS_OF_1993_FILE)))
    return pf.results_frame(runs)


class TestSummarize:
    @staticmethod
    def hand_frame() -> pd.DataFrame:
        rows = [
            # month 2024-01 (ET): excess 0.10 and -0.05
            ("2024-01-10T15:00Z", "done", 0.12, 0.10),
            ("2024-01-31T23:00Z", "done", -0.03, -0.05),
            # 2024-02-01 03:00 UTC is still January 31 in New York: month is by ET.
            ("2024-02-01T03:00Z", "done", 0.25, 0.20),
            ("2024-02-15T15:00Z", "done", -0.01, 0.00),
            ("2024-03-01T15:00Z", "open", None, None),
            ("2024-03-02T15:00Z", "ended_early", None, None),
            ("2024-03-03T15:00Z", "no_entry", None, None),
            ("2024-03-04T15:00Z", "done", 0.05, None),  # SPY bar missing
        ]
        return pd.DataFrame(
            [
                {"horizon": "1m", "trigger_at": pd.Timestamp(t), "status": s, "stock_return": r, "excess": x}
                for t, s, r, x in rows
            ]
        )

    def test_hand_computed_statistics(self) -> None:
        s = pf.summarize(self.hand_frame(), horizon="1m", seed=7)
        # excess = [0.10, -0.05, 0.20, 0.00]: mean 0.0625, median (0.00 + 0.10) / 2 = 0.05,
        # hit rate 2/4 (0.00 is not a beat), absolute returns positive 2/4.
        assert (s.n, s.mean, s.median, s.hit_rate, s.share_positive) == (4, 0.0625, 0.05, 0.5, 0.5)
        assert (s.n_open, s.n_ended_early, s.n_no_entry, s.n_no_benchmark) == (1, 1, 1, 1)
        # Months by ET: January holds 0.10, -0.05, 0.20; February holds 0.00.
        assert s.n_months == 2

    def test_block_bootstrap_resamples_months(self) -> None:
        # Two months: January sum 0.25 over 3 events, February 0.00 over 1. Any draw is JJ, JF/FJ or FF,
        # so every bootstrap mean is one of 0.25/3, 0.25/4 or 0; the interval's ends are among them.
        s = pf.summarize(self.hand_frame(), horizon="1m", seed=7)
        assert {s.ci_low, s.ci_high} <= {round(0.25 / 3, 6), 0.0625, 0.0}
        assert s.ci_low <= s.mean <= s.ci_high

    def test_reproducible_and_contains_the_mean_on_real_prices(self, real_results: pd.DataFrame) -> None:
        results = real_results
        a = pf.summarize(results, horizon="3m", seed=42)
        b = pf.summarize(results, horizon="3m", seed=42)
        c = pf.summarize(results, horizon="3m", seed=43)
        assert a == b
        assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
        assert a.ci_low < a.mean < a.ci_high
        done = results[(results["horizon"] == "3m") & (results["status"] == "done")]
        assert a.n == len(done) > 500
        assert a.mean == round(done["excess"].mean(), 6)
        assert a.hit_rate == round((done["excess"] > 0).mean(), 6)
        assert a.n_months == 144  # every month of 2005-2016 has a trigger
        # Row order does not change the draw.
        shuffled = results.sample(frac=1.0, random_state=1)
        assert pf.summarize(shuffled, horizon="3m", seed=42) == a

    def test_open_clusters_are_counted_not_averaged(self, real_results: pd.DataFrame) -> None:
        results = real_results
        s = pf.summarize(results, horizon="1y", seed=1)
        opens = results[(results["horizon"] == "1y") & (results["status"] == "open")]
        assert s.n_open == len(opens) > 0

    def test_empty_horizon(self) -> None:
        s = pf.summarize(self.hand_frame(), horizon="1y", seed=1)
        assert (s.n, s.mean, s.ci_low, s.ci_high) == (0, None, None, None)

    def test_single_month_has_no_interval(self) -> None:
        df = self.hand_frame().iloc[:2]
        s = pf.summarize(df, horizon="1m", seed=1)
        assert (s.n, s.ci_low, s.ci_high) == (2, None, None)


class TestCalendarTimePortfolio:
    def test_single_cluster_compounds_to_its_horizon_return(self, frame) -> None:
        trigger = datetime(2015, 3, 10, 8, 0, tzinfo=ET)
        results = pf.cluster_returns(trigger, frame(NVDA), frame(SPY_1993), as_of=AS_OF_1993_FILE)
        df = pf.results_frame([({"cluster_id": 1, "ticker": "NVDA", "trigger_at": trigger}, results)])
        port = pf.calendar_time_portfolio(df, {"NVDA": frame(NVDA)}, frame(SPY_1993), holding_days=21)
        one_month = results[1]
        assert port.index[0] == pd.Timestamp("2015-03-10")
        assert port.index[-1] == pd.Timestamp(one_month.exit_date)
        assert len(port) == 22  # day 0 .. day 21
        assert (port["n_positions"] == 1).all()
        assert port["port_cum"].iloc[-1] == pytest.approx(one_month.stock_return, abs=2e-6)
        assert port["spy_cum"].iloc[-1] == pytest.approx(one_month.spy_return, abs=2e-6)
        assert port["excess_cum"].iloc[-1] == pytest.approx(one_month.excess, abs=4e-6)

    def test_overlapping_clusters_are_equal_weighted(self, frame, raw) -> None:
        t1 = datetime(2016, 6, 15, 11, 0, tzinfo=ET)  # AMD, entry 2016-06-16
        t2 = datetime(2016, 6, 20, 18, 0, tzinfo=ET)  # F, entry 2016-06-21
        spy = frame(SPY_1993)
        runs = [
            (
                {"cluster_id": cid, "ticker": ticker, "trigger_at": t},
                pf.cluster_returns(t, frame(name), spy, as_of=AS_OF_1993_FILE),
            )
            for cid, ticker, name, t in (("a", "AMD", AMD, t1), ("b", "F", F, t2))
        ]
        port = pf.calendar_time_portfolio(
            pf.results_frame(runs), {"AMD": frame(AMD), "F": frame(F)}, spy, holding_days=5
        )
        # AMD held 06-16..06-23, F held 06-21..06-28.
        assert port["n_positions"].to_dict() == {
            pd.Timestamp(d): n
            for d, n in [
                ("2016-06-16", 1), ("2016-06-17", 1), ("2016-06-20", 1), ("2016-06-21", 2),
                ("2016-06-22", 2), ("2016-06-23", 2), ("2016-06-24", 1), ("2016-06-27", 1), ("2016-06-28", 1),
            ]
        }  # fmt: skip
        amd, ford, s = raw(AMD), raw(F), raw(SPY_1993)
        d, prev = date(2016, 6, 22), date(2016, 6, 21)
        # Both held on 06-22: AMD close→close, F close→close; SPY mirrors each, so it is SPY's close→close.
        amd_ret = amd[d]["adj"] / amd[prev]["adj"] - 1
        ford_ret = ford[d]["adj"] / ford[prev]["adj"] - 1
        assert port.loc["2016-06-22", "port_ret"] == pytest.approx((amd_ret + ford_ret) / 2, abs=1e-6)
        assert port.loc["2016-06-22", "spy_ret"] == pytest.approx(s[d]["adj"] / s[prev]["adj"] - 1, abs=1e-6)
        # F's entry day 06-21 earns open→close for F and SPY alike, averaged with AMD's close→close day.
        ford_day0 = ford[prev]["adj"] / adj_open(ford[prev]) - 1
        amd_day = amd[prev]["adj"] / amd[date(2016, 6, 20)]["adj"] - 1
        assert port.loc["2016-06-21", "port_ret"] == pytest.approx((ford_day0 + amd_day) / 2, abs=1e-6)

    def test_no_positions_gives_an_empty_frame(self, frame) -> None:
        empty = pd.DataFrame(columns=["cluster_id", "ticker", "entry_date"])
        port = pf.calendar_time_portfolio(empty, {}, frame(SPY_1993))
        assert port.empty
        assert "port_cum" in port.columns

    def test_real_portfolio_runs(self, frame, real_results: pd.DataFrame) -> None:
        results = real_results
        stocks = {"NVDA": frame(NVDA), "AMD": frame(AMD), "F": frame(F)}
        port = pf.calendar_time_portfolio(results, stocks, frame(SPY_1993), holding_days=21)
        assert port["n_positions"].max() <= 6  # 3 tickers, a trigger every 15 sessions, 22-day holds
        assert port["port_ret"].notna().all()
        assert port.index.is_monotonic_increasing
