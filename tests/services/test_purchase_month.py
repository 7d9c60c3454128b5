"""Monthly purchase totals (PurchaseMonth): kept equal to the purchases they total as filings arrive, and
the screener's company totals read through them equal totals of the purchases themselves, for windows
that start and end anywhere in a month. Random filings through the real ingest."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from app.db import session_scope
from app.models import EligiblePurchase, PurchaseMonth
from app.repositories import screener as screener_repo
from app.schemas.screener import RoleFilter
from app.services.screener import MANAGEMENT_MASK, ROLE_MASKS, TEN_PERCENT_BIT
from tests.factories import ingest_submissions, random_purchase_filings

EP = EligiblePurchase
MONTH_COLUMNS = (
    PurchaseMonth.issuer_cik,
    PurchaseMonth.month,
    PurchaseMonth.n_purchases,
    PurchaseMonth.value,
    PurchaseMonth.shares,
    PurchaseMonth.first_trade_date,
    PurchaseMonth.last_trade_date,
    PurchaseMonth.latest_known_at,
    PurchaseMonth.cluster_id,
    PurchaseMonth.previous_month,
    PurchaseMonth.since_n_purchases,
    PurchaseMonth.since_value,
    PurchaseMonth.since_shares,
    PurchaseMonth.since_first_trade_date,
    PurchaseMonth.since_last_trade_date,
    PurchaseMonth.since_latest_known_at,
    PurchaseMonth.since_cluster_id,
)


def _purchases(session: Any) -> list[Any]:
    return session.execute(
        select(
            EP.issuer_cik,
            EP.known_at,
            EP.trade_date,
            EP.value,
            EP.shares,
            EP.is_block_copy,
            EP.cluster_id,
            EP.roles,
        )
    ).all()


def _totals(purchases: list[Any]) -> dict[str, tuple[Any, ...]]:
    """The reference: per issuer, what the screener shows, from the purchases one by one."""
    by_issuer: dict[str, list[Any]] = defaultdict(list)
    for p in purchases:
        by_issuer[p.issuer_cik].append(p)
    return {
        cik: (
            len(rows),
            sum((Decimal(0) if p.is_block_copy else p.value for p in rows), Decimal(0)),
            sum((Decimal(0) if p.is_block_copy else p.shares for p in rows), Decimal(0)),
            min(p.trade_date for p in rows),
            max(p.trade_date for p in rows),
            max(p.known_at for p in rows),
            max((p.cluster_id for p in rows if p.cluster_id), default=None),
        )
        for cik, rows in by_issuer.items()
    }


def _stored_months(session: Any) -> dict[tuple[str, date], tuple[Any, ...]]:
    return {(r[0], r[1]): tuple(r[2:]) for r in session.execute(select(*MONTH_COLUMNS)).all()}


def _month_of(p: Any) -> date:
    known_at = p.known_at.astimezone(UTC)
    return date(known_at.year, known_at.month, 1)


def _expected_months(purchases: list[Any]) -> dict[tuple[str, date], tuple[Any, ...]]:
    """Each month's totals, its issuer's previous month with purchases, and the totals of the issuer's
    purchases filed in that month or later."""
    by_month: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for p in purchases:
        by_month[(p.issuer_cik, _month_of(p))].append(p)
    out = {}
    for (cik, month), rows in by_month.items():
        earlier = [m for c, m in by_month if c == cik and m < month]
        since = [p for p in purchases if p.issuer_cik == cik and _month_of(p) >= month]
        out[(cik, month)] = (*_totals(rows)[cik], max(earlier, default=None), *_totals(since)[cik])
    return out


def test_month_totals_follow_the_purchases_as_filings_arrive(clean_engine: Engine, tmp_path: Path) -> None:
    files = sorted(random_purchase_filings(4).items())
    random.Random(4).shuffle(files)
    # In three ingests: later filings add to months already totalled, and move default-rule clusters.
    for part in (files[:60], files[60:120], files[120:]):
        ingest_submissions(clean_engine, tmp_path, dict(part))
        with session_scope(clean_engine) as s:
            purchases = _purchases(s)
            stored = _stored_months(s)
        assert stored == _expected_months(purchases)
    assert len(stored) > 30  # the filings span ~two years of months
    assert any(p.is_block_copy for p in purchases)
    assert any(p.cluster_id for p in purchases)


@pytest.mark.parametrize(
    ("since", "until", "months"),
    [
        # A window starting on a month's first instant holds that month; one starting later, the next.
        ("2024-03-01T00:00", None, ("2024-03-01", None)),
        ("2024-03-01T00:00:01", None, ("2024-04-01", None)),
        ("2024-12-15T12:00", None, ("2025-01-01", None)),
        ("2024-03-01T00:00", "2024-05-01T00:00", ("2024-03-01", "2024-05-01")),
        ("2024-02-10T00:00", "2024-05-31T23:00", ("2024-03-01", "2024-05-01")),
        ("2024-02-10T00:00", "2024-04-02T00:00", ("2024-03-01", "2024-04-01")),
        # No whole month between them.
        ("2024-02-10T00:00", "2024-03-31T00:00", None),
        ("2024-03-01T00:00", "2024-03-31T23:59", None),
        ("2024-03-05T00:00", "2024-03-06T00:00", None),
    ],
)
def test_whole_months_of_a_window(
    since: str, until: str | None, months: tuple[str, str | None] | None
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    got = screener_repo._whole_months(utc(since), None if until is None else utc(until))
    if months is None:
        assert got is None
    else:
        first, end = got  # type: ignore[misc]
        assert first == utc(f"{months[0]}T00:00")
        assert end == (None if months[1] is None else utc(f"{months[1]}T00:00"))


def test_company_totals_equal_the_purchases_for_any_window(clean_engine: Engine, tmp_path: Path) -> None:
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(5))
    rng = random.Random(5)
    with session_scope(clean_engine) as s:
        purchases = _purchases(s)
        first = min(p.known_at for p in purchases)
        last = max(p.known_at for p in purchases)
        span = (last - first).total_seconds()

        def instant() -> datetime:
            moment = first - timedelta(days=20) + timedelta(seconds=rng.random() * (span + 40 * 86400))
            if rng.random() < 0.3:  # on a month's first instant, where whole months begin and end
                moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            return moment

        windows: list[tuple[datetime, datetime | None]] = [(first - timedelta(days=1), None)]
        for _ in range(40):
            a, b = sorted((instant(), instant()))
            windows.append((a, b if rng.random() < 0.7 else None))
        issuer_ciks = sorted({p.issuer_cik for p in purchases})
        read_by_month = 0
        for since, until in windows:
            for ciks in (None, issuer_ciks[1:], []):
                for role_mask in (0, ROLE_MASKS[RoleFilter.director]):
                    rf = screener_repo.RowFilter(
                        since=since, until=until, issuer_ciks=ciks, role_mask=role_mask
                    )
                    in_window = [
                        p
                        for p in purchases
                        if since <= p.known_at
                        and (until is None or p.known_at < until)
                        and (ciks is None or p.issuer_cik in ciks)
                        and (not role_mask or p.roles & role_mask)
                    ]
                    got = screener_repo.issuer_totals(
                        s, rf, ten_percent_bit=TEN_PERCENT_BIT, management_mask=MANAGEMENT_MASK
                    )
                    assert {
                        t.issuer_cik: (
                            t.n_purchases,
                            t.total_value,
                            t.total_shares,
                            t.first_trade_date,
                            t.last_trade_date,
                            t.latest_known_at,
                            t.cluster_id,
                        )
                        for t in got
                    } == _totals(in_window), (since, until, ciks, role_mask)
                    if not role_mask and screener_repo._whole_months(since, until) is not None and in_window:
                        read_by_month += 1
        assert read_by_month > 20  # most windows hold whole months: the monthly totals were read
