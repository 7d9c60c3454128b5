"""Daily prices from the source (yfinance behind app.prices.yfinance_source): fetch what is new, check the
stored adjustments on an overlap, refetch a ticker whole when a split or dividend rewrote its history, and the
scheduler's after-the-close refresh of the tickers in view plus SPY."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, cast

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_calendar
from app.prices.adjust import Split, SplitFactors, adjustment_digest, bar_rows
from app.prices.yfinance_source import PriceFetch, PriceSourceError, fetch_daily
from app.repositories import prices as prices_repo
from app.services.prices import BENCHMARK, SOURCE_YFINANCE, PriceSource, normalize_ticker, utc_now

log = logging.getLogger("clusterbuy.prices")

# Incremental fetches re-read this many calendar days (>= 5 sessions) to check the stored adjustments.
OVERLAP_DAYS = 10
# Relative difference on the overlap that means Yahoo rewrote history (a 0.1% dividend is 1e-3).
ADJ_TOLERANCE = 1e-4
# A bar for today is complete only some minutes after the close (protocol §8.4).
SETTLE_AFTER_CLOSE = timedelta(minutes=15)
RefreshStatus = Literal["created", "appended", "unchanged", "refetched", "failed", "skipped"]


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


def _clock(today: date | None, now: datetime | None) -> tuple[date, datetime]:
    stamp = utc_now(now)
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
