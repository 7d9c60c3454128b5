"""The live screener: eligible purchases filed in a window, grouped by company (or listed one by one),
with distinct buyers, roles, ΔOwn and the cluster rule applied (DESIGN §1, §2)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.repositories import clusters as clusters_repo
from app.repositories import screener as screener_repo
from app.schemas.screener import (
    BuyerSummary,
    Order,
    PurchaseFilters,
    PurchaseRow,
    PurchasesPage,
    RoleFilter,
    ScreenerFilters,
    ScreenerPage,
    ScreenerRow,
    Window,
)
from app.services import roles as roles_service
from app.services.clustering import clusters_for_rule, is_late
from app.services.clustering_core import DEFAULT_N, DEFAULT_W, MAX_SPAN_DAYS

EASTERN = ZoneInfo("America/New_York")
PRICE_Q = Decimal("0.0001")


@dataclass
class Purchase:
    """One eligible purchase in the window with what the views need to know about it."""

    row: Any
    owner_ciks: tuple[str, ...]
    owner_names: tuple[str, ...]
    roles: set[str]
    buyer: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def price(self) -> Decimal:
        return Decimal(self.row.value) / Decimal(self.row.shares)


def window_of(filters: ScreenerFilters, now: datetime) -> Window:
    """The UTC [since, until) filing-time window a filter set selects (dates are ET calendar days)."""
    if filters.from_date is None and filters.to_date is None:
        return Window(since=now - timedelta(days=filters.days), until=None)
    start = filters.from_date or date(1990, 1, 1)
    since = datetime.combine(start, time(0), tzinfo=EASTERN).astimezone(UTC)
    until = None
    if filters.to_date is not None:
        until = datetime.combine(filters.to_date + timedelta(days=1), time(0), tzinfo=EASTERN).astimezone(UTC)
    return Window(since=since, until=until)


def _load(session: Session, filters: ScreenerFilters, now: datetime) -> tuple[Window, list[Purchase], dict]:
    window = window_of(filters, now)
    rows = screener_repo.purchases_known_between(session, window.since, window.until)
    owners = clusters_repo.owners_by_accession(session, sorted({r.accession for r in rows}))
    issuers = screener_repo.issuers(session, sorted({r.issuer_cik for r in rows}))
    purchases = []
    for r in rows:
        filing_owners = owners.get(r.accession, [])
        roles: set[str] = set()
        for o in filing_owners:
            roles |= roles_service.classify_roles(
                o.is_director, o.is_officer, o.officer_title, o.is_ten_percent_owner, o.is_other, o.other_text
            )
        p = Purchase(
            r,
            tuple(o.owner_cik for o in filing_owners),
            tuple(o.name_as_filed or o.owner_cik for o in filing_owners),
            roles,
        )
        if _keep(p, filters, issuers.get(r.issuer_cik)):
            p.flags = _purchase_flags(p)
            purchases.append(p)
    _assign_buyers(purchases)
    return window, purchases, issuers


def _keep(p: Purchase, f: ScreenerFilters, issuer: Any) -> bool:
    if f.role is RoleFilter.officer and roles_service.OFFICER not in p.roles:
        return False
    if f.role is RoleFilter.ceo_cfo and not p.roles & {roles_service.CEO, roles_service.CFO}:
        return False
    if f.role is RoleFilter.director and roles_service.DIRECTOR not in p.roles:
        return False
    if f.min_price is not None and p.price < f.min_price:
        return False
    if f.max_price is not None and p.price > f.max_price:
        return False
    if f.sector and (issuer is None or (issuer.sector or "").lower() != f.sector.lower()):
        return False
    if f.q:
        needle = f.q.strip().lower()
        hay = " ".join(x for x in (issuer.ticker if issuer else None, issuer.name if issuer else None) if x)
        if needle not in hay.lower():
            return False
    return True


def _purchase_flags(p: Purchase) -> list[str]:
    flags = []
    if p.row.is_10b5_1:
        flags.append("10b5-1")
    if p.row.is_amendment:
        flags.append("amended")
    if p.row.timeliness == "L" or is_late(p.row.transaction_date, p.row.known_at):
        flags.append("late_filing")
    if p.row.price_source == "footnote_range":
        flags.append("price_from_footnote")
    return flags


def _assign_buyers(purchases: list[Purchase]) -> None:
    """Distinct buyers per issuer (DESIGN §2): owners of one filing are one buyer, filings sharing an
    owner CIK are one buyer, and the same block (date, shares, value) on separate filings is one."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    def node(p: Purchase) -> str:
        return (
            f"{p.row.issuer_cik}/{p.owner_ciks[0]}"
            if p.owner_ciks
            else f"{p.row.issuer_cik}/{p.row.accession}"
        )

    blocks: dict[tuple[Any, ...], tuple[str, str]] = {}  # block -> (first node, its accession)
    for p in purchases:
        for cik in p.owner_ciks[1:]:
            union(node(p), f"{p.row.issuer_cik}/{cik}")
        block = (p.row.issuer_cik, p.row.transaction_date, p.row.shares, p.row.value)
        seen = blocks.setdefault(block, (node(p), p.row.accession))
        if seen[1] != p.row.accession:
            union(node(p), seen[0])
    for p in purchases:
        p.buyer = find(node(p))


