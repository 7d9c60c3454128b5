"""Job bodies: each opens what it needs and calls one ingest service; stats go into the JobRun row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from app.config import Settings
from app.db import session_scope
from app.ingest import backfill, files, live, reference_sync
from app.ingest.sec_client import EdgarClient


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    engine: Engine


def poll_current(ctx: JobContext) -> dict[str, Any]:
    """Store the Form 4/4A filings that appeared in EDGAR's current feed since the last poll."""
    with EdgarClient(ctx.settings) as client:
        return live.poll_current(client, ctx.engine).as_stats()


def reconcile_daily_index(ctx: JobContext) -> dict[str, Any]:
    """Store whatever the latest business day's daily index lists that the live feed missed."""
    day = backfill.reconcile_target(datetime.now(UTC))
    with EdgarClient(ctx.settings) as client:
        result = backfill.process_day(client, ctx.engine, day)
    return {"day": day.isoformat(), "status": result.status, **result.report.as_stats()}


def refresh_tickers(ctx: JobContext) -> dict[str, Any]:
    """Load today's ticker/CIK/exchange map and extend the ticker history."""
    with EdgarClient(ctx.settings) as client:
        return reference_sync.refresh_tickers(client, ctx.engine).as_stats()


def refresh_issuers(ctx: JobContext) -> dict[str, Any]:
    """Refresh SIC/sector/exchange and 8-K events of issuers with recent eligible purchases."""
    with EdgarClient(ctx.settings) as client:
        return reference_sync.refresh_issuers(client, ctx.engine).as_stats()


def refresh_prices(ctx: JobContext) -> dict[str, Any]:
    """Fetch the day's bars for tickers in view plus SPY (whole series again after a split/dividend)."""
    from app.services import price_refresh

    with session_scope(ctx.engine, write=True) as session:
        summary = price_refresh.refresh_for_scheduler(session)
    # New bars change every stored dashboard's series: rebuilt now rather than on each one's next view.
    dashboards = files.refresh_dashboards(ctx.engine)
    return {"tickers": summary.counts(), "stopped": summary.stopped, "dashboards_rebuilt": dashboards}


def refresh_performance(ctx: JobContext) -> dict[str, Any]:
    """Measure new and still-open clusters against SPY from the refreshed prices; update market pulse."""
    from app.services import performance_refresh as performance_refresh_service

    with session_scope(ctx.engine, write=True) as session:
        report = performance_refresh_service.refresh_for_scheduler(session)
    return {
        "as_of": str(report.as_of),
        "computed": report.computed,
        "unchanged": report.unchanged,
        "no_ticker": report.no_ticker,
        "no_prices": report.no_prices,
        "error": report.error,
    }
