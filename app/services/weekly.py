"""The weekly biggest cluster buys (DESIGN §2): default-rule clusters triggered in an ISO week (US/Eastern),
ranked by the value of their purchases filed by the end of that week; the archive of every week."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.errors import BadParameterError
from app.models import Cluster
from app.repositories import cluster_pages as pages_repo
from app.repositories import clusters as clusters_repo
from app.repositories import screener as screener_repo
from app.repositories.cluster_pages import MemberRow
from app.repositories.clusters import OwnerRow
from app.schemas.clusters import ArchiveWeek, WeeklyArchive, WeeklyPage, WeeklyRow, WeekSection
from app.services import cluster_page as cluster_page_service
from app.services.clustering import iso_week_of, week_bounds

EASTERN = ZoneInfo("America/New_York")
PRICE_Q = Decimal("0.0001")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)
# EDGAR's electronic filings start in 1993; far-future weeks are typos, not plans.
MIN_YEAR, MAX_YEAR = 1993, 2100


def parse_week(text: str) -> str:
    """Validate an ISO week label ("2024-W11"); raise BadParameterError naming what is allowed."""
    m = _WEEK_RE.match(text.strip())
    if not m:
        raise BadParameterError(
            "week", f"{text[:40]!r} is not an ISO week; use YYYY-Www with a two-digit week, e.g. 2024-W11"
        )
    year, num = int(m.group(1)), int(m.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadParameterError("week", f"year {year} is out of range; allowed {MIN_YEAR} to {MAX_YEAR}")
    weeks = weeks_in_year(year)
    if not 1 <= num <= weeks:
        raise BadParameterError("week", f"{year} has ISO weeks W01 to W{weeks}; got W{num:02d}")
    return f"{year}-W{num:02d}"


def weeks_in_year(year: int) -> int:
    """52 or 53: December 28th always falls in the year's last ISO week."""
    return date(year, 12, 28).isocalendar().week


def monday_of(week: str) -> date:
    """The Monday that starts an ISO week label."""
    year, _, num = week.partition("-W")
    return date.fromisocalendar(int(year), int(num), 1)


def shift_week(week: str, weeks: int) -> str:
    """The ISO week `weeks` before (negative) or after a week."""
    year, num, _ = (monday_of(week) + timedelta(weeks=weeks)).isocalendar()
    return f"{year}-W{num:02d}"


def build_weekly_page(
    session: Session, week: str | None = None, *, now: datetime | None = None
) -> WeeklyPage:
    """One week's clusters ranked by week value; without `week`, the latest complete week plus
    "this week so far"."""
    now = now or datetime.now(UTC)
    this_week = iso_week_of(now)
    if week is None:
        label = shift_week(this_week, -1)
        current = _section(session, this_week, now)
    else:
        label = parse_week(week)
        current = None
    section = _section(session, label, now)
    earliest = f"{MIN_YEAR}-W01"
    return WeeklyPage(
        week=section,
        current=current,
        prev_week=shift_week(label, -1) if label > earliest else None,
        # Weeks after the current one cannot hold clusters yet.
        next_week=shift_week(label, 1) if label < this_week else None,
        latest_with_data=None
        if section.rows
        else pages_repo.latest_week_with_data(session, at_or_before=this_week),
    )


def _section(session: Session, week: str, now: datetime) -> WeekSection:
    start, end = week_bounds(week)
    clusters = pages_repo.clusters_in_week(session, week)
    ids = [c.id for c in clusters]
    members = pages_repo.members_of(session, ids)
    owners = clusters_repo.owners_by_accession(session, sorted({m.accession for m in members}))
    issuers = screener_repo.issuers(session, sorted({c.issuer_cik for c in clusters}))
    returns = pages_repo.returns_of(session, ids)
    by_cluster: dict[str, list[MemberRow]] = defaultdict(list)
    for m in members:
        by_cluster[m.cluster_id].append(m)
    rows = [
        _row(rank, c, by_cluster[c.id], owners, issuers.get(c.issuer_cik), returns.get(c.id, []), end)
        for rank, c in enumerate(clusters, start=1)
    ]
    monday = monday_of(week)
    return WeekSection(
        week=week,
        start_date=monday,
        end_date=monday + timedelta(days=6),
        complete=now >= end,
        rows=rows,
        n_clusters=len(rows),
        total_value=sum((r.week_value for r in rows), Decimal(0)),
    )


