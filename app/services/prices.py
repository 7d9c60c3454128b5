"""Daily prices (issue 5 §1): CSV import, yfinance refresh (whole refetch when a split or dividend rewrites
the adjusted history), freshness, and the split-adjusted chart basis. Bars are stored as traded (Yahoo's
split-adjusted OHLC × later splits) next to the source's split+dividend-adjusted close."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple, cast

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
from app.prices.yfinance_source import PriceFetch, PriceSourceError, fetch_daily
from app.repositories import prices as prices_repo

# Re-exported so callers need one module: the CLI parses --splits, the dashboard moves trade prices
# onto the chart basis (filed prices stay as filed in the tables; issue 5 §1).
__all__ = ["Split", "parse_splits", "split_factor_after", "to_chart_basis"]

log = logging.getLogger("clusterbuy.prices")

BENCHMARK = "SPY"
SOURCE_YFINANCE = "yfinance"
SOURCE_CSV = "csv"
# Incremental fetches re-read this many calendar days (>= 5 sessions) to check the stored adjustments.
OVERLAP_DAYS = 10
# Relative difference on the overlap that means Yahoo rewrote history (a 0.1% dividend is 1e-3).
ADJ_TOLERANCE = 1e-4
# A bar for today is complete only some minutes after the close (protocol §8.4).
SETTLE_AFTER_CLOSE = timedelta(minutes=15)
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,15}$")

PriceSource = Callable[[str, date | None], PriceFetch]
PriceStatus = Literal["fresh", "stale", "missing"]
RefreshStatus = Literal["created", "appended", "unchanged", "refetched", "failed", "skipped"]


def normalize_ticker(ticker: str) -> str:
    """Return the stored spelling of a ticker (upper case), or raise ValueError for an implausible one."""
    symbol = (ticker or "").strip().upper()
    if not _TICKER.match(symbol):
        raise ValueError(f"not a ticker symbol: {ticker!r}")
    return symbol


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

    stamp = _now(now)
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


# --- refresh from the source -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    ticker: str
    status: RefreshStatus
    bars_written: int = 0
    last_bar_date: date | None = None
    reason: str | None = None  # why the whole series was (re)fetched
    error: str | None = None
    rate_limited: bool = False


def _now(now: datetime | None) -> datetime:
    stamp = now or datetime.now(UTC)
    if stamp.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return stamp


def _clock(today: date | None, now: datetime | None) -> tuple[date, datetime]:
    stamp = _now(now)
    return today or stamp.astimezone(market_calendar.ET).date(), stamp


def _complete_bars(bars: pd.DataFrame, today: date, now: datetime) -> pd.DataFrame:
    """Drop future bars and today's bar unless the session has closed (a live bar is partial)."""
    keep_today = False
    try:
        if market_calendar.is_session(today):
            keep_today = now >= market_calendar.session_close_utc(today) + SETTLE_AFTER_CLOSE
    except ValueError:  # outside the calendar's years: keep only past days
        keep_today = False
    cutoff = pd.Timestamp(today + timedelta(days=1) if keep_today else today)
    return bars.loc[bars.index < cutoff]


def _effective(actions: Iterable[Split], last_day: date) -> list[Split]:
    # Announced actions whose ex-date is still ahead have not touched the adjusted history yet.
    return sorted((d, Decimal(v)) for d, v in actions if d <= last_day)


def _call_source(source: PriceSource, ticker: str, start: date | None) -> PriceFetch:
    try:
        fetch = source(ticker, start)
    except PriceSourceError:
        raise
    except Exception as exc:  # any adapter bug or network error is a failed fetch, not a crash
        raise PriceSourceError(f"{ticker}: {type(exc).__name__}: {exc}", ticker=ticker) from exc
    if fetch.bars.empty:
        raise PriceSourceError(f"{ticker}: the source returned no bars", ticker=ticker)
    return fetch


def _differs(stored: float, fresh: float) -> bool:
    # Stored prices have 6 decimals: allow that rounding on sub-dollar prices as well as the relative bound.
    return abs(stored - fresh) > max(ADJ_TOLERANCE * max(abs(stored), abs(fresh)), 2e-6)


