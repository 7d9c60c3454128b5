"""Monthly purchase totals (PurchaseMonth per company, BuyerMonth per buyer group): kept equal to the
purchases they total as filings arrive, and the screener's company totals and buyer groups read through
them equal those of the purchases themselves, for windows that start and end anywhere in a month. Random
filings through the real ingest."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from app.db import session_scope
from app.models import BuyerMonth, EligiblePurchase, PurchaseMonth
from app.repositories import screener as screener_repo
from app.schemas.screener import RoleFilter
from app.services.screener import MANAGEMENT_MASK, ROLE_MASKS, TEN_PERCENT_BIT
from tests.factories import edge_case_purchases, ingest_submissions, random_purchase_filings

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


BUYER_MONTH_COLUMNS = [c for c in BuyerMonth.__table__.columns if c.key != "id"]


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
            EP.buyer_key,
            EP.flags,
            EP.owner_names,
            EP.accession,
            EP.transaction_id,
            EP.shares_owned_before,
        )
    ).all()


def _group_of(p: Any) -> tuple[Any, ...]:
    return (p.issuer_cik, p.buyer_key, p.roles, p.flags, p.owner_names)


def _in_order(p: Any) -> tuple[Any, ...]:
    """A buyer's purchases in order: trade date, filing time, accession, row."""
    return (p.trade_date, p.known_at, p.accession, p.transaction_id)


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


def _group_totals(rows: list[Any]) -> tuple[Any, ...]:
    """A buyer group's totals as BuyerMonth holds them, from its purchases one by one."""
    first = min(rows, key=_in_order)
    return (
        len(rows),
        sum((Decimal(0) if p.is_block_copy else p.value for p in rows), Decimal(0)),
        sum((Decimal(0) if p.is_block_copy else p.shares for p in rows), Decimal(0)),
        first.trade_date,
        min(p.known_at for p in rows),
        first.known_at,
        first.accession,
        first.transaction_id,
        first.shares_owned_before,
    )


