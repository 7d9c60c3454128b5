"""Did cluster buys beat the S&P 500? Horizon returns vs SPY, month-block bootstrap, calendar-time portfolio.

Implements DESIGN §2 "Performance vs S&P 500"; methods from reference/evidence.md §2.2–§2.6.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Literal, TypedDict, Unpack
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from app.analytics import market_calendar as mc

HORIZONS: dict[str, int] = {"1w": 5, "1m": 21, "3m": 63, "6m": 126, "1y": 252}
# Returns are ratios, not money: floats, rounded to 6 places (0.0001 %) for display and storage.
DIGITS = 6
ET = ZoneInfo("America/New_York")

Status = Literal["done", "open", "ended_early", "no_entry"]


@dataclass(frozen=True, slots=True)
class HorizonResult:
    """One cluster at one horizon; returns are fractions (0.05 = +5 %)."""

    horizon: str
    days: int
    status: Status
    entry_session: date | None  # the calendar session the rule asks for
    entry_date: date | None  # the bar actually used (later when the stock has no bar that day)
    entry_shifted: bool
    exit_date: date | None
    entry_price: float | None  # adjusted open (adjusted close for the insider's return)
    exit_price: float | None  # adjusted close
    stock_return: float | None
    spy_return: float | None
    excess: float | None
    # ended_early only: the last available bar and the returns up to it (DESIGN §2: counted, not dropped).
    last_date: date | None = None
    last_return: float | None = None
    last_spy_return: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the fields as a plain dict."""
        return asdict(self)


class _Outcome(TypedDict, total=False):
    """The HorizonResult fields a measured horizon sets beyond its entry."""

    exit_date: date | None
    exit_price: float | None
    stock_return: float | None
    spy_return: float | None
    excess: float | None
    last_date: date | None
    last_return: float | None
    last_spy_return: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """Cross-sectional statistics of one horizon over the matured ("done") clusters."""

    horizon: str
    n: int
    mean: float | None
    median: float | None
    hit_rate: float | None  # share with excess > 0
    share_positive: float | None  # share with absolute stock return > 0
    ci_low: float | None  # bootstrap 95 % interval of the mean excess, resampling trigger months
    ci_high: float | None
    n_open: int
    n_ended_early: int
    n_no_entry: int = 0
    n_no_benchmark: int = 0  # done, but SPY has no bar on the entry or exit date
    n_months: int = 0


def _round(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), DIGITS)


@dataclass(frozen=True, slots=True)
class _Bars:
    """Usable bars of one ticker up to as_of, as arrays (dates as datetime64[D])."""

    dates: np.ndarray
    adj_open: np.ndarray
    adj_close: np.ndarray

    @property
    def n(self) -> int:
        return len(self.dates)

    def day(self, i: int) -> date:
        d: date = self.dates[i].astype(date)
        return d

    def find(self, d: date) -> int | None:
        i = int(np.searchsorted(self.dates, np.datetime64(d, "D")))
        return i if i < self.n and self.dates[i] == np.datetime64(d, "D") else None


def _day_array(index: pd.Index) -> np.ndarray:
    idx = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(pd.to_datetime(index))
    if idx.tz is not None:
        idx = idx.tz_localize(None)  # keep the exchange-local calendar date
    return idx.to_numpy().astype("datetime64[D]")


def _bars(frame: pd.DataFrame, as_of: date) -> _Bars:
    missing = [c for c in ("open", "close", "adj_close") if c not in frame.columns]
    if missing:
        raise ValueError(f"price frame is missing columns: {', '.join(missing)}")
    op, close, adj = (frame[c].to_numpy(dtype="float64") for c in ("open", "close", "adj_close"))
    return bars_from_arrays(_day_array(frame.index), op, close, adj, as_of)


