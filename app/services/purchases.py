"""The purchases view: the window's eligible purchases one by one (a "latest insider purchases" feed),
sorted and paged in SQL, with the same filters as the screener (DESIGN §1)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.repositories import clusters as clusters_repo
from app.repositories import screener as screener_repo
from app.schemas.screener import Order, PurchaseFilters, PurchaseRow, PurchasesPage
from app.services import screener as screener_service
from app.services import since_totals
from app.services.clustering import PURCHASE_FLAGS, names_of
from app.services.clustering_core import DEFAULT_N, DEFAULT_W


@dataclass
class Purchase:
    """One eligible purchase of the purchases view with its filers' names and CIKs."""

    row: Any  # a repositories.screener detail row (transaction and screener facts)
    owner_ciks: tuple[str, ...]
    owner_names: tuple[str, ...]


PURCHASE_SORT_KEYS: dict[str, Callable[[PurchaseRow], Any]] = {
    "latest": lambda r: (r.known_at, r.transaction_id),
    "value": lambda r: r.value,
    "trade_date": lambda r: (r.trade_date, r.known_at),
    "ticker": lambda r: (r.ticker or "~").upper(),
    "price": lambda r: r.price if r.price is not None else Decimal(0),
    "delta_own": lambda r: (
        math.inf if r.delta_own_new else (r.delta_own if r.delta_own is not None else -math.inf)
    ),
}


def build_purchases_page(
    session: Session, filters: PurchaseFilters, *, now: datetime | None = None
) -> PurchasesPage:
    """List the window's eligible purchases one by one (a "latest insider purchases" feed): sorted and
    paged in SQL, so only the page's rows are loaded."""
    now = now or datetime.now(UTC)
    window = screener_service.window_of(filters, now)
    default_rule = (filters.n, filters.w) == (DEFAULT_N, DEFAULT_W)
    rf = screener_service.row_filter(
        session,
        filters,
        window,
        min_value=filters.min_value or None,
        exclude_roles_exactly=since_totals.TEN_PERCENT_BIT if filters.exclude_ten_percent_only else None,
        default_cluster_only=filters.clusters_only and default_rule,
    )
    start = (filters.page - 1) * filters.page_size
    if filters.clusters_only and not default_rule:
        ids = list(screener_service.rule_members(session, filters, rf, None))
        all_rows = _purchase_rows(session, screener_repo.purchases_by_id(session, ids))
        all_rows.sort(key=lambda r: r.transaction_id)
        all_rows.sort(key=PURCHASE_SORT_KEYS[filters.sort.value], reverse=filters.order is Order.desc)
        rows, total = all_rows[start : start + filters.page_size], len(all_rows)
    else:
        ids, total = screener_repo.purchase_page_ids(
            session,
            rf,
            sort=filters.sort.value,
            descending=filters.order is Order.desc,
            offset=start,
            limit=filters.page_size,
        )
        position = {i: k for k, i in enumerate(ids)}
        rows = sorted(
            _purchase_rows(session, screener_repo.purchases_by_id(session, ids)),
            key=lambda r: position[r.transaction_id],
        )
    return PurchasesPage(
        filters=filters,
        window=window,
        rows=rows,
        total_rows=total,
        page=filters.page,
        pages=max(1, math.ceil(total / filters.page_size)),
        sectors=screener_repo.sectors(session),
    )


def _purchase_rows(session: Session, detail_rows: list[Any]) -> list[PurchaseRow]:
    owners = clusters_repo.owners_by_accession(session, sorted({r.accession for r in detail_rows}))
    purchases = [
        Purchase(
            r,
            tuple(o.owner_cik for o in owners.get(r.accession, [])),
            tuple(o.name_as_filed or o.owner_cik for o in owners.get(r.accession, [])),
        )
        for r in detail_rows
    ]
    issuers = screener_repo.issuers(session, sorted({p.row.issuer_cik for p in purchases}))
    return [_purchase_row(p, issuers.get(p.row.issuer_cik)) for p in purchases]


def _purchase_row(p: Purchase, issuer: Any) -> PurchaseRow:
    ratio, new = since_totals.delta_own(Decimal(p.row.shares), p.row.shares_owned_before)
    return PurchaseRow(
        transaction_id=p.row.id,
        accession=p.row.accession,
        issuer_cik=p.row.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        sector=issuer.sector if issuer else None,
        buyer=" / ".join(p.owner_names),
        owner_ciks=list(p.owner_ciks),
        roles=list(screener_service.roles_of_bits(p.row.role_bits)),
        trade_date=p.row.transaction_date,
        known_at=p.row.known_at,
        shares=p.row.shares,
        price=p.row.price,
        price_low=p.row.price_low,
        price_high=p.row.price_high,
        value=p.row.value,
        shares_owned_after=p.row.shares_owned_after,
        delta_own=ratio,
        delta_own_new=new,
        is_10b5_1=p.row.is_10b5_1,
        flags=names_of(p.row.flag_bits, PURCHASE_FLAGS),
        cluster_id=p.row.cluster_id,
    )


def csv_rows_purchases(page: PurchasesPage) -> Iterable[list[Any]]:
    """Header and rows of the purchases table as shown."""
    yield [
        "filed_et",
        "trade_date",
        "ticker",
        "company",
        "insider",
        "roles",
        "shares",
        "price",
        "price_low",
        "price_high",
        "value",
        "shares_owned_after",
        "delta_own",
        "flags",
        "accession",
        "cluster",
    ]
    for r in page.rows:
        yield [
            screener_service.et_text(r.known_at),
            r.trade_date,
            r.ticker,
            r.company,
            r.buyer,
            " ".join(r.roles),
            r.shares,
            r.price,
            r.price_low,
            r.price_high,
            r.value.quantize(Decimal("0.01")),
            r.shares_owned_after,
            "new" if r.delta_own_new else r.delta_own,
            " ".join(r.flags),
            r.accession,
            r.cluster_id or "",
        ]