def _rule_members(
    session: Session, f: ScreenerFilters, purchases: list[Purchase]
) -> tuple[set[int], dict[int, str]]:
    """Purchase ids that belong to a cluster under the requested rule, and default-rule cluster ids."""
    ids = [p.row.id for p in purchases]
    default = screener_repo.default_cluster_of(session, ids)
    if (f.n, f.w) == (DEFAULT_N, DEFAULT_W):
        return set(default), default
    if not purchases:
        return set(), default
    # Another rule: compute it over these issuers, looking back far enough to see whole groups.
    since = min(p.row.transaction_date for p in purchases) - timedelta(days=MAX_SPAN_DAYS)
    results = clusters_for_rule(
        session, n=f.n, w=f.w, issuer_ciks={p.row.issuer_cik for p in purchases}, trade_since=since
    )
    return {m.transaction_id for r in results for m in r.members}, default


def delta_own(shares: Decimal, before: Decimal | None) -> tuple[float | None, bool]:
    """ΔOwn = shares bought ÷ shares held before; (None, True) for a new position, (None, False) unknown."""
    if before is None:
        return None, False
    if before <= 0:
        return None, True
    return float(shares / before), False


# --- screener (one row per company) ---------------------------------------------------------------------

SORT_KEYS: dict[str, Callable[[ScreenerRow], Any]] = {
    "value": lambda r: r.total_value,
    "latest": lambda r: r.latest_known_at,
    "buyers": lambda r: (r.n_buyers, r.total_value),
    "ticker": lambda r: (r.ticker or "~").upper(),
    "company": lambda r: (r.company or "~").upper(),
    "shares": lambda r: r.total_shares,
    "avg_price": lambda r: r.avg_price,
    "first_trade": lambda r: r.first_trade_date,
    "last_trade": lambda r: r.last_trade_date,
    "delta_own": lambda r: (
        math.inf if r.delta_own_new else (r.delta_own_median if r.delta_own_median is not None else -math.inf)
    ),
}


def build_screener_page(
    session: Session, filters: ScreenerFilters, *, now: datetime | None = None
) -> ScreenerPage:
    """Group the window's eligible purchases by company, apply the filters, sort and paginate."""
    now = now or datetime.now(UTC)
    window, purchases, issuers = _load(session, filters, now)
    in_rule, default_cluster = _rule_members(session, filters, purchases)
    by_issuer: dict[str, list[Purchase]] = defaultdict(list)
    for p in purchases:
        by_issuer[p.row.issuer_cik].append(p)
    rows = []
    for cik, items in by_issuer.items():
        row = _company_row(cik, items, issuers.get(cik), in_rule, default_cluster)
        if row.total_value < filters.min_value:
            continue
        if filters.clusters_only and not row.meets_rule:
            continue
        if filters.exclude_ten_percent_only and "ten_percent_owner_only" in row.flags:
            continue
        rows.append(row)
    rows.sort(key=lambda r: r.issuer_cik)
    rows.sort(key=SORT_KEYS[filters.sort.value], reverse=filters.order is Order.desc)
    total = len(rows)
    pages = max(1, math.ceil(total / filters.page_size))
    start = (filters.page - 1) * filters.page_size
    return ScreenerPage(
        filters=filters,
        window=window,
        rows=rows[start : start + filters.page_size],
        total_rows=total,
        page=filters.page,
        pages=pages,
        total_value=sum((r.total_value for r in rows), Decimal(0)),
        sectors=screener_repo.sectors(session),
    )


def _company_row(
    cik: str, items: list[Purchase], issuer: Any, in_rule: set[int], default_cluster: dict[int, str]
) -> ScreenerRow:
    by_buyer: dict[str, list[Purchase]] = defaultdict(list)
    for p in items:
        by_buyer[p.buyer].append(p)
    buyers = [_buyer_summary(ps) for ps in by_buyer.values()]
    buyers.sort(key=lambda b: (roles_service.role_rank(b.roles), -b.value))
    total_value = sum((Decimal(p.row.value) for p in items), Decimal(0))
    total_shares = sum((Decimal(p.row.shares) for p in items), Decimal(0))
    known = [b.delta_own for b in buyers if b.delta_own is not None] + [
        math.inf for b in buyers if b.delta_own_new
    ]
    median = statistics.median(known) if known else None
    roles = set().union(*(b.roles for b in buyers))
    flags = sorted({f for p in items for f in p.flags})
    if roles_service.is_ten_percent_owner_only(b.roles for b in buyers):
        flags.append("ten_percent_owner_only")
    cluster_ids = sorted({default_cluster[p.row.id] for p in items if p.row.id in default_cluster})
    return ScreenerRow(
        issuer_cik=cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        sector=issuer.sector if issuer else None,
        buyers=buyers,
        n_buyers=len(buyers),
        roles=sorted(roles, key=roles_service.ROLE_ORDER.index),
        meets_rule=any(p.row.id in in_rule for p in items),
        cluster_id=cluster_ids[-1] if cluster_ids else None,
        total_value=total_value,
        total_shares=total_shares,
        avg_price=(total_value / total_shares).quantize(PRICE_Q, ROUND_HALF_EVEN)
        if total_shares
        else Decimal(0),
        first_trade_date=min(p.row.transaction_date for p in items),
        last_trade_date=max(p.row.transaction_date for p in items),
        latest_known_at=max(p.row.known_at for p in items),
        delta_own_median=None if median is None or math.isinf(median) else median,
        delta_own_new=median is not None and math.isinf(median),
        n_purchases=len(items),
        flags=flags,
    )


