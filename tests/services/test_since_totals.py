"""Totals from each filing time on (PurchasesSince per company, BuyerSince per buyer): kept equal to the
purchases they total as filings arrive, and a screener window with no end, which reads them, shows the
same companies and buyers as the same window given an end after every filing, which adds up the
purchases (and their months) on request. Random filings through the real ingest."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from app.db import session_scope
from app.models import BuyerSince, EligiblePurchase, PurchasesSince
from app.models.purchase import OWNER_NAME_SEPARATOR
from app.repositories import screener as screener_repo
from app.schemas.screener import ScreenerFilters
from app.services.screener import _company_rows, build_screener_page, row_filter, window_of
from app.services.since_totals import MANAGEMENT_MASK, TEN_PERCENT_BIT
from tests.factories import (
    delta_own_filings,
    edge_case_purchases,
    ingest_submissions,
    random_purchase_filings,
)

EP = EligiblePurchase
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _purchases(session: Any) -> list[Any]:
    return session.execute(select(EP)).scalars().all()


def _first(rows: list[Any]) -> Any:
    """A buyer's first purchase: trade date, filing time, accession, row."""
    return min(rows, key=lambda p: (p.trade_date, p.known_at, p.accession, p.transaction_id))


def _counted(rows: list[Any], column: str) -> Decimal:
    return sum((Decimal(0) if p.is_block_copy else getattr(p, column) for p in rows), Decimal(0))


def _median(by_buyer: dict[str, list[Any]]) -> tuple[bool, float | None]:
    """The median of the buyers' ΔOwn with a known holding (a new position above any ratio)."""
    ratios = []
    for rows in by_buyer.values():
        before = _first(rows).shares_owned_before
        if before is not None:
            ratios.append(math.inf if before <= 0 else float(_counted(rows, "shares") / before))
    if not ratios:
        return False, None
    median = statistics.median(ratios)
    return (True, None) if math.isinf(median) else (False, median)


def _names(rows: list[Any]) -> str:
    """The filers' names, ordered by the earliest trade date, then filing time, then place of a purchase
    naming them."""
    seen: dict[str, list[Any]] = defaultdict(list)
    for p in rows:
        for place, name in enumerate(p.owner_names.split(OWNER_NAME_SEPARATOR)):
            seen[name].append((p.trade_date, p.known_at, place))
    key = {name: tuple(min(x[i] for x in marks) for i in range(3)) for name, marks in seen.items()}
    return OWNER_NAME_SEPARATOR.join(sorted(key, key=lambda name: (*key[name], name)))


def _expected(purchases: list[Any]) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, tuple[Any, ...]]]:
    """Every company's and every buyer's rows, from the purchases one by one: for each of its filing
    times, the totals of its purchases filed then or later, and its previous filing time."""
    companies: dict[Any, tuple[Any, ...]] = {}
    buyers: dict[Any, tuple[Any, ...]] = {}
    for cik in {p.issuer_cik for p in purchases}:
        of_issuer = [p for p in purchases if p.issuer_cik == cik]
        times = sorted({p.known_at for p in of_issuer})
        for i, known_at in enumerate(times):
            rows = [p for p in of_issuer if p.known_at >= known_at]
            by_buyer: dict[str, list[Any]] = defaultdict(list)
            for p in rows:
                by_buyer[p.buyer_key].append(p)
            roles = [_roles(b) for b in by_buyer.values()]
            companies[(cik, known_at)] = (
                times[i - 1] if i else None,
                len(rows),
                len(by_buyer),
                _counted(rows, "value"),
                _counted(rows, "shares"),
                min(p.trade_date for p in rows),
                max(p.trade_date for p in rows),
                max(p.known_at for p in rows),
                max((p.cluster_id for p in rows if p.cluster_id), default=None),
                all(r & TEN_PERCENT_BIT and not r & MANAGEMENT_MASK for r in roles),
                *_median(by_buyer),
            )
        for key in {p.buyer_key for p in of_issuer}:
            of_buyer = [p for p in of_issuer if p.buyer_key == key]
            buyer_times = sorted({p.known_at for p in of_buyer})
            for i, known_at in enumerate(buyer_times):
                rows = [p for p in of_buyer if p.known_at >= known_at]
                buyers[(cik, key, known_at)] = (
                    buyer_times[i - 1] if i else None,
                    _counted(rows, "value"),
                    _counted(rows, "shares"),
                    _first(rows).shares_owned_before,
                    _roles(rows),
                    _bits(rows, "flags"),
                    _names(rows),
                )
    return companies, buyers


def _roles(rows: list[Any]) -> int:
    return _bits(rows, "roles")


def _bits(rows: list[Any], column: str) -> int:
    out = 0
    for p in rows:
        out |= getattr(p, column)
    return out


def _stored(session: Any) -> tuple[dict[Any, tuple[Any, ...]], dict[Any, tuple[Any, ...]]]:
    companies = {
        (r.issuer_cik, r.known_at): (
            r.previous_known_at,
            r.n_purchases,
            r.n_buyers,
            r.value,
            r.shares,
            r.first_trade_date,
            r.last_trade_date,
            r.latest_known_at,
            r.cluster_id,
            r.ten_percent_only,
            r.delta_own_new,
            r.delta_own_median,
        )
        for r in session.execute(select(PurchasesSince)).scalars()
    }
    buyers = {
        (r.issuer_cik, r.buyer_key, r.known_at): (
            r.previous_known_at,
            r.value,
            r.shares,
            r.before_first_purchase,
            r.roles,
            r.flags,
            r.owner_names,
        )
        for r in session.execute(select(BuyerSince)).scalars()
    }
    return companies, buyers