def _adjustment_change(
    session: Session, ticker: str, fetch: PriceFetch, bars: pd.DataFrame, last_day: date, stored: list[Split]
) -> str | None:
    """Say why the stored adjusted history no longer matches the source (None: it still does)."""
    fetched_last = bars.index[-1].date() if not bars.empty else last_day
    known = dict(stored)
    for d, ratio in _effective(fetch.splits, fetched_last):
        if d > last_day:
            return f"new split {d.isoformat()} ({ratio}:1)"
        if d not in known or abs(known[d] - ratio) > Decimal("0.0001"):
            return f"split {d.isoformat()} ({ratio}:1) missing from the stored history"
    for d, amount in _effective(fetch.dividends, fetched_last):
        if d > last_day:
            return f"new dividend {d.isoformat()} ({amount})"
    if bars.empty:
        return None
    factors = SplitFactors(stored)
    overlap = prices_repo.series(session, ticker, start=bars.index[0].date(), end=last_day)
    for row in overlap:
        ts = pd.Timestamp(row.bar_date)
        if ts not in bars.index:
            continue
        fresh = cast(pd.Series, bars.loc[ts])  # one bar per day: a date selects a row, not a frame
        # A late dividend or a Yahoo correction shows as a changed adjusted close on days we hold.
        if _differs(float(row.adj_close), float(fresh["adj_close"])):
            return f"adjusted close of {row.bar_date.isoformat()} changed at the source"
        as_traded = float(fresh["close"]) * float(factors(row.bar_date))
        if _differs(float(row.close), as_traded):
            return f"close of {row.bar_date.isoformat()} changed at the source"
    return None


def refresh_ticker(
    session: Session,
    ticker: str,
    *,
    source: PriceSource = fetch_daily,
    source_name: str = SOURCE_YFINANCE,
    today: date | None = None,
    now: datetime | None = None,
) -> RefreshResult:
    """Bring a ticker's stored series up to date; on a source failure keep it and record the error."""
    symbol = normalize_ticker(ticker)
    today, stamp = _clock(today, now)
    state = prices_repo.get_state(session, symbol)
    _, last_day = prices_repo.bar_date_range(session, symbol)
    old_digest = state.adjustment_digest if state else None
    reason: str | None
    try:
        if last_day is None:
            reason = "no stored bars"
        elif state is None or state.source != source_name:
            reason = f"stored series came from {state.source if state else 'an unknown source'}"
        elif not old_digest:
            reason = "no adjustment digest stored"
        else:
            fetch = _call_source(source, symbol, last_day - timedelta(days=OVERLAP_DAYS))
            bars = _complete_bars(fetch.bars, today, stamp)
            stored_splits = prices_repo.splits(session, symbol)
            reason = _adjustment_change(session, symbol, fetch, bars, last_day, stored_splits)
            if reason is None:
                return _append(session, symbol, bars, stored_splits, last_day, source_name, stamp)
        return _refetch_whole(
            session, symbol, source, source_name, today, stamp, reason, created=not last_day
        )
    except PriceSourceError as exc:
        # Keep every stored bar; the page says "stale" from the dates and shows last_error.
        log.warning("price refresh failed: %s", exc)
        prices_repo.set_state(
            session,
            symbol,
            source=state.source if state else source_name,
            last_attempt_at=stamp,
            last_error=str(exc)[:2000],
        )
        return RefreshResult(
            symbol, "failed", last_bar_date=last_day, error=str(exc), rate_limited=exc.rate_limited
        )


def _append(
    session: Session,
    symbol: str,
    bars: pd.DataFrame,
    stored_splits: list[Split],
    last_day: date,
    source_name: str,
    stamp: datetime,
) -> RefreshResult:
    # Overlap bars are rewritten too: identical within tolerance, and it picks up late volume revisions.
    rows = bar_rows(symbol, bars, stored_splits)
    new = sum(1 for r in rows if r["bar_date"] > last_day)
    with session.begin_nested():
        prices_repo.upsert_bars(session, rows)
        first, last = prices_repo.bar_date_range(session, symbol)
        prices_repo.set_state(
            session,
            symbol,
            source=source_name,
            first_bar_date=first,
            last_bar_date=last,
            last_attempt_at=stamp,
            last_success_at=stamp,
            last_error=None,
        )
    return RefreshResult(symbol, "appended" if new else "unchanged", bars_written=new, last_bar_date=last)


