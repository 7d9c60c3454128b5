"""The one list of scheduled jobs: name (domain.verb) → function, UTC trigger, and an ET guard.

Triggers are pinned to UTC (STYLE rule 7). EDGAR keeps US/Eastern hours, whose UTC offset moves with
DST, so ET-bound jobs fire over the union of both offsets and an `active` guard (evaluated in
America/New_York) skips the runs that fall outside ET hours. Daily jobs pick UTC times that land in a
good ET window under both offsets instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from app.jobs import tasks

EASTERN = ZoneInfo("America/New_York")
# EDGAR accepts filings 06:00-22:00 ET on business days (protocol §4); Form 4s accepted at 22:00 reach
# the feed a minute later, hence the short tail.
EDGAR_OPEN, EDGAR_CLOSE = time(6, 0), time(22, 15)


def edgar_hours(now: datetime) -> bool:
    """Tell whether `now` falls in EDGAR's business hours (Mon-Fri 06:00-22:15 ET)."""
    local = now.astimezone(EASTERN)
    return local.weekday() < 5 and EDGAR_OPEN <= local.time() <= EDGAR_CLOSE


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[tasks.JobContext], dict[str, Any]]
    trigger: BaseTrigger
    description: str
    active: Callable[[datetime], bool] | None = None  # runs outside it are skipped (no JobRun row)
    misfire_grace_s: int = 60

    def next_run(self, now: datetime) -> datetime | None:
        """Return the next time this job will actually run after `now` (guard applied)."""
        previous: datetime | None = None
        when: datetime | None = self.trigger.get_next_fire_time(previous, now)
        # The guard rejects at most a few hours of fire times (the DST overlap, nights, weekends).
        for _ in range(5000):
            if when is None or self.active is None or self.active(when):
                return when
            previous = when
            when = self.trigger.get_next_fire_time(previous, when + timedelta(seconds=1))
        return None


def _utc_cron(**fields: Any) -> CronTrigger:
    return CronTrigger(timezone=UTC, **fields)


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "edgar.poll_current",
            tasks.poll_current,
            # 06:00-22:15 ET is 10:00-02:15 UTC in summer and 11:00-03:15 UTC in winter; a weekday evening
            # in ET is already the next UTC day, hence the second trigger (Tue-Sat, 00:00-03:59 UTC).
            OrTrigger(
                [
                    _utc_cron(day_of_week="mon-fri", hour="10-23", minute="*/2"),
                    _utc_cron(day_of_week="tue-sat", hour="0-3", minute="*/2"),
                ]
            ),
            "Poll EDGAR's current feed for new Form 4/4A every 2 minutes during EDGAR hours (ET).",
            active=edgar_hours,
            misfire_grace_s=90,
        ),
        JobSpec(
            "edgar.reconcile_daily_index",
            tasks.reconcile_daily_index,
            # 04:30 UTC = 23:30 EST / 00:30 EDT (the day's index is built from ~22:00 ET), and again
            # 11:30 UTC = 06:30 EST / 07:30 EDT next morning; reconcile_target picks the business day.
            OrTrigger(
                [
                    _utc_cron(day_of_week="tue-sat", hour=4, minute=30),
                    _utc_cron(day_of_week="tue-sat", hour=11, minute=30),
                ]
            ),
            "Store what the latest business day's daily index lists and the live feed missed "
            "(night and next morning).",
            misfire_grace_s=3600,
        ),
        JobSpec(
            "reference.refresh_tickers",
            tasks.refresh_tickers,
            _utc_cron(hour=10, minute=45),  # 05:45 EST / 06:45 ET in summer, before the market opens
            "Load the ticker/CIK/exchange map and extend ticker history (daily).",
            misfire_grace_s=6 * 3600,
        ),
        JobSpec(
            "reference.refresh_issuers",
            tasks.refresh_issuers,
            _utc_cron(hour=12, minute=15),
            "Refresh SIC sector, exchange and 8-K events of issuers with recent purchases (daily).",
            misfire_grace_s=6 * 3600,
        ),
        JobSpec(
            "prices.refresh",
            tasks.refresh_prices,
            # 22:30 UTC = 17:30 EST / 18:30 EDT: after the close and after the data source settles.
            _utc_cron(day_of_week="mon-fri", hour=22, minute=30),
            "Fetch daily bars for tickers with purchases in the last year, plus SPY (after the close).",
            misfire_grace_s=6 * 3600,
        ),
        JobSpec(
            "performance.refresh",
            tasks.refresh_performance,
            _utc_cron(day_of_week="mon-fri", hour=23, minute=30),  # an hour after prices.refresh
            "Measure new and open clusters against SPY and refresh the market buy/sell snapshot.",
            misfire_grace_s=6 * 3600,
        ),
    )
}