def bars_from_arrays(
    days: np.ndarray, op: np.ndarray, close: np.ndarray, adj: np.ndarray, as_of: date
) -> _Bars:
    """Build prepared bars from aligned arrays (dates as datetime64[D]; open, close, adj_close floats)."""
    # NO LOOK-AHEAD: everything dated after as_of is cut before a single price is read.
    days = np.asarray(days).astype("datetime64[D]")
    keep = np.flatnonzero(days <= np.datetime64(as_of, "D"))
    keep = keep[np.argsort(days[keep], kind="stable")]
    dates = days[keep]
    op, close, adj = (np.asarray(x, dtype="float64")[keep] for x in (op, close, adj))
    # A bar needs a positive close and adjusted close to exist at all; duplicates keep the last row.
    ok = np.isfinite(close) & (close > 0) & np.isfinite(adj) & (adj > 0)
    if len(dates) > 1:
        ok &= np.append(dates[1:] != dates[:-1], True)
    dates, op, close, adj = dates[ok], op[ok], close[ok], adj[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        # DESIGN §2: adjusted open = open × adj_close / close (same-day split and dividend factor).
        adj_open = np.where(np.isfinite(op) & (op > 0), op * adj / close, np.nan)
    return _Bars(dates=dates, adj_open=adj_open, adj_close=adj)


Bars = _Bars


def prepare_bars(frame: pd.DataFrame, as_of: date) -> _Bars:
    """Cut a price frame at as_of and build its adjusted arrays once (reuse for many clusters of a ticker)."""
    return _bars(frame, as_of)


def _ratio(end: float, start: float) -> float | None:
    if not (math.isfinite(end) and math.isfinite(start)) or start <= 0:
        return None
    return end / start - 1.0


def _expected_exit(last_bar: date, remaining: int) -> date | None:
    try:
        return mc.add_sessions(last_bar, remaining)
    except ValueError:
        return None  # beyond the calendar's range: necessarily in the future


def _measure(
    stock: _Bars,
    spy: _Bars,
    *,
    entry_session: date,
    entry_at_open: bool,
    as_of: date,
    horizons: Mapping[str, int],
) -> list[HorizonResult]:
    def blank(label: str, days: int, status: Status) -> HorizonResult:
        return HorizonResult(
            label, days, status, entry_session, None, False, None, None, None, None, None, None
        )

    if entry_session > as_of:
        return [blank(label, days, "open") for label, days in horizons.items()]
    entry_prices = stock.adj_open if entry_at_open else stock.adj_close
    start = int(np.searchsorted(stock.dates, np.datetime64(entry_session, "D")))
    # The entry bar is the entry session's, or the next usable one (flagged) when it is missing.
    usable = np.flatnonzero(np.isfinite(entry_prices[start:]))
    if usable.size == 0:
        return [blank(label, days, "no_entry") for label, days in horizons.items()]
    entry_pos = start + int(usable[0])
    entry_date = stock.day(entry_pos)
    entry_price = float(entry_prices[entry_pos])
    shifted = entry_date != entry_session

    spy_entry_pos = spy.find(entry_date)
    spy_entry: float | None = None
    if spy_entry_pos is not None:
        spy_entry = float((spy.adj_open if entry_at_open else spy.adj_close)[spy_entry_pos])

    def spy_return_to(d: date) -> float | None:
        # SPY over the identical window: same entry date and price type, same exit date close.
        pos = spy.find(d)
        if spy_entry is None or pos is None:
            return None
        return _ratio(float(spy.adj_close[pos]), spy_entry)

    def result(label: str, days: int, status: Status, **fields: Unpack[_Outcome]) -> HorizonResult:
        base = HorizonResult(
            label,
            days,
            status,
            entry_session,
            entry_date,
            shifted,
            None,
            _round(entry_price),
            None,
            None,
            None,
            None,
        )
        return replace(base, **fields)

    out: list[HorizonResult] = []
    for label, days in horizons.items():
        # Day 0 is the entry bar; the exit is h bars later in the stock's own series (DESIGN §2).
        exit_pos = entry_pos + days
        if exit_pos < stock.n:
            exit_date = stock.day(exit_pos)
            exit_price = float(stock.adj_close[exit_pos])
            stock_ret = _ratio(exit_price, entry_price)
            spy_ret = spy_return_to(exit_date)
            excess = None if stock_ret is None or spy_ret is None else stock_ret - spy_ret
            out.append(
                result(
                    label,
                    days,
                    "done",
                    exit_date=exit_date,
                    exit_price=_round(exit_price),
                    stock_return=_round(stock_ret),
                    spy_return=_round(spy_ret),
                    excess=_round(excess),
                )
            )
            continue
        last_date = stock.day(stock.n - 1)
        expected = _expected_exit(last_date, exit_pos - (stock.n - 1))
        if expected is None or expected > as_of:
            out.append(result(label, days, "open"))
            continue
        # The series stops although as_of is past the exit: delisted or missing data (evidence §2.6).
        out.append(
            result(
                label,
                days,
                "ended_early",
                last_date=last_date,
                last_return=_round(_ratio(float(stock.adj_close[-1]), entry_price)),
                last_spy_return=_round(spy_return_to(last_date)),
            )
        )
    return out


def _as_bars(prices: pd.DataFrame | _Bars, as_of: date) -> _Bars:
    if isinstance(prices, _Bars):
        # NO LOOK-AHEAD holds for prepared bars too: nothing after as_of is visible.
        keep = int(np.searchsorted(prices.dates, np.datetime64(as_of, "D"), side="right"))
        if keep == prices.n:
            return prices
        return _Bars(prices.dates[:keep], prices.adj_open[:keep], prices.adj_close[:keep])
    return _bars(prices, as_of)


def _check_aware(ts: datetime) -> None:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("trigger_at_utc must be timezone-aware")


def cluster_returns(
    trigger_at_utc: datetime,
    stock_prices: pd.DataFrame | _Bars,
    spy_prices: pd.DataFrame | _Bars,
    *,
    as_of: date,
    horizons: Mapping[str, int] = HORIZONS,
) -> list[HorizonResult]:
    """Measure a cluster from the first regular open after its trigger, per horizon, against SPY."""
    # Frames or prepare_bars() results (cut at the same as_of): prepared bars skip the per-call rebuild.
    _check_aware(trigger_at_utc)
    entry_session = mc.next_session_open_after(trigger_at_utc)
    return _measure(
        _as_bars(stock_prices, as_of),
        _as_bars(spy_prices, as_of),
        entry_session=entry_session,
        entry_at_open=True,
        as_of=as_of,
        horizons=horizons,
    )


def insider_returns(
    last_trade_date: date,
    stock_prices: pd.DataFrame | _Bars,
    spy_prices: pd.DataFrame | _Bars,
    *,
    as_of: date,
    horizons: Mapping[str, int] = HORIZONS,
) -> list[HorizonResult]:
    """Measure from the adjusted close of the last trade date: the insider's return, not achievable."""
    # evidence §2.2: informational only; the public learns of the trade at the filing, later.
    return _measure(
        _as_bars(stock_prices, as_of),
        _as_bars(spy_prices, as_of),
        entry_session=last_trade_date,
        entry_at_open=False,
        as_of=as_of,
        horizons=horizons,
    )


def results_frame(runs: Iterable[tuple[Mapping[str, object], Sequence[HorizonResult]]]) -> pd.DataFrame:
    """Flatten (cluster fields, horizon results) pairs into one row per cluster and horizon."""
    rows = [{**fields, **r.to_dict()} for fields, results in runs for r in results]
    return pd.DataFrame(rows)


def _month_keys(trigger_at: pd.Series) -> np.ndarray:
    # Calendar months of the trigger in US/Eastern, like the weekly page (DESIGN §2).
    local = pd.to_datetime(trigger_at, utc=True).dt.tz_convert(ET)
    return (local.dt.year * 12 + local.dt.month - 1).to_numpy()


def summarize(results_df: pd.DataFrame, *, horizon: str, seed: int, n_boot: int = 2000) -> Summary:
    """Summarize one horizon: N, mean/median excess, hit rate, share positive, month-block bootstrap CI."""
    rows = results_df[results_df["horizon"] == horizon]
    status = rows["status"]
    done = rows[(status == "done") & rows["excess"].notna()]
    counts = {
        "n_open": int((status == "open").sum()),
        "n_ended_early": int((status == "ended_early").sum()),
        "n_no_entry": int((status == "no_entry").sum()),
        "n_no_benchmark": int(((status == "done") & rows["excess"].isna()).sum()),
    }
    n = len(done)
    if n == 0:
        return Summary(horizon, 0, None, None, None, None, None, None, **counts)
    excess = done["excess"].to_numpy(dtype="float64")
    stock = done["stock_return"].to_numpy(dtype="float64")
    months, codes = np.unique(_month_keys(done["trigger_at"]), return_inverse=True)
    ci_low = ci_high = None
    if len(months) >= 2:
        # evidence §2.5: events cluster in time, so resample whole trigger months, not single events.
        rng = np.random.default_rng(seed)
        sums = np.bincount(codes, weights=excess)
        sizes = np.bincount(codes)
        draws = rng.integers(0, len(months), size=(n_boot, len(months)))
        means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
        ci_low, ci_high = (float(q) for q in np.quantile(means, [0.025, 0.975]))
    return Summary(
        horizon=horizon,
        n=n,
        mean=_round(float(excess.mean())),
        median=_round(float(np.median(excess))),
        hit_rate=_round(float((excess > 0).mean())),
        share_positive=_round(float((stock > 0).mean())),
        ci_low=_round(ci_low),
        ci_high=_round(ci_high),
        n_months=len(months),
        **counts,
    )


def _held_returns(bars: _Bars, first: int, last: int, days: np.ndarray) -> np.ndarray:
    """Daily returns of one holding on the given grid days (bought at the open of bar `first`)."""
    # Value each grid day at the last bar on or before it (capped at the exit bar): a day without a
    # bar earns 0 and the move lands on the next bar. Day 0 earns open→close, later days close→close,
    # so the product over the holding is adj_close[last] / adj_open[first] - 1, the horizon return.
    pos = np.minimum(np.searchsorted(bars.dates, days, side="right") - 1, last)
    values = bars.adj_close[pos]
    prev = np.concatenate(([bars.adj_open[first]], values[:-1]))
    held: np.ndarray = values / prev - 1.0
    return held


def calendar_time_portfolio(
    results_df: pd.DataFrame,
    stock_prices: Mapping[str, pd.DataFrame | _Bars],
    spy_prices: pd.DataFrame | _Bars,
    *,
    holding_days: int = 21,
    as_of: date | None = None,
) -> pd.DataFrame:
    """Return the daily equal-weight portfolio of held clusters vs SPY over the same days, cumulated."""
    # evidence §2.5 (JMZ style), kept simple:
    # - each cluster (rows with cluster_id, ticker, entry_date) is bought at its entry open and held
    #   for holding_days of its own bars (or until its bars end: delisting proceeds are not modelled);
    # - the day grid is SPY's trading days (edgar-protocol §8.2);
    # - each day, the portfolio return is the equal-weight mean over the clusters held that day
    #   (rebalanced daily); the benchmark mirrors every holding with SPY over the same days;
    # - days without holdings earn 0 (cash); *_cum columns compound the daily returns.
    as_of = as_of or date.max
    spy = _as_bars(spy_prices, as_of)
    entries = results_df.dropna(subset=["entry_date"]).drop_duplicates(subset=["cluster_id"])
    holdings: list[tuple[_Bars, int, int]] = []
    bars_by_ticker: dict[str, _Bars] = {}
    for ticker, entry_date in zip(entries["ticker"], entries["entry_date"], strict=True):
        if ticker not in stock_prices:
            continue
        if ticker not in bars_by_ticker:
            bars_by_ticker[ticker] = _as_bars(stock_prices[ticker], as_of)
        bars = bars_by_ticker[ticker]
        first = bars.find(entry_date)
        if first is not None and math.isfinite(bars.adj_open[first]):
            holdings.append((bars, first, min(first + holding_days, bars.n - 1)))

    columns = ["n_positions", "port_ret", "spy_ret", "excess_ret", "port_cum", "spy_cum", "excess_cum"]
    spans = [(bars.dates[first], bars.dates[last]) for bars, first, last in holdings]
    grid = spy.dates
    if spans:
        grid = grid[(grid >= min(s for s, _ in spans)) & (grid <= max(e for _, e in spans))]
    if not spans or grid.size == 0:
        return pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="date"))

    stock_sum = np.zeros(grid.size)
    spy_sum = np.zeros(grid.size)
    n_held = np.zeros(grid.size, dtype="int64")
    spy_offset = int(np.searchsorted(spy.dates, grid[0]))
    for (bars, first, last), (start, end) in zip(holdings, spans, strict=True):
        lo, hi = np.searchsorted(grid, start), np.searchsorted(grid, end, side="right")
        if hi <= lo:
            continue
        days = grid[lo:hi]
        stock_sum[lo:hi] += _held_returns(bars, first, last, days)
        spy_sum[lo:hi] += _held_returns(spy, spy_offset + lo, spy_offset + hi - 1, days)
        n_held[lo:hi] += 1
    held = np.maximum(n_held, 1)
    port = np.where(n_held > 0, stock_sum / held, 0.0)
    bench = np.where(n_held > 0, spy_sum / held, 0.0)
    port_cum = np.cumprod(1.0 + port) - 1.0
    spy_cum = np.cumprod(1.0 + bench) - 1.0
    out = pd.DataFrame(
        {
            "n_positions": n_held,
            "port_ret": port,
            "spy_ret": bench,
            "excess_ret": port - bench,
            "port_cum": port_cum,
            "spy_cum": spy_cum,
            "excess_cum": port_cum - spy_cum,
        },
        index=pd.DatetimeIndex(grid.astype("datetime64[ns]"), name="date"),
    )
    return out.round({c: DIGITS for c in columns if c != "n_positions"})