def _refetch_whole(
    session: Session,
    symbol: str,
    source: PriceSource,
    source_name: str,
    today: date,
    stamp: datetime,
    reason: str,
    *,
    created: bool,
) -> RefreshResult:
    fetch = _call_source(source, symbol, None)
    bars = _complete_bars(fetch.bars, today, stamp)
    if bars.empty:
        raise PriceSourceError(f"{symbol}: the source returned no completed bar", ticker=symbol)
    last_fetched = bars.index[-1].date()
    split_list = _effective(fetch.splits, last_fetched)
    rows = bar_rows(symbol, bars, split_list)
    digest = adjustment_digest(split_list, _effective(fetch.dividends, last_fetched))
    with session.begin_nested():
        prices_repo.replace_series(session, symbol, rows)
        prices_repo.replace_splits(session, symbol, split_list)
        prices_repo.set_state(
            session,
            symbol,
            source=source_name,
            first_bar_date=rows[0]["bar_date"],
            last_bar_date=rows[-1]["bar_date"],
            adjustment_digest=digest,
            last_attempt_at=stamp,
            last_success_at=stamp,
            last_error=None,
        )
    log.info("%s: stored the whole series (%d bars): %s", symbol, len(rows), reason)
    return RefreshResult(
        symbol,
        "created" if created else "refetched",
        bars_written=len(rows),
        last_bar_date=last_fetched,
        reason=reason,
    )


@dataclass
class RefreshSummary:
    results: list[RefreshResult] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (rate limit, repeated failures)

    def counts(self) -> dict[str, int]:
        """Return how many tickers ended in each status."""
        return dict(Counter(r.status for r in self.results))


def refresh_many(
    session: Session,
    tickers: Iterable[str],
    *,
    source: PriceSource = fetch_daily,
    source_name: str = SOURCE_YFINANCE,
    today: date | None = None,
    now: datetime | None = None,
    pause_s: float = 0.0,
    max_consecutive_failures: int = 5,
    on_result: Callable[[RefreshResult], None] | None = None,
) -> RefreshSummary:
    """Refresh tickers one by one; stop early on a rate limit or a run of failures (Yahoo blocks)."""
    summary = RefreshSummary()
    ordered: list[str] = []
    for t in tickers:
        try:
            symbol = normalize_ticker(t)
        except ValueError as exc:
            summary.results.append(RefreshResult(str(t), "failed", error=str(exc)))
            continue
        if symbol not in ordered:
            ordered.append(symbol)

    failures = 0
    for i, symbol in enumerate(ordered):
        if summary.stopped:
            result = RefreshResult(symbol, "skipped", error=summary.stopped)
        else:
            if i and pause_s > 0:
                time.sleep(pause_s)  # spacing between Yahoo requests (protocol §8.1)
            try:
                result = refresh_ticker(
                    session, symbol, source=source, source_name=source_name, today=today, now=now
                )
            except Exception as exc:  # a database error on one ticker must not end the run
                log.exception("price refresh of %s crashed", symbol)
                result = RefreshResult(symbol, "failed", error=f"{type(exc).__name__}: {exc}")
            failures = failures + 1 if result.status == "failed" else 0
            if result.rate_limited:
                summary.stopped = f"rate limited at {symbol}; retry in 30-60 minutes"
            elif failures >= max_consecutive_failures:
                summary.stopped = f"{failures} failures in a row; the source may be blocking us"
        summary.results.append(result)
        if on_result:
            on_result(result)
    return summary


def tickers_in_view(session: Session, *, since: date | None = None) -> list[str]:
    """Return the benchmark plus the tickers of issuers with eligible purchases (since a date)."""
    out = [BENCHMARK]
    for t in prices_repo.purchase_tickers(session, since=since):
        try:
            symbol = normalize_ticker(t)
        except ValueError:
            continue
        if symbol not in out:
            out.append(symbol)
    return out


def refresh_for_scheduler(
    session: Session,
    today: date | None = None,
    *,
    source: PriceSource = fetch_daily,
    now: datetime | None = None,
    pause_s: float = 1.0,
    on_result: Callable[[RefreshResult], None] | None = None,
) -> RefreshSummary:
    """Refresh the tickers in view (purchases in the last year, plus SPY): the after-close job body."""
    today, stamp = _clock(today, now)
    tickers = tickers_in_view(session, since=today - timedelta(days=365))
    summary = refresh_many(
        session, tickers, source=source, today=today, now=stamp, pause_s=pause_s, on_result=on_result
    )
    log.info(
        "price refresh: %s%s", summary.counts(), f"; stopped: {summary.stopped}" if summary.stopped else ""
    )
    return summary


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
