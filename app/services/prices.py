"""Daily prices (issue 5 §1): CSV import, yfinance refresh (whole refetch when a split or dividend rewrites
the adjusted history), freshness, and the split-adjusted chart basis. Bars are stored as traded (Yahoo's
split-adjusted OHLC × later splits) next to the source's split+dividend-adjusted close."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_calendar
from app.prices.adjust import (
    PRICE_Q,
    Basis,
    Split,
    SplitFactors,
    adjustment_digest,
    bar_rows,
    detect_csv_basis,
    parse_splits,
    split_factor_after,
    to_chart_basis,
)
from app.prices.csv_import import CsvSource, read_price_csv
from app.prices.yfinance_source import PriceFetch
from app.repositories import prices as prices_repo

# Re-exported so callers need one module: the CLI parses --splits, the dashboard moves trade prices
# onto the chart basis (filed prices stay as filed in the tables; issue 5 §1).
__all__ = ["Split", "parse_splits", "split_factor_after", "to_chart_basis"]

log = logging.getLogger("clusterbuy.prices")

BENCHMARK = "SPY"
SOURCE_YFINANCE = "yfinance"
SOURCE_CSV = "csv"
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,15}$")

PriceSource = Callable[[str, date | None], PriceFetch]
PriceStatus = Literal["fresh", "stale", "missing"]


def normalize_ticker(ticker: str) -> str:
    """Return the stored spelling of a ticker (upper case), or raise ValueError for an implausible one."""
    symbol = (ticker or "").strip().upper()
    if not _TICKER.match(symbol):
        raise ValueError(f"not a ticker symbol: {ticker!r}")
    return symbol


def usable_ticker(ticker: str | None) -> str | None:
    """The ticker's stored spelling, or None when there is none or it is not a plausible symbol."""
    if not ticker:
        return None
    try:
        return normalize_ticker(ticker)
    except ValueError:
        return None


# --- the chart basis ---------------------------------------------------------------------------------


class ChartBar(NamedTuple):
    bar_date: date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal
    adj_close: Decimal
    volume: int | None


def series_for_chart(
    session: Session, ticker: str, start: date | None = None, end: date | None = None
) -> list[ChartBar]:
    """Return bars on the split-adjusted basis: as-traded OHLC ÷ later splits, volume × later splits."""
    # Split-adjusted but NOT dividend-adjusted (Yahoo's own "Close" basis): a split changes the unit of a
    # share, a dividend does not, so filed trade prices put through to_chart_basis land on the line
    # and the axis shows prices a user can look up. Returns use adj_close (kept as stored).
    symbol = normalize_ticker(ticker)
    factors = SplitFactors(prices_repo.splits(session, symbol))
    out: list[ChartBar] = []
    for r in prices_repo.series(session, symbol, start=start, end=end):
        f = factors(r.bar_date)
        if f == 1:
            out.append(ChartBar(r.bar_date, r.open, r.high, r.low, r.close, r.adj_close, r.volume))
            continue
        out.append(
            ChartBar(
                r.bar_date,
                None if r.open is None else (r.open / f).quantize(PRICE_Q),
                None if r.high is None else (r.high / f).quantize(PRICE_Q),
                None if r.low is None else (r.low / f).quantize(PRICE_Q),
                (r.close / f).quantize(PRICE_Q),
                r.adj_close,
                None if r.volume is None else int((r.volume * f).to_integral_value()),
            )
        )
    return out


def chart_frame(
    session: Session,
    ticker: str,
    start: date | None = None,
    end: date | None = None,
    *,
    splits: Sequence[Split] | None = None,
) -> pd.DataFrame:
    """Return series_for_chart's values as floats by date (open…volume): the fast path for plotting.

    `splits`: the ticker's stored splits when the caller has already read them."""
    symbol = normalize_ticker(ticker)
    frame = prices_repo.series_frame(session, symbol, start=start, end=end)
    splits = sorted(prices_repo.splits(session, symbol) if splits is None else splits)
    if not splits or frame.empty:
        return frame
    ex_dates = np.array([np.datetime64(d, "ns") for d, _ in splits])
    suffix = np.ones(len(splits) + 1)
    for i in range(len(splits) - 1, -1, -1):
        suffix[i] = suffix[i + 1] * float(splits[i][1])
    # Same rule as SplitFactors: splits whose ex-date is strictly after the bar's date.
    factor = suffix[np.searchsorted(ex_dates, frame.index.to_numpy(), side="right")]
    for col in ("open", "high", "low", "close"):
        frame[col] = frame[col].to_numpy() / factor
    frame["volume"] = frame["volume"].to_numpy() * factor
    return frame


