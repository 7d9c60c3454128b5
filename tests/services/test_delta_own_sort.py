"""The screener's ΔOwn sort (done in SQL: screener_repo._median_delta_own) orders the companies by the
median of their buyers' ΔOwn computed here from the purchases themselves: each buyer's shares bought
(chain copies of a block counted once) ÷ its holding before its first purchase of the window (trade
date, then filing time, accession and row); a new position above any ratio, a company whose buyers'
holdings are all unknown below every other; the mean of the middle two for an even count; ties to the
lowest CIK in either direction. Random filings through the real ingest, with many equal ratios (ties),
new positions and unknown holdings, for random windows and filters."""

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
from app.models import EligiblePurchase
from app.repositories import screener as screener_repo
from app.schemas.screener import RoleFilter, ScreenerFilters
from app.services.screener import ROLE_MASKS, build_screener_page, row_filter, window_of
from tests.factories import delta_own_filings, edge_case_purchases, ingest_submissions

EP = EligiblePurchase
START = date(2024, 1, 2)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _median_key(purchases: list[Any]) -> float:
    """A company's ΔOwn sort key from its purchases of the window: the median of its buyers' ratios
    (inf: a new position), -inf when no buyer's holding is known."""
    by_buyer: dict[str, list[Any]] = defaultdict(list)
    for p in purchases:
        by_buyer[p.buyer_key].append(p)
    ratios = []
    for rows in by_buyer.values():
        first = min(rows, key=lambda p: (p.trade_date, p.known_at, p.accession, p.transaction_id))
        bought = sum((Decimal(0) if p.is_block_copy else Decimal(p.shares) for p in rows), Decimal(0))
        if first.shares_owned_before is None:
            continue
        before = Decimal(first.shares_owned_before)
        ratios.append(math.inf if before <= 0 else float(bought / before))
    return statistics.median(ratios) if ratios else -math.inf


def test_delta_own_sort_follows_the_median_of_the_purchases(clean_engine: Engine, tmp_path: Path) -> None:
    ingest_submissions(clean_engine, tmp_path, delta_own_filings(5) | edge_case_purchases())
    rng = random.Random(5)
    director = ROLE_MASKS[RoleFilter.director]
    filter_sets: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda p: True),
        ({"role": "director"}, lambda p: p.roles & director),
        ({"min_price": "12"}, lambda p: p.price >= Decimal("12")),
        ({"q": "DLT1"}, lambda p: p.issuer_cik in {"0000008001", *(f"00000080{k}" for k in range(10, 14))}),
        ({"min_value": "150000"}, lambda p: True),
        ({"exclude_ten_percent_only": "true"}, lambda p: True),
    ]
    checked = ties = news = unknowns = evens = 0
    with session_scope(clean_engine) as s:
        purchases = s.execute(select(EP)).scalars().all()
        assert {p.shares_owned_before for p in purchases} >= {None, Decimal(0)}
        # Two windows where CAROL's first purchase is the second of two on one day, then random ones; a
        # third have no end (they read each buyer group's months from one row).
        windows: list[tuple[date, date | None]] = [
            (date(2024, 2, 2), None),
            (date(2024, 2, 2), date(2024, 6, 30)),
        ]
        for _ in range(10):
            a = START + timedelta(days=rng.randint(0, 280))
            b = a + timedelta(days=rng.randint(5, 330))
            windows.append((a, b if rng.random() < 0.67 else None))
        for a, b in windows:
            ends = {} if b is None else {"to": b.isoformat()}
            for extra, keep in filter_sets:
                params = {"from": a.isoformat(), **ends, "page_size": "1000", **extra}
                window = window_of(ScreenerFilters.model_validate(params), NOW)
                in_window = [
                    p
                    for p in purchases
                    if window.since <= p.known_at
                    and (window.until is None or p.known_at < window.until)
                    and keep(p)
                ]
                by_issuer: dict[str, list[Any]] = defaultdict(list)
                for p in in_window:
                    by_issuer[p.issuer_cik].append(p)
                # The companies the filters keep, in CIK order, from the default (value) sort.
                by_value = build_screener_page(s, ScreenerFilters.model_validate(params), now=NOW)
                companies = sorted(r.issuer_cik for r in by_value.rows)
                keys = {cik: _median_key(by_issuer[cik]) for cik in companies}
                # The medians themselves, as SQL computes them for the sort (company filters aside, a
                # company with no known holding has no median row).
                rf = row_filter(s, ScreenerFilters.model_validate(params), window)
                medians = {
                    cik: math.inf if new else -math.inf if median is None else median
                    for cik, new, median in s.execute(select(screener_repo._median_delta_own(s, rf)))
                }
                got = {cik: medians.get(cik, -math.inf) for cik in keys}
                assert all(math.isclose(got[cik], keys[cik]) for cik in keys), (params, got, keys)
                for order in ("desc", "asc"):
                    page = build_screener_page(
                        s,
                        ScreenerFilters.model_validate({**params, "sort": "delta_own", "order": order}),
                        now=NOW,
                    )
                    expected = sorted(companies, key=lambda cik: keys[cik], reverse=order == "desc")
                    assert [r.issuer_cik for r in page.rows] == expected, (params, order, keys)
                    assert page.total_rows == by_value.total_rows
                    assert page.total_value == by_value.total_value
                checked += len(companies)
                ties += len(companies) - len(set(keys.values()))
                news += sum(1 for k in keys.values() if k == math.inf)
                unknowns += sum(1 for k in keys.values() if k == -math.inf)
                evens += sum(
                    1
                    for cik in companies
                    if len({p.buyer_key for p in by_issuer[cik] if p.shares_owned_before is not None}) % 2
                    == 0
                )
    # The data reaches every case: ties between companies, new positions, unknown holdings, even counts.
    counts = {"companies": checked, "ties": ties, "new": news, "unknown": unknowns, "even": evens}
    least = {"companies": 300, "ties": 50, "new": 30, "unknown": 10, "even": 50}
    assert all(counts[name] > least[name] for name in least), counts