def test_since_totals_follow_the_purchases_as_filings_arrive(clean_engine: Engine, tmp_path: Path) -> None:
    files = sorted((random_purchase_filings(4) | delta_own_filings(4) | edge_case_purchases()).items())
    random.Random(4).shuffle(files)
    # In three ingests: later filings add to every earlier time's totals, and move default-rule clusters;
    # some arrive late (filed for trades older than others already stored).
    third = len(files) // 3
    for part in (files[:third], files[third : 2 * third], files[2 * third :]):
        ingest_submissions(clean_engine, tmp_path, dict(part))
        with session_scope(clean_engine) as s:
            purchases = _purchases(s)
            companies, buyers = _stored(s)
        expected_companies, expected_buyers = _expected(purchases)
        assert companies.keys() == expected_companies.keys()
        for key, row in companies.items():
            *exact, median = row
            *expected_exact, expected_median = expected_companies[key]
            assert exact == expected_exact, key
            assert (median is None) == (expected_median is None), key
            assert median is None or math.isclose(median, expected_median, rel_tol=1e-12), key
        assert buyers == expected_buyers
    # The data reaches every case: several buyers and times per company, new positions, unknown
    # holdings, medians of an even count, buyers named differently over time.
    rows = list(companies.values())
    assert sum(r[2] > 1 for r in rows) > 100
    assert sum(r[10] for r in rows) > 10
    assert sum(r[11] is None and not r[10] for r in rows) > 5
    assert sum(r[11] is not None for r in rows) > 100
    assert sum(OWNER_NAME_SEPARATOR in r[6] for r in buyers.values()) > 10
    assert any(p.is_block_copy for p in purchases)


def test_a_window_with_no_end_shows_what_the_purchases_add_up_to(
    clean_engine: Engine, tmp_path: Path
) -> None:
    """The screener read from PurchasesSince and BuyerSince (no end) equals the same window with an end
    after every filing (its totals summed from the purchases and months, its medians and buyers found
    in SQL): every column of every row, every buyer, for every sort and the company filters."""
    ingest_submissions(clean_engine, tmp_path, random_purchase_filings(8) | delta_own_filings(8))
    rng = random.Random(8)
    starts = [date(2023, 12, 1)] + [date(2024, 1, 1) + timedelta(days=rng.randint(0, 420)) for _ in range(6)]
    filter_sets: list[dict[str, str]] = [
        {},
        {"q": "RND"},
        {"sort": "delta_own"},
        {"sort": "delta_own", "order": "asc", "q": "DLT1"},
        {"sort": "buyers", "exclude_ten_percent_only": "true"},
        {"sort": "company", "min_value": "50000"},
        {"clusters_only": "true", "sort": "latest"},
        {"sort": "delta_own", "page_size": "5", "page": "2"},
    ]
    compared = 0
    with session_scope(clean_engine) as s:
        for start in starts:
            for extra in filter_sets:
                params = {"from": start.isoformat(), **extra}
                open_filters = ScreenerFilters.model_validate(params)
                closed_filters = ScreenerFilters.model_validate({**params, "to": "2030-01-01"})
                assert screener_repo.reads_since_totals(
                    row_filter(s, open_filters, window_of(open_filters, NOW))
                )
                assert not screener_repo.reads_since_totals(
                    row_filter(s, closed_filters, window_of(closed_filters, NOW))
                )
                got = build_screener_page(s, open_filters, now=NOW)
                expected = build_screener_page(s, closed_filters, now=NOW)
                assert [r.model_dump() for r in got.rows] == [r.model_dump() for r in expected.rows], params
                assert (got.total_rows, got.total_value) == (expected.total_rows, expected.total_value)
                compared += len(got.rows)
        # Windows that start on a filing time exactly (its purchases are in, the earlier ones are not).
        times = sorted({p.known_at for p in _purchases(s)})
        for since in rng.sample(times, 15):
            open_rf = screener_repo.RowFilter(since=since)
            closed_rf = screener_repo.RowFilter(since=since, until=NOW)
            assert screener_repo.reads_since_totals(open_rf)
            got_totals, expected_totals = (
                screener_repo.issuer_totals(
                    s, rf, ten_percent_bit=TEN_PERCENT_BIT, management_mask=MANAGEMENT_MASK
                )
                for rf in (open_rf, closed_rf)
            )
            assert sorted(got_totals, key=_cik) == sorted(expected_totals, key=_cik), since
            got_rows, expected_rows = (
                _company_rows(s, rf, sorted(expected_totals, key=_cik), set()) for rf in (open_rf, closed_rf)
            )
            assert [r.model_dump() for r in got_rows] == [r.model_dump() for r in expected_rows], since
    assert compared > 300


def _cik(t: Any) -> str:
    return str(t.issuer_cik)