# --- CSV import ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    ticker: str
    bars: int
    first_date: date
    last_date: date
    rows_read: int
    rows_dropped: int
    basis: Basis
    basis_checked_at: list[date]  # in-range split dates the basis was detected from (empty: assumed)
    splits: list[Split]


def import_csv(
    session: Session,
    path: CsvSource,
    ticker: str,
    splits: Sequence[Split] | None = None,
    *,
    basis: Basis | Literal["auto"] = "auto",
    replace: bool = False,
    now: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Load a daily price CSV for a ticker (merged into what is stored, or replacing it)."""
    symbol = normalize_ticker(ticker)
    frame = read_price_csv(path)  # ValueError names the problem (missing column, no usable row)
    split_list = sorted((d, Decimal(r)) for d, r in (splits or []))
    if basis == "auto":
        detected, checked = detect_csv_basis(frame, split_list)
        # Yahoo, yfinance, Stooq and most exports adjust for every split up to the download date.
        chosen: Basis = detected or "split_adjusted"
    else:
        chosen, checked = basis, []
    rows = bar_rows(symbol, frame, split_list if chosen == "split_adjusted" else [])

    if replace:
        prices_repo.delete_bars(session, symbol)
        prices_repo.replace_splits(session, symbol, split_list)
    else:
        prices_repo.upsert_splits(session, symbol, split_list)
    step = 2000
    for i in range(0, len(rows), step):
        prices_repo.upsert_bars(session, rows[i : i + step])
        if on_progress:
            on_progress(min(i + step, len(rows)), len(rows))

    stamp = utc_now(now)
    first, last = prices_repo.bar_date_range(session, symbol)
    prices_repo.set_state(
        session,
        symbol,
        source=SOURCE_CSV,
        first_bar_date=first,
        last_bar_date=last,
        adjustment_digest=adjustment_digest(prices_repo.splits(session, symbol), []),
        last_attempt_at=stamp,
        last_success_at=stamp,
        last_error=None,
    )
    return ImportReport(
        ticker=symbol,
        bars=len(rows),
        first_date=frame.index[0].date(),
        last_date=frame.index[-1].date(),
        rows_read=int(frame.attrs.get("rows_read", len(frame))),
        rows_dropped=int(frame.attrs.get("rows_dropped", 0)),
        basis=chosen,
        basis_checked_at=checked,
        splits=split_list,
    )


def utc_now(now: datetime | None) -> datetime:
    stamp = now or datetime.now(UTC)
    if stamp.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return stamp


# --- freshness -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceFreshness:
    status: PriceStatus
    last_bar_date: date | None
    source: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


def _status(last_day: date | None, today: date) -> PriceStatus:
    if last_day is None:
        return "missing"
    try:
        expected = market_calendar.previous_session(today)
    except ValueError:  # outside the calendar's years
        expected = today - timedelta(days=1)
    # Before today's close the latest possible complete bar is the previous session's.
    return "fresh" if last_day >= expected else "stale"


def price_status(session: Session, ticker: str, today: date) -> PriceStatus:
    """Return fresh, stale (last bar before the previous session) or missing (no bars)."""
    symbol = normalize_ticker(ticker)
    return _status(prices_repo.last_bar_dates(session, [symbol]).get(symbol), today)


def price_freshness(session: Session, ticker: str, today: date) -> PriceFreshness:
    """Return the status with what the page needs to explain it (last bar, last error, source)."""
    symbol = normalize_ticker(ticker)
    last_day = prices_repo.last_bar_dates(session, [symbol]).get(symbol)
    state = prices_repo.get_state(session, symbol)
    return PriceFreshness(
        status=_status(last_day, today),
        last_bar_date=last_day,
        source=state.source if state else None,
        last_attempt_at=state.last_attempt_at if state else None,
        last_success_at=state.last_success_at if state else None,
        last_error=state.last_error if state else None,
    )