def _buyer_summary(items: list[Purchase]) -> BuyerSummary:
    items = sorted(
        items, key=lambda p: (p.row.transaction_date, p.row.known_at, p.row.accession, p.row.doc_index)
    )
    shares = sum((Decimal(p.row.shares) for p in items), Decimal(0))
    # ΔOwn over the window: all shares this buyer bought ÷ what it held before its first purchase.
    ratio, new = delta_own(shares, items[0].row.shares_owned_before)
    names = dict.fromkeys(n for p in items for n in p.owner_names)
    return BuyerSummary(
        key="+".join(sorted({c for p in items for c in p.owner_ciks})),
        name=" / ".join(names),
        roles=sorted(set().union(*(p.roles for p in items)), key=roles_service.ROLE_ORDER.index),
        shares=shares,
        value=sum((Decimal(p.row.value) for p in items), Decimal(0)),
        delta_own=ratio,
        delta_own_new=new,
    )


# --- purchases (one row per purchase) -------------------------------------------------------------------

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
    """List the window's eligible purchases one by one (a "latest insider purchases" feed)."""
    now = now or datetime.now(UTC)
    window, purchases, issuers = _load(session, filters, now)
    in_rule, default_cluster = _rule_members(session, filters, purchases)
    rows = []
    for p in purchases:
        if p.row.value < filters.min_value:
            continue
        if filters.clusters_only and p.row.id not in in_rule:
            continue
        if filters.exclude_ten_percent_only and p.roles and p.roles <= {roles_service.TEN_PERCENT_OWNER}:
            continue
        rows.append(_purchase_row(p, issuers.get(p.row.issuer_cik), default_cluster))
    rows.sort(key=lambda r: r.transaction_id)
    rows.sort(key=PURCHASE_SORT_KEYS[filters.sort.value], reverse=filters.order is Order.desc)
    total = len(rows)
    start = (filters.page - 1) * filters.page_size
    return PurchasesPage(
        filters=filters,
        window=window,
        rows=rows[start : start + filters.page_size],
        total_rows=total,
        page=filters.page,
        pages=max(1, math.ceil(total / filters.page_size)),
        sectors=screener_repo.sectors(session),
    )


def _purchase_row(p: Purchase, issuer: Any, default_cluster: dict[int, str]) -> PurchaseRow:
    ratio, new = delta_own(Decimal(p.row.shares), p.row.shares_owned_before)
    return PurchaseRow(
        transaction_id=p.row.id,
        accession=p.row.accession,
        issuer_cik=p.row.issuer_cik,
        ticker=issuer.ticker if issuer else None,
        company=issuer.name if issuer else None,
        sector=issuer.sector if issuer else None,
        buyer=" / ".join(p.owner_names),
        owner_ciks=list(p.owner_ciks),
        roles=sorted(p.roles, key=roles_service.ROLE_ORDER.index),
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
        flags=p.flags,
        cluster_id=default_cluster.get(p.row.id),
    )


def csv_rows_screener(page: ScreenerPage) -> Iterable[list[Any]]:
    """Header and rows of the screener table as shown (same filters, same order, this page)."""
    yield [
        "ticker",
        "company",
        "sector",
        "buyers",
        "roles",
        "cluster",
        "total_value",
        "shares",
        "avg_price",
        "first_trade_date",
        "last_trade_date",
        "latest_filing_et",
        "delta_own_median",
        "flags",
        "issuer_cik",
    ]
    for r in page.rows:
        yield [
            r.ticker,
            r.company,
            r.sector,
            r.n_buyers,
            " ".join(r.roles),
            "yes" if r.meets_rule else "",
            r.total_value.quantize(Decimal("0.01")),
            r.total_shares,
            r.avg_price,
            r.first_trade_date,
            r.last_trade_date,
            _et(r.latest_known_at),
            "new" if r.delta_own_new else r.delta_own_median,
            " ".join(r.flags),
            r.issuer_cik,
        ]


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
            _et(r.known_at),
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


def _et(ts: datetime) -> str:
    return ts.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M")