def _expected_buyer_months(purchases: list[Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    by_month: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for p in purchases:
        by_month[(*_group_of(p), _month_of(p))].append(p)
    out = {}
    for (*group, month), rows in by_month.items():
        earlier = [m for (*g, m) in by_month if g == group and m < month]
        since = [p for p in purchases if list(_group_of(p)) == group and _month_of(p) >= month]
        out[(*group, month)] = (*_group_totals(rows), max(earlier, default=None), *_group_totals(since))
    return out


def _stored_buyer_months(session: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {tuple(r[:6]): tuple(r[6:]) for r in session.execute(select(*BUYER_MONTH_COLUMNS)).all()}


def test_month_totals_follow_the_purchases_as_filings_arrive(clean_engine: Engine, tmp_path: Path) -> None:
    files = sorted((random_purchase_filings(4) | edge_case_purchases()).items())
    random.Random(4).shuffle(files)
    # In three ingests: later filings add to months already totalled, and move default-rule clusters.
    for part in (files[:60], files[60:120], files[120:]):
        ingest_submissions(clean_engine, tmp_path, dict(part))
        with session_scope(clean_engine) as s:
            purchases = _purchases(s)
            stored = _stored_months(s)
            stored_groups = _stored_buyer_months(s)
        assert stored == _expected_months(purchases)
        assert stored_groups == _expected_buyer_months(purchases)
    assert len(stored) > 30  # the filings span ~two years of months
    # Buyers with several groups (a fund filing alone, with its GP, or late) and months.
    assert len({g[:2] for g in stored_groups}) < len({g[:5] for g in stored_groups}) < len(stored_groups)
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


def _windows(purchases: list[Any], rng: random.Random) -> list[tuple[datetime, datetime | None]]:
    """All history, then 40 random windows (30% with no end), a third of their edges on a month's
    first instant, where whole months begin and end."""
    first = min(p.known_at for p in purchases)
    span = (max(p.known_at for p in purchases) - first).total_seconds()

    def instant() -> datetime:
        moment = first - timedelta(days=20) + timedelta(seconds=rng.random() * (span + 40 * 86400))
        if rng.random() < 0.3:
            moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return moment

    windows: list[tuple[datetime, datetime | None]] = [(first - timedelta(days=1), None)]
    for _ in range(40):
        a, b = sorted((instant(), instant()))
        windows.append((a, b if rng.random() < 0.7 else None))
    return windows


def _row_filters(
    purchases: list[Any], rng: random.Random
) -> Iterator[tuple[screener_repo.RowFilter, list[Any]]]:
    """Row filters over random windows, company lists and roles, with the purchases each selects."""
    issuer_ciks = sorted({p.issuer_cik for p in purchases})
    for since, until in _windows(purchases, rng):
        for ciks in (None, issuer_ciks[1:], []):
            for role_mask in (0, ROLE_MASKS[RoleFilter.director]):
                rf = screener_repo.RowFilter(since=since, until=until, issuer_ciks=ciks, role_mask=role_mask)
                yield (
                    rf,
                    [
                        p
                        for p in purchases
                        if since <= p.known_at
                        and (until is None or p.known_at < until)
                        and (ciks is None or p.issuer_cik in ciks)
                        and (not role_mask or p.roles & role_mask)
                    ],
                )


def test_company_totals_equal_the_purchases_for_any_window(clean_engine: Engine, tmp_path: Path) -> None:
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(5))
    with session_scope(clean_engine) as s:
        purchases = _purchases(s)
        read_by_month = 0
        for rf, in_window in _row_filters(purchases, random.Random(5)):
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
            } == _totals(in_window), rf
            assert {t.issuer_cik: (t.n_buyers, t.ten_percent_only) for t in got} == _buyers(in_window), rf
            read_by_month += screener_repo._month_parts(s, rf) is not None and bool(in_window)
        assert read_by_month > 20  # most windows hold whole months: the monthly totals were read


def _buyers(purchases: list[Any]) -> dict[str, tuple[int, bool]]:
    """Per issuer: distinct buyers, and whether every one is a 10% owner and none an officer or director."""
    roles: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p in purchases:
        roles[p.issuer_cik][p.buyer_key] |= p.roles
    return {
        cik: (
            len(of_buyer),
            all(bits & TEN_PERCENT_BIT and not bits & MANAGEMENT_MASK for bits in of_buyer.values()),
        )
        for cik, of_buyer in roles.items()
    }


def test_buyer_groups_equal_the_purchases_for_any_window(clean_engine: Engine, tmp_path: Path) -> None:
    """The screener's buyer groups (each with the holding before its buyer's first purchase when it holds
    that purchase), from BuyerMonth where the window allows, else purchase by purchase."""
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(7) | edge_case_purchases())
    with session_scope(clean_engine) as s:
        purchases = _purchases(s)
        by_month = several_parts = 0
        for rf, in_window in _row_filters(purchases, random.Random(7)):
            first_of_buyer: dict[tuple[str, str], Any] = {}
            for p in sorted(in_window, key=_in_order):
                first_of_buyer.setdefault((p.issuer_cik, p.buyer_key), p)
            by_group: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
            for p in in_window:
                by_group[_group_of(p)].append(p)
            expected = {}
            for group, rows in by_group.items():
                first = first_of_buyer[group[:2]]
                holds_first = first in rows
                expected[group] = (
                    *_group_totals(rows)[:3],
                    holds_first,
                    first.shares_owned_before if holds_first else None,
                    min(p.trade_date for p in rows),
                    min(p.known_at for p in rows),
                )
            got = {tuple(g[:5]): tuple(g[5:]) for g in screener_repo.buyer_groups(s, rf)}
            assert got == expected, rf
            parts = screener_repo._month_parts(s, rf)
            if parts is not None and in_window:
                by_month += 1
                keys = [tuple(r[:5]) for r in s.execute(parts)]
                several_parts += len(keys) > len(set(keys))
        # Most windows read months; in many a group is added up from several parts (months, or a month
        # and purchases of a partial month).
        assert by_month > 20
        assert several_parts > 10