def _row(
    rank: int,
    c: Cluster,
    members: list[MemberRow],
    owners: dict[str, list[OwnerRow]],
    issuer: Any,
    returns: list[Any],
    week_end: datetime,
) -> WeeklyRow:
    # The cluster as it stood at the end of its trigger week: purchases filed later are not counted
    # (DESIGN §2), so a late-growing cluster cannot climb an old week's ranking.
    known = [m for m in members if m.known_at < week_end] or members
    counted = [m for m in known if m.duplicate_of is None]
    shares = sum((m.shares or Decimal(0) for m in counted), Decimal(0))
    buyers = cluster_page_service.buyer_briefs(known, owners)
    dates = [m.trade_date for m in known if m.trade_date is not None]
    ret_rows = cluster_page_service.return_rows(returns)
    return WeeklyRow(
        rank=rank,
        cluster_id=c.id,
        issuer_cik=c.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        sector=issuer.sector if issuer else None,
        n_buyers=len(buyers),
        n_buyers_now=c.n_buyers,
        buyers=buyers,
        roles=cluster_page_service.sort_roles(r for b in buyers for r in b.roles),
        week_value=c.week_value,
        shares=shares,
        avg_price=(c.week_value / shares).quantize(PRICE_Q, ROUND_HALF_EVEN) if shares else None,
        total_value=c.total_value,
        first_trade_date=min(dates, default=c.first_trade_date),
        last_trade_date=max(dates, default=c.last_trade_date),
        trigger_at=c.trigger_at,
        trigger_accession=c.trigger_accession,
        flags=list(c.flags or []),
        latest_return=cluster_page_service.latest_return(ret_rows),
        return_rows=len(ret_rows),
    )


def build_weekly_archive(session: Session, *, now: datetime | None = None) -> WeeklyArchive:
    """Every ISO week with clusters, newest first, with the count and summed week value."""
    now = now or datetime.now(UTC)
    weeks = []
    for s in pages_repo.week_summaries(session):
        monday = monday_of(s.week)
        _, end = week_bounds(s.week)
        weeks.append(
            ArchiveWeek(
                week=s.week,
                start_date=monday,
                end_date=monday + timedelta(days=6),
                complete=now >= end,
                n_clusters=s.n_clusters,
                total_value=s.total_value,
            )
        )
    return WeeklyArchive(
        weeks=weeks,
        n_clusters=sum(w.n_clusters for w in weeks),
        total_value=sum((w.total_value for w in weeks), Decimal(0)),
    )


def csv_rows_weekly(page: WeeklyPage) -> Iterable[list[Any]]:
    """Header and rows of the week's table as shown."""
    yield [
        "rank",
        "week",
        "ticker",
        "company",
        "buyers",
        "roles",
        "week_value",
        "shares",
        "avg_price",
        "value_to_date",
        "first_trade_date",
        "last_trade_date",
        "trigger_et",
        "flags",
        "return_horizon",
        "stock_return",
        "spy_return",
        "excess_return",
        "cluster_id",
    ]
    for r in page.week.rows:
        ret = r.latest_return
        yield [
            r.rank,
            page.week.week,
            r.ticker,
            r.company,
            r.n_buyers,
            " ".join(r.roles),
            r.week_value.quantize(Decimal("0.01")),
            _plain(r.shares),
            r.avg_price,
            r.total_value.quantize(Decimal("0.01")),
            r.first_trade_date,
            r.last_trade_date,
            r.trigger_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M"),
            " ".join(r.flags),
            ret.horizon if ret else "",
            ret.stock_return if ret else "",
            ret.spy_return if ret else "",
            ret.excess_return if ret else "",
            r.cluster_id,
        ]


def _plain(d: Decimal) -> str:
    # 7000.000000 (the column's scale) reads as 7000 in a spreadsheet.
    return f"{d.normalize():f}"
