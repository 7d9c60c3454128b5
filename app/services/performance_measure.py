"""Measure one cluster's returns vs SPY from its bars: shared by the refresh (the default rule, stored)
and the other N/W rules the performance page measures on request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from app.analytics import market_calendar as mc
from app.analytics import performance as pf
from app.repositories import prices as prices_repo
from app.services.prices import BENCHMARK, usable_ticker

# Bars loaded per cluster: from shortly before the last trade date to ~275 sessions after the trigger
# (a longer gap falls back to the whole series).
WINDOW_BEFORE = timedelta(days=10)
WINDOW_AFTER = timedelta(days=400)
# Insider-timed returns (from the last trade date, not achievable) per cluster, kept as one JSON checkpoint.
INSIDER_SNAPSHOT = "performance.insider"


@dataclass(frozen=True)
class MeasureItem:
    """One cluster to measure: its ticker, trigger (the tradable entry) and last trade date."""

    cluster_id: str
    ticker: str | None
    trigger_at: datetime
    last_trade_date: date


def benchmark_as_of(session: Session, today: date | None) -> date | None:
    """The last complete SPY bar (on or before `today`): windows ending later are 'open'."""
    if today is None:
        return prices_repo.last_bar_dates(session, [BENCHMARK]).get(BENCHMARK)
    _, last = prices_repo.bar_date_range(session, BENCHMARK)
    if last is None or last <= today:
        return last
    frame = prices_repo.series_frame(session, BENCHMARK, end=today)
    return frame.index[-1].date() if len(frame) else None


def bar_window(item: MeasureItem, as_of: date) -> tuple[date, date]:
    """Return the date range of bars that measuring `item` needs (capped at as_of)."""
    trigger_day = item.trigger_at.astimezone(mc.ET).date()
    start = min(trigger_day, item.last_trade_date) - WINDOW_BEFORE
    end = min(max(trigger_day, item.last_trade_date) + WINDOW_AFTER, as_of)
    return start, max(start, end)


def measure(
    item: MeasureItem, stock: pf.Bars | pd.DataFrame, spy: pf.Bars, as_of: date
) -> tuple[list[pf.HorizonResult], list[pf.HorizonResult]]:
    """Return the cluster's returns from the trigger and, for reference, from the last trade."""
    trade = pf.cluster_returns(item.trigger_at, stock, spy, as_of=as_of)
    insider = pf.insider_returns(item.last_trade_date, stock, spy, as_of=as_of)
    return trade, insider


def return_row(cluster_id: str, r: pf.HorizonResult, now: datetime) -> dict[str, Any]:
    """Return one horizon's result as a cluster_return row."""
    if r.status == "ended_early":
        # The series stops before the exit: keep the return up to the last bar, labelled by status.
        stock, spy, exit_date = r.last_return, r.last_spy_return, r.last_date
        excess = None if stock is None or spy is None else round(stock - spy, pf.DIGITS)
    else:
        stock, spy, excess, exit_date = r.stock_return, r.spy_return, r.excess, r.exit_date
    return {
        "cluster_id": cluster_id,
        "horizon": r.horizon,
        "status": r.status,
        "entry_date": r.entry_date,
        "entry_price": None if r.entry_price is None else Decimal(str(r.entry_price)),
        "exit_date": exit_date,
        "stock_return": stock,
        "spy_return": spy,
        "excess_return": excess,
        "computed_at": now,
    }


def clean_ticker(ticker: str | None) -> str | None:
    """Return the normalized ticker, or None for a missing or placeholder one."""
    if not ticker or ticker in {"NONE", "N/A", "NA"}:
        return None
    return usable_ticker(ticker)
