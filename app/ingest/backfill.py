"""Daily-index backfill and reconcile: walk days newest first, store every Form 4/4A each index lists.

BackfillDay rows are the checkpoints: a day becomes `done` only after each of its filings is stored or
recorded as an ingest error, so a run stopped at any point resumes without losing or refetching anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.db import session_scope
from app.errors import EdgarBlockedError, EdgarFetchError
from app.ingest.daily_index import fetch_daily_index, form4_accessions
from app.ingest.pipeline import (
    FilingRef,
    PipelineReport,
    ingest_filings,
    record_edgar_health,
    refresh_clusters_of_accessions,
)
from app.ingest.sec_client import EdgarClient
from app.repositories import ops as ops_repo

log = logging.getLogger(__name__)

EASTERN = ZoneInfo("America/New_York")
# EDGAR builds a day's index from about 22:00 ET; before that a missing index may just be "not yet".
INDEX_READY_AT = time(22, 0)


@dataclass
class DayResult:
    day: date
    status: str  # done | no_index | pending | skipped
    report: PipelineReport = field(default_factory=PipelineReport)


@dataclass
class BackfillReport:
    days_total: int = 0
    days_done: int = 0
    days_no_index: int = 0
    days_skipped: int = 0  # already done by an earlier run
    stopped: str | None = None  # why the run ended early (SEC block, index fetch failure)
    filings: PipelineReport = field(default_factory=PipelineReport)

    def as_stats(self) -> dict[str, Any]:
        """Return the counts as a JSON-able dict."""
        return {
            "days": self.days_total,
            "days_done": self.days_done,
            "days_no_index": self.days_no_index,
            "days_skipped": self.days_skipped,
            **self.filings.as_stats(),
            **({"stopped": self.stopped} if self.stopped else {}),
        }


def days_newest_first(since: date, until: date) -> Iterator[date]:
    """Yield every calendar day from `until` back to `since`, inclusive."""
    day = until
    while day >= since:
        yield day
        day -= timedelta(days=1)


def index_may_still_appear(day: date, now: datetime) -> bool:
    """Tell whether a missing index for `day` may just not be built yet (it is not final before D+1)."""
    local = now.astimezone(EASTERN)
    return day >= local.date() - timedelta(days=1)


def process_day(
    client: EdgarClient,
    engine: Engine,
    day: date,
    *,
    now: datetime | None = None,
    on_listed: Callable[[int], None] | None = None,
    on_filing: Callable[[str, str], None] | None = None,
) -> DayResult:
    """Fetch one day's form index and store its Form 4/4A filings; the reconcile job runs exactly this.

    Raises EdgarFetchError when the index itself cannot be fetched; an SEC block leaves the day pending
    (result status "pending", report.blocked set).
    """
    now = now or datetime.now(UTC)
    if day.weekday() >= 5:
        # EDGAR is closed on weekends: no index is published, so none is requested.
        _set_day(engine, day, "no_index", 0, 0, 0)
        return DayResult(day, "no_index")
    entries = fetch_daily_index(client, day)
    record_edgar_health(engine, ok=True)
    if entries is None:
        status = "pending" if index_may_still_appear(day, now) else "no_index"
        _set_day(engine, day, status, 0, 0, 0)
        return DayResult(day, status)

    refs = [FilingRef(e.cik, e.accession) for e in form4_accessions(entries)]
    accessions = [r.accession for r in refs]
    # Pending first: the listed count is on record before any filing is fetched.
    _set_day(engine, day, "pending", len(refs), 0, 0)
    if on_listed:
        on_listed(len(refs))
    report = ingest_filings(client, engine, refs, on_progress=on_filing)
    # Issuers of every stored filing of the day, not only this run's: a killed run may have stored
    # filings without refreshing their clusters.
    refresh_clusters_of_accessions(engine, accessions)
    with session_scope(engine) as session:
        stored = len(ops_repo.stored_accessions(session, accessions))
    if report.blocked:
        _set_day(engine, day, "pending", len(refs), stored, 0)
        return DayResult(day, "pending", report)
    _set_day(engine, day, "done", len(refs), stored, len(refs) - stored)
    return DayResult(day, "done", report)


def backfill(
    client: EdgarClient,
    engine: Engine,
    since: date,
    until: date,
    *,
    retry_failed: bool = False,
    now: datetime | None = None,
    on_day_start: Callable[[date, int], None] | None = None,
    on_day_done: Callable[[DayResult], None] | None = None,
    on_filing: Callable[[str, str], None] | None = None,
) -> BackfillReport:
    """Backfill `since`..`until` newest day first, skipping days already done (or with no index)."""
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    report = BackfillReport()
    days = list(days_newest_first(since, until))
    report.days_total = len(days)
    with session_scope(engine) as session:
        known = {d: (r.status, r.filings_failed) for d, r in ops_repo.backfill_days(session, days).items()}
    for day in days:
        status, failed = known.get(day, ("", 0))
        if status == "no_index" or (status == "done" and not (retry_failed and failed)):
            report.days_skipped += 1
            if on_day_done:
                on_day_done(DayResult(day, "skipped"))
            continue
        try:
            result = process_day(
                client,
                engine,
                day,
                now=now,
                on_listed=(lambda n, d=day: on_day_start(d, n)) if on_day_start else None,  # type: ignore[misc]
                on_filing=on_filing,
            )
        except EdgarBlockedError as exc:
            report.stopped = str(exc)
            record_edgar_health(engine, ok=False, error=str(exc))
            break
        except EdgarFetchError as exc:
            # The index itself failed after the client's retries: EDGAR is likely unreachable, and
            # walking on would only fail day after day. Stop; the next run resumes here.
            report.stopped = f"daily index for {day}: {exc}"
            record_edgar_health(engine, ok=False, error=str(exc))
            break
        report.filings.merge(result.report)
        if result.status == "done":
            report.days_done += 1
        elif result.status == "no_index":
            report.days_no_index += 1
        if on_day_done:
            on_day_done(result)
        if result.report.blocked:
            report.stopped = result.report.blocked
            break
    return report


def reconcile_target(now: datetime) -> date:
    """The business day whose index the reconcile job should check at `now`.

    After 22:00 ET that is today (the index is being built); before, the previous business day.
    """
    local = now.astimezone(EASTERN)
    day = local.date() if local.time() >= INDEX_READY_AT else local.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _set_day(engine: Engine, day: date, status: str, listed: int, stored: int, failed: int) -> None:
    with session_scope(engine, write=True) as session:
        ops_repo.set_backfill_day(
            session,
            day,
            status=status,
            listed=listed,
            stored=stored,
            failed=failed,
            now=datetime.now(UTC),
        )
